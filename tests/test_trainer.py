"""PPO trainer in-process: batch geometry checks, GAE, learning, determinism, resume, profiles."""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from nested_sweeper.errors import SweepError, SweepWarning
from train.env import make_env
from train.main import CHECKPOINT, resolve_device, train
from train.ppo import PPO, compute_gae, resolve_sizes

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted(p.stem for p in (ROOT / "conf" / "hardware").glob("*.yaml"))


def make_cfg(*overrides: str) -> DictConfig:
    """The composed training config, as `python train.py OVERRIDES` would see it."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=["wandb=disabled", *overrides])


def trainer(**values: Any) -> DictConfig:
    base = OmegaConf.load(ROOT / "conf" / "trainer" / "ppo.yaml")
    return OmegaConf.merge(base, values)


# -- sizes ----------------------------------------------------------------------------------


def test_num_steps_is_derived_from_batch_size_and_num_envs() -> None:
    sizes = resolve_sizes(trainer(batch_size=512, minibatch_size=128, total_timesteps=1000), 32)
    assert (sizes.num_steps, sizes.num_minibatches) == (16, 4)
    assert sizes.num_iterations == 2  # 1000 steps rounded up to whole batches of 512


@pytest.mark.parametrize(
    ("values", "num_envs", "key", "fix"),
    [
        ({"batch_size": 500}, 32, "trainer.batch_size", "trainer.batch_size=384"),
        ({"batch_size": 256}, 512, "trainer.batch_size", "trainer.batch_size=512"),
        ({"batch_size": 512, "minibatch_size": 96}, 32, "trainer.minibatch_size", "=64"),
        ({"num_steps": 8, "batch_size": 512}, 32, "trainer.batch_size", "=256"),
        ({"batch_size": None, "num_steps": None}, 32, "trainer.batch_size", "=1024"),
        ({"minibatch_size": 0}, 32, "trainer.minibatch_size", None),
        ({"batch_size": "big"}, 32, "trainer.batch_size", None),
        ({"batch_size": 512.5}, 32, "trainer.batch_size", None),
        (
            {"use_lstm": True, "batch_size": 512, "minibatch_size": 24},
            32,
            "trainer.minibatch_size",
            "=16",
        ),
        (
            {"use_lstm": True, "batch_size": 512, "minibatch_size": 80},
            32,
            "trainer.minibatch_size",
            "=64",
        ),
    ],
)
def test_inconsistent_sizes_name_the_keys_and_a_valid_choice(
    values: dict[str, Any], num_envs: int, key: str, fix: str | None
) -> None:
    with pytest.raises(SweepError) as info:
        resolve_sizes(trainer(**values), num_envs)
    assert info.value.key == key
    if fix:
        assert fix in info.value.fix
    # The suggested value really is valid.
    if fix and fix.startswith("trainer.batch_size="):
        good = int(fix.split("=")[1])
        resolve_sizes(trainer(**{**values, "batch_size": good}), num_envs)


def test_minibatch_larger_than_batch_is_clamped_with_a_warning() -> None:
    with pytest.warns(SweepWarning, match="minibatch_size"):
        sizes = resolve_sizes(trainer(batch_size=256, minibatch_size=512), 32)
    assert sizes.minibatch_size == 256


@pytest.mark.parametrize("num_envs", [32, 256])
def test_every_pow2_sweep_combination_is_valid(num_envs: int) -> None:
    """The ranges the sweep files may draw from (README: batch 256..2048, minibatch 64..512)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for batch in (256, 512, 1024, 2048):
            for minibatch in (64, 128, 256):
                sizes = resolve_sizes(trainer(batch_size=batch, minibatch_size=minibatch), num_envs)
                assert sizes.num_envs * sizes.num_steps == batch


# -- GAE ------------------------------------------------------------------------------------


def test_gae_matches_a_hand_computed_case() -> None:
    gamma, lam = 0.5, 0.5
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [1.0], [0.0]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])  # the episode ends after step 1
    next_value = torch.tensor([4.0])
    adv, ret = compute_gae(rewards, values, dones, next_value, gamma, lam)
    d2 = 2.0 + gamma * 4.0 - 0.0  # bootstraps from next_value
    d1 = 0.0 - 1.0  # terminal: no bootstrap, and no advantage flows back across it
    d0 = 1.0 + gamma * 1.0 - 0.5
    expected = [d0 + gamma * lam * d1, d1, d2]
    assert adv[:, 0].tolist() == pytest.approx(expected)
    assert torch.allclose(ret, adv + values)


# -- training -------------------------------------------------------------------------------


