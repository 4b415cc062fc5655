"""Nothing a run does can break the sweep: timeouts, exits, Ctrl-C, odd return values, full
disks, read-only directories and sweep values that would leak the environment.

Every test runs a real Hydra multirun (the `hostile` test app, or the real trainer) against a
real SQLite file and reads the outcome back with Optuna and sqlite3: after any fault the
database passes `PRAGMA integrity_check`, no trial is left RUNNING once the sweep exited
normally, and a rerun reaches the planned number of COMPLETE runs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import optuna
import pytest
from ctrl_c import shell_sigint, signal_state

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "tests" / "apps" / "hostile" / "app.py"


def command(*args: str) -> list[str]:
    return [sys.executable, str(APP), "-m", *args, "hydra.sweeper.summary=false"]


def environ(out: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HOSTILE_OUT": str(out), **extra}


def sweep(out: Path, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), cwd=out, env=environ(out, **env), capture_output=True,
                          text=True, timeout=timeout)


def db_path(out: Path) -> Path:
    return out / "sweep" / "hostile" / "sweep.db"


def trials(db: Path, name: str = "hostile") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}").trials


def states(db: Path, name: str = "hostile") -> Counter[str]:
    return Counter(t.state.name for t in trials(db, name))


def assert_intact(db: Path) -> None:
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def one_line_error(stderr: str) -> str:
    """The sweep's last stderr line; no traceback before it."""
    assert "Traceback" not in stderr, stderr[-3000:]
    return stderr.strip().splitlines()[-1]


# ---------------------------------------------------------------------------- items 1-3


