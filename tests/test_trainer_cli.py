"""`python train.py` as a user (or `wandb agent`) runs it: smoke run, agent arguments, kill and
resume, the missing-user message. Subprocesses of the real entry point (cleanrl style)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from train.argv import agent_args_to_overrides, missing_user_file

ROOT = Path(__file__).resolve().parents[1]


def run_train(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "WANDB_MODE": "disabled"},
    )


def done_metrics(output: str) -> dict[str, float]:
    """The metrics of the `done: k=v ...` line that a finished run logs."""
    line = re.findall(r"done: (.*)", output)[-1]
    return {k: float(v) for k, v in (item.split("=") for item in line.split())}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--trainer.learning_rate=0.01"], ["trainer.learning_rate=0.01"]),
        (["--run=x", "env.num_envs=8"], ["run=x", "env.num_envs=8"]),
        (["--trainer.note=a=b c"], ["trainer.note=a=b c"]),
        (["--config-name=train", "--multirun", "-m"], ["--config-name=train", "--multirun", "-m"]),
        (["--cfg", "job", "--help"], ["--cfg", "job", "--help"]),
        (["+hardware=cpu", "--=x"], ["+hardware=cpu", "--=x"]),
        # argparse's space-separated spelling; negative numbers are values, options are not.
        (["--trainer.learning_rate", "1e-4", "-m"], ["trainer.learning_rate=1e-4", "-m"]),
        (["--trainer.gamma", "-0.5", "--run", "x"], ["trainer.gamma=-0.5", "--run", "x"]),
        (["--trainer.gamma", "--multirun"], ["--trainer.gamma", "--multirun"]),
        (["--config-name", "train", "--info", "plugins"], ["--config-name", "train", "--info", "plugins"]),
    ],
)
def test_wandb_agent_arguments_become_overrides(argv: list[str], expected: list[str]) -> None:
    assert agent_args_to_overrides(argv) == expected


def test_agent_form_run_trains_with_those_values(tmp_path: Path) -> None:
    """W&B's default agent command line (`--key=value`) mixed with plain overrides."""
    proc = run_train(
        "--trainer.learning_rate=0.01",
        "--trainer.total_timesteps=1024",
        "--run=agent-run",
        f"train_dir={tmp_path}",
        "+hardware=cpu",
        "trainer.batch_size=1024",
        "trainer.minibatch_size=512",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "agent-run"
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["trainer"]["learning_rate"] == 0.01
    assert saved["env"]["num_envs"] == 256  # from +hardware=cpu
    assert (run_dir / "checkpoint.pt").exists() and (run_dir / ".hydra").is_dir()
    metrics = done_metrics(proc.stdout + proc.stderr)
    assert metrics["cost"] == 1024 and set(metrics) >= {"reward", "cost", "runtime", "sps"}


def test_space_separated_arguments_train_with_those_values(tmp_path: Path) -> None:
    """The hierarchical-sweep guide's `python train.py --trainer.learning_rate 1e-4`."""
    proc = run_train(
        "--trainer.learning_rate", "1e-4",
        "--trainer.total_timesteps", "1024",
        "--run=spaced",
        f"train_dir={tmp_path}",
        "+hardware=cpu",
        "trainer.batch_size=1024",
        "trainer.minibatch_size=512",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = yaml.safe_load((tmp_path / "spaced" / "config.yaml").read_text())
    assert saved["trainer"]["learning_rate"] == 1e-4
    assert saved["trainer"]["total_timesteps"] == 1024


def test_killed_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    total = 131072  # 16 iterations of 8192 steps at the cpu profile, about a second
    args = (
        f"hydra.run.dir={tmp_path}",
        "+hardware=cpu",
        f"trainer.total_timesteps={total}",
        "trainer.checkpoint_interval=8192",
        "trainer.evaluate_interval=65536",
    )
    checkpoint = tmp_path / "checkpoint.pt"
    proc = subprocess.Popen(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "WANDB_MODE": "disabled"},
    )
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    saved = torch.load(checkpoint, weights_only=True)
    killed_at = saved["ppo"]["global_step"]
    assert 0 < killed_at < total and not saved["progress"]["finished"]

    again = run_train(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    output = again.stdout + again.stderr
    resumed_at = int(re.search(r"resumed from .* at step (\d+)", output).group(1))
    assert resumed_at >= killed_at  # a later checkpoint may have landed before the kill
    metrics = done_metrics(output)
    assert metrics["cost"] == total
    assert metrics["iterations"] == total // 8192
    # The restarted process trained only what was left, not the whole run again.
    assert re.search(r"trained steps (\d+)\.\.(\d+)", output).groups() == (
        str(resumed_at),
        str(total),
    )


def test_missing_user_file_says_how_to_create_it() -> None:
    assert missing_user_file(["+user=example"], ROOT / "conf") is None
    proc = run_train("+user=no_such_person")
    assert proc.returncode != 0
    assert "cp conf/user/example.yaml conf/user/no_such_person.yaml" in proc.stderr