def test_default_config_learns_clearly_better_than_random(tmp_path: Path) -> None:
    cfg = make_cfg(f"train_dir={tmp_path}", "trainer.total_timesteps=4096")
    env = make_env(cfg.env)
    eval_env = make_env(cfg.env, num_envs=int(cfg.trainer.eval_episodes))
    random_reward = PPO(cfg.trainer, env, eval_env).evaluate(random_policy=True)
    result = train(cfg, tmp_path / "run")
    assert result["cost"] == 4096
    assert result["reward"] > 2 * random_reward
    assert result["reward"] > random_reward + 2.0, (result, random_reward)


def test_same_seed_same_run_and_another_seed_differs(tmp_path: Path) -> None:
    runs = [
        train(make_cfg("trainer.total_timesteps=1024", f"trainer.seed={seed}"), tmp_path / str(i))
        for i, seed in enumerate((3, 3, 4))
    ]
    keys = ("reward", "episode_return", "cost")
    assert [runs[0][k] for k in keys] == [runs[1][k] for k in keys]
    assert (runs[0]["reward"], runs[0]["episode_return"]) != (
        runs[2]["reward"],
        runs[2]["episode_return"],
    )
    # The scalars could agree by chance; the trained weights cannot.
    weights = [saved_agent(tmp_path / str(i)) for i in range(3)]
    assert weights[0].keys() == weights[1].keys() == weights[2].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def saved_agent(run_dir: Path) -> dict[str, torch.Tensor]:
    """The model state_dict in a run directory's checkpoint."""
    saved = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
    return saved["ppo"]["agent"]


def test_resume_continues_from_the_checkpoint_exactly(tmp_path: Path) -> None:
    """A run stopped at 1024 steps and restarted for 2048 ends where one 2048-step run does."""
    common = ("trainer.evaluate_interval=1024", "trainer.checkpoint_interval=512")
    first = train(make_cfg("trainer.total_timesteps=1024", *common), tmp_path / "resumed")
    assert first["cost"] == 1024
    resumed = train(make_cfg("trainer.total_timesteps=2048", *common), tmp_path / "resumed")
    straight = train(make_cfg("trainer.total_timesteps=2048", *common), tmp_path / "straight")
    assert resumed["cost"] == straight["cost"] == 2048
    assert resumed["iterations"] == straight["iterations"] == 4
    assert resumed["reward"] == straight["reward"]
    assert resumed["episode_return"] == straight["episode_return"]


def test_finished_run_returns_its_metrics_without_training(tmp_path: Path) -> None:
    cfg = make_cfg("trainer.total_timesteps=1024")
    first = train(cfg, tmp_path)
    stamp = (tmp_path / CHECKPOINT).stat().st_mtime_ns
    again = train(cfg, tmp_path)
    assert (tmp_path / CHECKPOINT).stat().st_mtime_ns == stamp
    assert [again[k] for k in ("reward", "cost", "sps")] == [
        first[k] for k in ("reward", "cost", "sps")
    ]
    assert (tmp_path / "config.yaml").exists()


def test_checkpoint_of_another_geometry_is_refused(tmp_path: Path) -> None:
    train(make_cfg("trainer.total_timesteps=512"), tmp_path)
    with pytest.raises(SweepError, match="num_envs, num_steps"):
        train(make_cfg("trainer.total_timesteps=1024", "env.num_envs=16"), tmp_path)


def test_lstm_policy_learns_clearly_better_than_random(tmp_path: Path) -> None:
    cfg = make_cfg(
        "trainer.total_timesteps=4096", "trainer.use_lstm=true", "trainer.minibatch_size=64"
    )
    env, eval_env = make_env(cfg.env), make_env(cfg.env, num_envs=int(cfg.trainer.eval_episodes))
    random_reward = PPO(cfg.trainer, env, eval_env).evaluate(random_policy=True)
    result = train(cfg, tmp_path)
    assert result["cost"] == 4096
    # By hand: ~5.7 after 4,096 steps against a random policy's ~0.8.
    assert result["reward"] > max(2 * random_reward, random_reward + 2.0), (result, random_reward)
    # The LSTM is what ran: its weights are in the model and its state rides the checkpoint.
    assert any(key.startswith("lstm.") for key in saved_agent(tmp_path))
    saved = torch.load(tmp_path / CHECKPOINT, map_location="cpu", weights_only=True)
    assert saved["ppo"]["state"] is not None


def test_sgd_trains_and_an_unknown_optimizer_is_refused(tmp_path: Path) -> None:
    result = train(
        make_cfg("trainer.total_timesteps=1024", "trainer.optimizer=sgd"), tmp_path / "0"
    )
    assert result["cost"] == 1024 and math.isfinite(result["reward"])
    with pytest.raises(SweepError, match="optimizer"):
        train(make_cfg("trainer.total_timesteps=512", "trainer.optimizer=rmsprop"), tmp_path / "x")