def test_timeout_inside_an_import_leaves_the_worker_sound(tmp_path: Path) -> None:
    """The real trainer with run_timeout=1 s: the limit fires while torch imports. Each run is
    a FAIL `timeout` (not `partially initialized module 'torch'`), the process exits with the
    failure-rate error (not a segfault), and a rerun with time to train completes."""
    args = [sys.executable, "train.py", "-m", "+sweep=protein_working", "rollout_count=1",
            f"train_dir={tmp_path}", "run=imp", "hydra.sweeper.summary=false"]
    first = subprocess.run([*args, "hydra.sweeper.run_timeout=1", "hydra.sweeper.max_failure_rate=1.0"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode in (1, 2), (first.returncode, first.stderr[-3000:])
    assert "max_failure_rate" in one_line_error(first.stderr)
    db = tmp_path / "sweep" / "imp" / "sweep.db"
    failed = trials(db, "imp")
    assert len(failed) == 2 and all(t.state.name == "FAIL" for t in failed)
    assert all("timeout after 1s" in t.user_attrs["fail_reason"] for t in failed), \
        [t.user_attrs["fail_reason"] for t in failed]
    again = subprocess.run([*args, "hydra.sweeper.run_timeout=600", "hydra.sweeper.max_failure_rate=5"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert states(db, "imp") == {"FAIL": 2, "COMPLETE": 1}
    assert_intact(db)


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_timeout_swallowed_by_the_task_is_still_a_timeout(tmp_path: Path, launcher: str) -> None:
    """The task sleeps inside `except Exception: pass` and returns 0.0: FAIL timeout."""
    proc = sweep(tmp_path, "+sweep=random", "fail=swallow", "hang_s=30",
                 "hydra.sweeper.run_timeout=2", f"hydra/launcher={launcher}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = trials(db_path(tmp_path))
    assert found[1].state.name == "FAIL"
    assert "timeout after 2s" in found[1].user_attrs["fail_reason"]
    assert states(db_path(tmp_path)) == {"COMPLETE": 4, "FAIL": 1}


@pytest.mark.parametrize(("fail", "timeout", "reason"), [
    ("exit", "null", "sys.exit(4)"),
    ("exit", "30", "sys.exit(4)"),  # in the child process of run_timeout
    ("interrupt", "null", "KeyboardInterrupt"),
])
def test_exit_or_interrupt_from_a_run_fails_that_run_only(tmp_path: Path, fail: str, timeout: str,
                                                          reason: str) -> None:
    proc = sweep(tmp_path, "+sweep=random", f"fail={fail}", f"hydra.sweeper.run_timeout={timeout}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = trials(db_path(tmp_path))
    assert found[0].state.name == "COMPLETE"  # finished before the exit: recorded
    assert found[1].state.name == "FAIL" and reason in found[1].user_attrs["fail_reason"]
    assert states(db_path(tmp_path)) == {"COMPLETE": 4, "FAIL": 1}
    assert_intact(db_path(tmp_path))


@pytest.mark.parametrize("timeout", ["null", "60"])
def test_ctrl_c_stops_with_one_line_and_resumes(tmp_path: Path, timeout: str) -> None:
    args = command("+sweep=random", "sleep=1.0", f"hydra.sweeper.run_timeout={timeout}")
    # Its own session, signalled as a group: what a terminal's Ctrl-C does.
    proc = subprocess.Popen(args, cwd=tmp_path, env=environ(tmp_path), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=shell_sigint)
    runs = tmp_path / "sweep" / "hostile" / "runs"
    deadline = time.monotonic() + 120
    while not (runs / "hostile.r.1").is_dir():
        assert proc.poll() is None and time.monotonic() < deadline, "no second run started"
        time.sleep(0.05)
    before = signal_state(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode not in (0, None), f"{err[-3000:]}\nsweep: {before}\ntest: {signal_state('self')}"
    assert "stopped by Ctrl-C" in one_line_error(err)
    assert_intact(db_path(tmp_path))
    again = sweep(tmp_path, "+sweep=random", f"hydra.sweeper.run_timeout={timeout}")
    assert again.returncode == 0, again.stderr[-3000:]
    count = states(db_path(tmp_path))
    assert count["COMPLETE"] == 4 and count["RUNNING"] == 0


CTRL_C_AT_FORK = """
import os, signal, time
from nested_sweeper.engine.run import ctrl_c_pressed, run_in_child
# The Ctrl-C lands at the worst moment: inside the parent's after-fork hooks, where Python
# only prints "Exception ignored" for the KeyboardInterrupt it raises.
os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))
try:
    run_in_child(lambda: time.sleep(30), timeout=60)
except KeyboardInterrupt:
    print("stopped", ctrl_c_pressed())
else:
    print("ran on")
"""


def test_ctrl_c_during_the_fork_stops_the_run() -> None:
    proc = subprocess.run([sys.executable, "-c", CTRL_C_AT_FORK], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.split() == ["stopped", "True"], proc.stdout + proc.stderr[-2000:]
    assert "Exception ignored" not in proc.stderr


# ---------------------------------------------------------------------------- item 4


def test_every_real_number_type_is_read(tmp_path: Path) -> None:
    """Jobs 0-6 return 10**400, np.float32(1.5), {"reward": np.float32(1.5)}, a 0-d tensor,
    Decimal("1.5"), Fraction(3, 2) and np.int64(2)."""
    proc = sweep(tmp_path, "+sweep=random", "rollout_count=4", "fail=odd")
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = trials(db_path(tmp_path))
    assert found[0].state.name == "FAIL"
    assert "not finite" in found[0].user_attrs["fail_reason"]
    assert [t.value for t in found[1:7]] == [1.5, 1.5, 1.5, 1.5, 1.5, 2.0]
    count = states(db_path(tmp_path))
    assert count == {"COMPLETE": 8, "FAIL": 1}


# ---------------------------------------------------------------------------- item 5


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs: a real filesystem that fills up (needs root and mount)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError:
            pass
    return filler


def test_full_disk_mid_sweep_is_one_line_and_recovers(small_disk: Path) -> None:
    args = ("+sweep=random", "rollout_count=10", "sleep=0.3")
    proc = subprocess.Popen(command(*args), cwd=small_disk, env=environ(small_disk),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    runs = small_disk / "sweep" / "hostile" / "runs"
    deadline = time.monotonic() + 120
    while not (runs / "hostile.r.3").is_dir():
        assert proc.poll() is None and time.monotonic() < deadline, "no fourth run started"
        time.sleep(0.02)
    filler = fill(small_disk)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (1, 2), err[-3000:]
    line = one_line_error(err)
    assert "full" in line and str(small_disk) in line, line
    filler.unlink()
    assert_intact(db_path(small_disk))
    again = sweep(small_disk, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    count = states(db_path(small_disk))
    assert count["COMPLETE"] == 20 and count["RUNNING"] == 0
    assert_intact(db_path(small_disk))


def remount(disk: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)


def test_new_sweep_in_a_read_only_directory_is_one_line(small_disk: Path) -> None:
    remount(small_disk, "ro")
    proc = sweep(small_disk, "+sweep=random")
    assert proc.returncode in (1, 2)  # a SweepError
    line = one_line_error(proc.stderr)
    assert "Read-only file system" in line and str(small_disk / "sweep") in line, line


def test_existing_sweep_on_a_read_only_mount_is_one_line(small_disk: Path) -> None:
    first = sweep(small_disk, "+sweep=random", "rollout_count=1")
    assert first.returncode == 0, first.stderr[-3000:]
    remount(small_disk, "ro")
    proc = sweep(small_disk, "+sweep=random")
    assert proc.returncode in (1, 2)  # a SweepError
    line = one_line_error(proc.stderr)
    assert "read-only" in line and str(db_path(small_disk)) in line, line
    remount(small_disk, "rw")
    assert_intact(db_path(small_disk))
    assert states(db_path(small_disk)) == {"COMPLETE": 2}


def test_explicit_sqlite_path_in_a_missing_directory_is_created(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "sweep.db"
    proc = sweep(tmp_path, "+sweep=random", "rollout_count=1", f"hydra.sweeper.storage=sqlite:///{db}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert states(db) == {"COMPLETE": 2}


# ---------------------------------------------------------------------------- items 7-8


def test_key_hydra_cannot_override_is_refused_before_any_launch(tmp_path: Path) -> None:
    """`größe` exists in the app's config, so every path check passes; Hydra's override
    grammar cannot read `größe=1` back, so the sweep must stop before the first run."""
    proc = sweep(tmp_path, "+sweep=unicode_key")
    assert proc.returncode in (1, 2)  # a SweepError
    assert "cannot be a Hydra override key" in one_line_error(proc.stderr)
    assert not (tmp_path / "sweep" / "hostile" / "runs").exists()


def test_interpolated_sweep_value_never_reaches_a_run_file(tmp_path: Path) -> None:
    secret = "fake-wandb-key-4c1d9e"
    proc = sweep(tmp_path, "+sweep=env_value", WANDB_API_KEY=secret)
    assert proc.returncode in (1, 2)  # a SweepError
    assert "interpolation" in one_line_error(proc.stderr)
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaked == []
