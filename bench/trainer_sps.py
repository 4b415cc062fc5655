"""Steps per second of the trainer at a hardware profile: env alone, rollout, full training.

    .venv/bin/python bench/trainer_sps.py                 # cpu profile (and cuda if present)
    .venv/bin/python bench/trainer_sps.py --profiles cpu --seconds 5 --repeats 3

Each figure is the best of ``--repeats`` timed windows of about ``--seconds`` each, after a
warm-up, at the profile's sizes (composed by Hydra from ``conf/train.yaml`` +hardware=NAME):

- env: the gridworld stepped with pre-drawn random actions (no policy);
- rollout: env + policy forward + Gumbel-max sampling into the buffers (``PPO.collect``);
- train: whole PPO iterations (collect, GAE, update epochs), without evaluations,
  checkpoints and logging;
- run: ``train.main.train`` end to end for 16 iterations in a temporary run directory (W&B
  disabled, the profile's evaluation and checkpoint intervals): the ``sps`` a run returns.

The machine line (CPU model, cores, load average) is printed with the figures: on a shared
machine read them together.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import describe  # bench/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]


def compose(profile: str, overrides: list[str]) -> Any:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose("train", overrides=[f"+hardware={profile}", *overrides])


def timed(step: Any, steps_per_call: int, seconds: float, repeats: int) -> float:
    """Best steps/s over ``repeats`` windows of about ``seconds`` each."""
    step()  # warm-up: allocations, first-call dispatch
    best = 0.0
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            step()
            calls += 1
        best = max(best, calls * steps_per_call / elapsed)
    return best


def bench_profile(profile: str, seconds: float, repeats: int) -> dict[str, Any]:
    import torch

    from train.env import NUM_ACTIONS, make_env
    from train.main import resolve_device
    from train.ppo import PPO

    cfg = compose(profile, ["wandb=disabled"])
    torch.set_num_threads(int(cfg.torch_threads))
    device = resolve_device(str(cfg.device))
    env = make_env(cfg.env, device=device, seed=0)
    eval_env = make_env(cfg.env, num_envs=int(cfg.trainer.eval_episodes), device=device)
    ppo = PPO(cfg.trainer, env, eval_env)
    n = env.num_envs
    actions = torch.randint(0, NUM_ACTIONS, (64, n), device=device)

    def env_steps() -> None:
        for a in actions:
            env.step(a)

    def sync(fn: Any) -> Any:
        def run() -> None:
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()

        return run

    sizes = ppo.sizes
    run_cfg = compose(
        profile, ["wandb=disabled", f"trainer.total_timesteps={16 * sizes.batch_size}"]
    )
    return {
        "profile": profile,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "num_envs": n,
        "batch": sizes.batch_size,
        "minibatch": sizes.minibatch_size,
        "epochs": int(cfg.trainer.update_epochs),
        "env": timed(sync(env_steps), 64 * n, seconds, repeats),
        "rollout": timed(sync(ppo.collect), sizes.batch_size, seconds, repeats),
        "train": timed(sync(ppo.iterate), sizes.batch_size, seconds, repeats),
        "run": max(end_to_end(run_cfg) for _ in range(repeats)),
    }


def end_to_end(cfg: Any) -> float:
    from train.main import train

    with tempfile.TemporaryDirectory() as run_dir:
        return train(cfg, run_dir)["sps"]


def machine() -> str:
    import torch

    return f"{describe()}, torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", default=None, help="comma-separated (default: cpu[,cuda])")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one timed window")
    parser.add_argument("--repeats", type=int, default=3, help="windows per figure (best kept)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # `python bench/trainer_sps.py` without an installed package
    import torch

    profiles = args.profiles.split(",") if args.profiles else ["cpu"]
    if args.profiles is None and torch.cuda.is_available():
        profiles.append("cuda")
    print(f"machine: {machine()}")
    header = f"{'profile':9} {'device':6} {'thr':>3} {'envs':>5} {'batch':>7} {'mb':>6} {'ep':>2}"
    print(f"{header} {'env SPS':>11} {'rollout SPS':>11} {'train SPS':>11} {'run SPS':>11}")
    for profile in profiles:
        r = bench_profile(profile, args.seconds, args.repeats)
        print(
            f"{r['profile']:9} {r['device']:6} {r['threads']:>3} {r['num_envs']:>5} "
            f"{r['batch']:>7} {r['minibatch']:>6} {r['epochs']:>2} "
            f"{r['env']:>11,.0f} {r['rollout']:>11,.0f} {r['train']:>11,.0f} {r['run']:>11,.0f}"
        )


if __name__ == "__main__":
    main()