class RecordingLogger:
    """Stands in for W&B: keeps what the run logged and its summary."""

    def __init__(self) -> None:
        self.logged: list[dict[str, float]] = []
        self.summarized: dict[str, float] = {}

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.logged.append(dict(metrics))

    def summary(self, metrics: dict[str, float]) -> None:
        self.summarized = dict(metrics)

    def finish(self, exit_code: int = 0) -> None:
        del exit_code


def run_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *overrides: str
) -> tuple[dict[str, float], RecordingLogger]:
    recorder = RecordingLogger()
    monkeypatch.setattr("train.main.make_logger", lambda cfg, run_dir: recorder)
    return train(make_cfg(*overrides), tmp_path), recorder


def test_run_too_short_for_an_episode_warns_once_and_hides_the_nan_return(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # 512 steps over 32 envs: 16 steps per env copy, episodes last 32.
    with caplog.at_level(logging.INFO, logger="train.main"):
        result, recorder = run_recorded(tmp_path, monkeypatch, "trainer.total_timesteps=512")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "no training episode will finish" in warned[0], warned
    for text in ("trainer.total_timesteps", "env.num_envs", "env.game.max_steps (32)", "=1024"):
        assert text in warned[0]
    assert "episode_return" not in result and "episode_return" not in recorder.summarized
    assert recorder.logged and not any("charts/episode_return" in m for m in recorder.logged)
    done = [r.getMessage() for r in caplog.records if r.getMessage().startswith("done:")]
    assert len(done) == 1 and "episode_return" not in done[0] and "nan" not in done[0]


def test_finished_episodes_are_logged_and_returned_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="train.main"):
        result, recorder = run_recorded(tmp_path, monkeypatch, "trainer.total_timesteps=1024")
    assert not caplog.records
    assert math.isfinite(result["episode_return"])
    assert recorder.summarized["episode_return"] == result["episode_return"]
    iterations = [m for m in recorder.logged if "losses/policy_loss" in m]  # not eval/reward
    assert len(iterations) == 2
    assert "charts/episode_return" not in iterations[0]  # 16 of 32 steps: none ended yet
    assert math.isfinite(iterations[1]["charts/episode_return"])


@pytest.mark.parametrize("profile", PROFILES)
def test_protein_working_finishes_episodes_under_every_profile(profile: str) -> None:
    """The sweep's fixed overrides apply after the profile; every batch it may draw must let
    each env copy play at least one whole episode, or the rewards it ranks are noise."""
    sweep = OmegaConf.load(ROOT / "conf" / "sweep" / "protein_working.yaml").sweep
    fixed = {"trainer": sweep.trainer, "env": sweep.env}
    cfg = OmegaConf.merge(make_cfg(f"+hardware={profile}"), fixed)
    batch = sweep.parameters["trainer.batch_size"]
    for batch_size in (int(batch["min"]), int(batch["max"])):
        tcfg = OmegaConf.merge(cfg.trainer, {"batch_size": batch_size, "minibatch_size": 64})
        sizes = resolve_sizes(tcfg, int(cfg.env.num_envs))
        assert sizes.num_iterations * sizes.num_steps >= int(cfg.env.game.max_steps), profile


def test_report_hook_stops_the_run_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep's stopping rule is a stand-in here: it asks to stop at the second evaluation."""
    from nested_sweeper.engine import report as _report

    seen: list[tuple[float, int]] = []

    def stop_at_second(value: float, step: int) -> bool:
        seen.append((value, step))
        return len(seen) == 2

    monkeypatch.setattr(_report, "report", stop_at_second)
    cfg = make_cfg("trainer.total_timesteps=4096", "trainer.evaluate_interval=1024")
    result = train(cfg, tmp_path)
    assert [step for _, step in seen] == [1024, 2048]
    assert result["stopped_early"] == 1.0 and result["cost"] == 2048
    assert result["reward"] == seen[-1][0]


# -- devices and profiles -------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_falls_back_to_cpu_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="train.main"):
        assert resolve_device("cuda") == torch.device("cpu")
    assert len(caplog.records) == 1 and "cuda" in caplog.records[0].getMessage()
    with pytest.raises(SweepError, match="device"):
        resolve_device("tpu")


@pytest.mark.parametrize("profile", PROFILES)
def test_hardware_profiles_compose_to_valid_sizes(profile: str) -> None:
    cfg = make_cfg(f"+hardware={profile}", "+user=example")
    sizes = resolve_sizes(cfg.trainer, int(cfg.env.num_envs))
    assert sizes.batch_size == int(cfg.trainer.batch_size)
    assert cfg.device in ("cpu", "cuda", "mps")
    assert cfg.train_dir == "train_dir"
