"""Hydra's Ray launcher (`hydra/launcher=ray`) on a local Ray: runs as Ray tasks, and what a
killed run becomes.

Ray lives in its own environment (`make ray-env`, .venv-ray): hydra-ray-launcher 1.2.2 pins
cloudpickle<3, which the main environment's submitit and joblib do not want. The sweeps run
with that environment's interpreter; the study is read back here. Without it the tests are
skipped with the reason (.ci/run builds it and requires it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

# 20-40 s each, most of it Ray's start: `make test` runs them, `make test-quick` does not.
# One xdist worker runs the cluster tests (Ray, SLURM) one after another: each wants both CPUs.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster")]

ROOT = Path(__file__).resolve().parents[1]
APP = Path(__file__).parent / "apps" / "scale" / "app.py"
# A local Ray of 2 CPUs (this machine's); no dashboard, which only adds start-up time.
RAY = ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2",
       "+hydra.launcher.ray.init.include_dashboard=false"]


def start(python: Path, tmp_path: Path, *args: str) -> subprocess.Popen:
    cmd = [str(python), str(APP), "-m", "+sweep=random", f"hydra.searchpath=[file://{ROOT / 'conf'}]",
           *RAY, *args, "hydra.sweeper.summary=false"]
    env = {**os.environ, "SCALE_OUT": str(tmp_path), "HYDRA_FULL_ERROR": "1"}
    # One stream: Hydra logs to stdout, Ray's raylet messages come on either.
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        assert proc.poll() is None, f"the sweep ended before {path.name} appeared"
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {timeout}s")


def study(tmp_path: Path) -> optuna.Study:
    db = tmp_path / "sweep" / "scale" / "sweep.db"
    return optuna.load_study(study_name="scale", storage=f"sqlite:///{db}")


def kill_run_1(python: Path, tmp_path: Path, *args: str) -> tuple[int, str]:
    """A sweep of 2-run rounds whose run 1 is SIGKILLed while it sleeps (as the OOM killer
    would); its pid and the sweep's output."""
    pid_dir = tmp_path / "pids"
    proc = start(python, tmp_path, "sleep=2.0", f"pid_dir={pid_dir}", *args)
    try:
        pid = wait_for(pid_dir / "1.pid", proc)
        os.kill(pid, signal.SIGKILL)
        err, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert pid != proc.pid  # the run was a Ray worker, not the sweep's own process
    return pid, err


def test_ray_runs_the_sweep_and_retries_a_killed_run(ray_python: Path, tmp_path: Path) -> None:
    """4 runs (2 rounds of 2) as Ray tasks; Ray reruns the killed one (its tasks' default
    max_retries is 3), so the run is COMPLETE, in a new process, and nothing is FAIL."""
    killed_pid, err = kill_run_1(ray_python, tmp_path, "rollout_count=2")
    trials = study(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4, err[-3000:]
    retried_pid = int((tmp_path / "pids" / "1.pid").read_text())
    assert retried_pid != killed_pid
    assert "will be retried" in err
    for t in trials:
        p = t.params
        assert t.value == pytest.approx(
            -((p["x"] - 0.3) ** 2) - (p["y"] + 1) ** 2 + {"a": 0, "b": 0.5, "c": 0.25}[p["opt"]]
            + 0.01)
    # Start-up of the local Ray, as the README quotes it: from ray.init to "Started".
    init = re.search(r"(\d\d:\d\d:\d\d),\d+\]\[HYDRA\] Initializing ray", err)
    started = re.search(r"(\d\d:\d\d:\d\d),\d+\s+INFO worker.py:\d+ -- Started a local Ray", err)
    if init and started:
        secs = [sum(int(x) * m for x, m in zip(s.split(":"), (3600, 60, 1)))
                for s in (init[1], started[1])]
        print(f"local Ray started in {secs[1] - secs[0]} s")


def test_ray_without_retries_records_a_killed_run_fail_like_joblib(
        ray_python: Path, tmp_path: Path) -> None:
    """+hydra.launcher.ray.remote.max_retries=0: the killed run is FAIL with the launcher's
    reason, as under joblib and submitit, and the sweep replaces it and goes on."""
    kill_run_1(ray_python, tmp_path, "rollout_count=3", "+hydra.launcher.ray.remote.max_retries=0")
    trials = study(tmp_path).trials
    killed = trials[1]
    assert killed.state.name == "FAIL"
    reason = killed.user_attrs.get("fail_reason", "")
    assert reason.startswith("launcher: ") and "interrupted" not in reason, reason
    count = Counter(t.state.name for t in trials)
    assert count["COMPLETE"] == 6 and count["RUNNING"] == 0, count
