"""The task function: one training run in one run directory, returning its metrics.

``main(cfg)`` is what ``train.py`` (and so the sweeper, through Hydra) calls; ``train(cfg,
run_dir)`` is the same run without Hydra, for tests and benchmarks. The run directory holds
the resolved ``config.yaml``, ``checkpoint.pt`` (every ``trainer.checkpoint_interval`` env
steps and at the end) and the W&B run. A run started again in the same directory continues
from its checkpoint, and a finished one returns its saved metrics without training again.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from nested_sweeper.errors import SweepError
from train.env import make_env
from train.logger import Logger, make_logger
from train.ppo import PPO, derive_num_envs

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


def main(cfg: DictConfig) -> dict[str, float]:
    """Hydra task function: train in Hydra's output directory."""
    from hydra.core.hydra_config import HydraConfig

    return train(cfg, Path(HydraConfig.get().runtime.output_dir))


def train(cfg: DictConfig, run_dir: Path | str) -> dict[str, float]:
    """Train once with ``cfg`` in ``run_dir``.

    Returns:
        Floats: ``reward`` (mean episode reward of the final evaluation), ``cost`` (env
        steps trained), ``runtime`` (training seconds, over restarts), ``sps`` (env steps per
        second of the last training session), ``best_reward``, ``episode_return`` (last training
        episodes; left out until one has ended), ``iterations`` and ``stopped_early`` (1.0 when
        the sweep stopped the run).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.trainer.seed = run_seed(cfg.trainer.get("seed"))  # config.yaml records the seed used
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    if cfg.get("torch_threads") is not None:
        torch.set_num_threads(int(cfg.torch_threads))
    device = resolve_device(str(cfg.get("device", "cpu")))
    logger = make_logger(cfg, run_dir)
    try:
        result = _run(cfg, run_dir, device, logger)
    except BaseException:
        logger.finish(exit_code=1)
        raise
    logger.summary(result)
    logger.finish(exit_code=0)
    log.info("done: %s", " ".join(f"{k}={v:.6g}" for k, v in result.items()))
    return result


def resolve_device(name: str) -> torch.device:
    """``cuda``/``mps`` when asked for and present, else CPU with a one-line warning.

    ``auto`` picks cuda, then mps, then cpu, without a warning.
    """
    name = name.lower()
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name.startswith("cuda") or name == "mps":
        present = cuda if name.startswith("cuda") else mps
        if present:
            return torch.device(name)
        log.warning("device=%s is not available on this machine; training on cpu", name)
        return torch.device("cpu")
    if name != "cpu":
        raise SweepError(f"unknown device {name!r}", key="device", fix="use cpu, cuda, mps or auto")
    return torch.device("cpu")


class _Progress:
    """What the loop carries between iterations and through checkpoints."""

    def __init__(self) -> None:
        self.runtime = 0.0
        self.sps = 0.0
        self.last_eval_step = -1
        self.reward = float("nan")
        self.best_reward = float("-inf")
        self.stopped_early = False
        self.finished = False

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def load(self, saved: dict[str, Any]) -> None:
        for key, value in saved.items():
            setattr(self, key, value)


def _run(cfg: DictConfig, run_dir: Path, device: torch.device, logger: Logger) -> dict[str, float]:
    tcfg = cfg.trainer
    if int(tcfg.get("num_workers", 1)) != 1:
        log.warning(
            "trainer.num_workers=%s: the tensor env runs in-process; using 1", tcfg.num_workers
        )
    seed = int(tcfg.seed)
    num_envs = derive_num_envs(tcfg, int(cfg.env.num_envs))
    if num_envs != int(cfg.env.num_envs):
        log.info("env.num_envs=%d (batch_size %s / num_steps %s) instead of %s",
                 num_envs, tcfg.batch_size, tcfg.num_steps, cfg.env.num_envs)
    env = make_env(cfg.env, num_envs=num_envs, device=device, seed=seed)
    eval_env = make_env(cfg.env, num_envs=int(tcfg.eval_episodes), device=device, seed=seed)
    ppo = PPO(tcfg, env, eval_env)
    _warn_if_no_episode_ends(ppo, int(env.game.max_steps))
    progress = _Progress()
    _resume(ppo, progress, run_dir / CHECKPOINT)
    total = ppo.sizes.num_iterations * ppo.sizes.batch_size
    if progress.finished and ppo.global_step >= total or progress.stopped_early:
        log.info("run already finished at step %d; returning its metrics", ppo.global_step)
        return _metrics(ppo, progress)

    eval_every = int(tcfg.get("evaluate_interval") or 0)
    ckpt_every = int(tcfg.get("checkpoint_interval") or 0)
    start_step, start = ppo.global_step, time.perf_counter()
    session_start_runtime = progress.runtime
    while ppo.global_step < total and not progress.stopped_early:
        before = ppo.global_step
        stats = ppo.iterate()
        progress.runtime = session_start_runtime + time.perf_counter() - start
        sps = (ppo.global_step - start_step) / max(time.perf_counter() - start, 1e-9)
        logger.log(
            _finite_return({k: float(v) for k, v in stats.items()}) | {"charts/SPS": sps},
            ppo.global_step,
        )
        if _crossed(before, ppo.global_step, eval_every):
            _evaluate(ppo, progress, logger, total)
        if _crossed(before, ppo.global_step, ckpt_every):
            _save(ppo, progress, run_dir / CHECKPOINT)

    if progress.last_eval_step != ppo.global_step:
        _evaluate(ppo, progress, logger, total)
    elapsed = time.perf_counter() - start
    log.info("trained steps %d..%d in %.2f s", start_step, ppo.global_step, elapsed)
    progress.runtime = session_start_runtime + elapsed
    progress.sps = (ppo.global_step - start_step) / max(elapsed, 1e-9)
    progress.finished = True
    _save(ppo, progress, run_dir / CHECKPOINT)
    return _metrics(ppo, progress)


def run_seed(seed: Any) -> int:
    """``trainer.seed``, or with ``seed: null`` the sweep's job number (0 outside a sweep), so
    repeated runs of one setting differ: the spread between them is the noise a sweep sees."""
    if seed is not None:
        return int(seed)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized() and HydraConfig.get().mode.name == "MULTIRUN":
        return int(HydraConfig.get().job.num)
    return 0


def _warn_if_no_episode_ends(ppo: PPO, max_steps: int) -> None:
    """Warn when each env copy steps fewer than ``max_steps`` times in the whole run.

    Episodes all last ``max_steps``, so such a run never sees one end: ``episode_return``
    stays unknown and the value targets never see a terminal, which makes a sweep rank noise.
    """
    sizes = ppo.sizes
    per_env = sizes.num_iterations * sizes.num_steps  # total_timesteps (rounded up) // num_envs
    if per_env >= max_steps:
        return
    # A power of two keeps the suggested num_envs dividing the (power-of-two) batch sizes.
    envs = 1 << (max(1, sizes.num_iterations * sizes.batch_size // max_steps).bit_length() - 1)
    log.warning(
        "no training episode will finish: trainer.total_timesteps // env.num_envs = %d steps "
        "per env copy < env.game.max_steps (%d); use trainer.total_timesteps=%d or more, "
        "env.num_envs=%d or fewer, or env.game.max_steps=%d or fewer",
        per_env,
        max_steps,
        max_steps * sizes.num_envs,
        envs,
        per_env,
    )


def _finite_return(metrics: dict[str, float]) -> dict[str, float]:
    """``metrics`` without ``episode_return`` while it is NaN (no training episode ended yet).

    A NaN would read as a real value in W&B charts, the sweep's results and the summary.
    """
    return {
        k: v for k, v in metrics.items() if not (k.endswith("episode_return") and math.isnan(v))
    }


def _crossed(before: int, after: int, every: int) -> bool:
    """Whether ``after`` passed a multiple of ``every`` that ``before`` had not."""
    return every > 0 and after // every > before // every


def _evaluate(ppo: PPO, progress: _Progress, logger: Logger, total: int) -> None:
    from nested_sweeper import report

    reward = ppo.evaluate()
    progress.reward, progress.last_eval_step = reward, ppo.global_step
    progress.best_reward = max(progress.best_reward, reward)
    logger.log({"eval/reward": reward}, ppo.global_step)
    log.info("step %d/%d: eval reward %.3f", ppo.global_step, total, reward)
    if report(value=reward, step=ppo.global_step):
        log.info("the sweep stopped this run early at step %d", ppo.global_step)
        progress.stopped_early = True


def _metrics(ppo: PPO, progress: _Progress) -> dict[str, float]:
    return _finite_return(
        {
            "reward": float(progress.reward),
            "cost": float(ppo.global_step),
            "runtime": float(progress.runtime),
            "sps": float(progress.sps),
            "best_reward": float(progress.best_reward),
            "episode_return": float(ppo.last_return),
            "iterations": float(ppo.iteration),
            "stopped_early": 1.0 if progress.stopped_early else 0.0,
        }
    )


# -- TRY NOT TO MODIFY: checkpoints ------------------------------------------------------


def _save(ppo: PPO, progress: _Progress, path: Path) -> None:
    # Write then rename: a run killed mid-write keeps its previous checkpoint.
    tmp = path.with_suffix(".tmp")
    torch.save({"ppo": ppo.state_dict(), "progress": progress.to_dict()}, tmp)
    os.replace(tmp, path)


def _resume(ppo: PPO, progress: _Progress, path: Path) -> None:
    if not path.exists():
        return
    saved = torch.load(path, map_location="cpu", weights_only=True)
    ppo.load_state_dict(saved["ppo"])
    progress.load(saved["progress"])
    log.info("resumed from %s at step %d", path, ppo.global_step)
