"""Faults survived, nothing lost: killed workers, killed runs, hung runs, garbage results, races.

Every test runs the real sweeper on the `scale` test app against a real SQLite file (and the
PostgreSQL server when `NESTED_SWEEPER_PG_URL` is set) and reads the outcome back with Optuna.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import optuna
import pytest

APP = Path(__file__).parent / "apps" / "scale" / "app.py"


def command(*args: str) -> list[str]:
    return [sys.executable, str(APP), "-m", *args, "hydra.sweeper.summary=false"]


def environ(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SCALE_OUT": str(tmp_path), "HYDRA_FULL_ERROR": "1"}


def sweep(tmp_path: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), cwd=tmp_path, env=environ(tmp_path),
                          capture_output=True, text=True, timeout=timeout)


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(command(*args), cwd=tmp_path, env=environ(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sweep" / "scale" / "sweep.db"


def load(tmp_path: Path) -> optuna.Study:
    return optuna.load_study(study_name="scale", storage=f"sqlite:///{db_path(tmp_path)}")


def states(study: optuna.Study) -> Counter[str]:
    return Counter(t.state.name for t in study.trials)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        assert proc.poll() is None, f"the sweep ended before {path.name} appeared"
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {timeout}s")


# ---------------------------------------------------------------------------- killed workers


def run_count(tmp_path: Path) -> int:
    runs = tmp_path / "sweep" / "scale" / "runs"
    return len(list(runs.iterdir())) if runs.is_dir() else 0


def kill_at_random_moment(tmp_path: Path, args: tuple[str, ...], rng: random.Random,
                          mid_round: bool) -> int:
    """Start a worker and SIGKILL it: during start-up, or once it has started a new run.
    Its exit code: -SIGKILL, or 0 when it finished the sweep before the kill came."""
    before = run_count(tmp_path)
    proc = start(tmp_path, *args)
    try:
        if mid_round:
            deadline = time.monotonic() + 120
            while run_count(tmp_path) == before and proc.poll() is None:
                assert time.monotonic() < deadline, "the worker started no run in 120s"
                time.sleep(0.02)
        proc.wait(timeout=rng.uniform(0.0, 0.6) if mid_round else rng.uniform(0.05, 2.5))
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode in (0, -signal.SIGKILL), err[-3000:]
    return proc.returncode


def test_sigkill_loop_ends_with_exactly_the_planned_runs(tmp_path: Path) -> None:
    """Kill the worker 10 times at random moments: 3 in start-up (opening or creating the
    study), 7 in the middle of a round (trials created, runs under way); then finish it."""
    planned = 10 * 2
    args = ("+sweep=random", "rollout_count=10", "sleep=0.2")
    rng = random.Random(0)
    codes = [kill_at_random_moment(tmp_path, args, rng, mid_round=i >= 3) for i in range(10)]
    print("exit codes of the killed workers:", codes)
    assert codes.count(-signal.SIGKILL) >= 8, codes
    done = sweep(tmp_path, *args)
    assert done.returncode == 0, done.stderr[-3000:]

    with closing(sqlite3.connect(db_path(tmp_path))) as con:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    study = load(tmp_path)
    count = states(study)
    assert count["COMPLETE"] == planned and count["RUNNING"] == 0
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(len(numbers)))
    interrupted = [t for t in study.trials if t.state.name == "FAIL"]
    assert interrupted, "10 kills and not one interrupted run: the kills missed the sweep"
    assert all(t.user_attrs.get("fail_reason") == "interrupted" for t in interrupted)
    runs = tmp_path / "sweep" / "scale" / "runs"
    for t in study.trials:
        if t.state.name == "COMPLETE":
            assert (runs / f"scale.r.{t.number}" / "suggestion.yaml").is_file()
    # Nothing ran twice: every run directory belongs to one trial.
    assert {d.name for d in runs.iterdir()} <= {f"scale.r.{n}" for n in numbers}


def _open_study(url: str, name: str, barrier: Any, queue: Any) -> None:
    from nested_sweeper.engine.study import Study

    barrier.wait()
    try:
        study = Study(url, name, goal="maximize", spec={"parameters": {}, "goal": "maximize"},
                      space={})
        queue.put(("ok", study.study._study_id))
        study.close()
    except BaseException as err:  # reported to the parent, which fails the test
        queue.put(("error", f"{type(err).__name__}: {err}"))


def open_at_once(url: str, name: str, n: int = 3) -> list[tuple[str, Any]]:
    ctx = multiprocessing.get_context("fork")  # optuna already imported: all start at once
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_open_study, args=(url, name, barrier, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


def test_workers_starting_at_once_create_one_sqlite_study(tmp_path: Path) -> None:
    for i in range(4):  # a new database file each time: the tables are created in the race too
        url = f"sqlite:///{tmp_path / f'race{i}.db'}"
        results = open_at_once(url, "race")
        assert [r[0] for r in results] == ["ok"] * 3, "\n".join(map(str, results))
        assert len({r[1] for r in results}) == 1
        assert optuna.get_all_study_names(url) == ["race"]


@pytest.fixture
def fresh_pg_database(pg_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server, dropped afterwards."""
    import sqlalchemy

    server = sqlalchemy.make_url(pg_url)
    name = f"race_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as con:
            con.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.ProgrammingError as err:
        admin.dispose()
        pytest.skip(f"the PostgreSQL user may not create databases: {err}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as con:
            con.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_workers_starting_at_once_create_one_postgres_study(fresh_pg_database: str) -> None:
    for i in range(3):  # the first race also creates the tables of the new database
        results = open_at_once(fresh_pg_database, f"race{i}")
        assert [r[0] for r in results] == ["ok"] * 3, "\n".join(map(str, results))
        assert len({r[1] for r in results}) == 1
        assert optuna.get_all_study_names(fresh_pg_database) == [f"race{j}" for j in range(i + 1)]


# ---------------------------------------------------------------------------- faulty runs


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_run_killed_from_outside_fails_and_the_sweep_goes_on(tmp_path: Path, launcher: str) -> None:
    pid_dir = tmp_path / "pids"
    # 3 rounds × 2 runs: room under max_failure_rate (0.5 × 6) for a launcher that loses the
    # killed run's whole batch (joblib's pool breaks, submitit's results() raises).
    args = ["+sweep=random", "rollout_count=3", "sleep=1.0", f"pid_dir={pid_dir}",
            f"hydra/launcher={launcher}"]
    if launcher == "joblib":
        args.append("hydra.launcher.n_jobs=2")
    proc = start(tmp_path, *args)
    try:
        pid = int(wait_for(pid_dir / "1.pid", proc))
        os.kill(pid, signal.SIGKILL)  # as the OOM killer or scancel would
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    study = load(tmp_path)
    killed = study.trials[1]
    assert killed.state.name == "FAIL"
    reason = killed.user_attrs.get("fail_reason")
    assert reason and reason != "interrupted", reason
    count = states(study)
    assert count["COMPLETE"] == 6 and count["RUNNING"] == 0


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_run_past_timeout_fails_and_the_sweep_goes_on(tmp_path: Path, launcher: str) -> None:
    args = ["+sweep=random", "rollout_count=2", "fail=hang", "fail_job=1", "hang_s=60",
            "hydra.sweeper.run_timeout=2", f"hydra/launcher={launcher}"]
    if launcher == "joblib":
        args.append("hydra.launcher.n_jobs=2")
    proc = sweep(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(tmp_path)
    hung = study.trials[1]
    assert hung.state.name == "FAIL"
    assert "timeout after 2s" in hung.user_attrs["fail_reason"]
    count = states(study)
    assert count["COMPLETE"] == 4 and count["FAIL"] == 1


def test_garbage_results_fail_with_their_reason_and_the_sweep_goes_on(tmp_path: Path) -> None:
    # Jobs 0-5 return a string, None, NaN, a mapping without `reward`, a list, or raise.
    proc = sweep(tmp_path, "+sweep=random", "rollout_count=8", "fail=mixed")
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(tmp_path)
    reasons = {t.number: t.user_attrs.get("fail_reason", "") for t in study.trials}
    expected = ["'garbage'", "None", "is nan", "no number 'reward'", "list",
                "ValueError: boom in job 5"]
    for number, text in enumerate(expected):
        assert study.trials[number].state.name == "FAIL"
        assert text in reasons[number], (number, reasons[number])
    count = states(study)
    assert count == {"COMPLETE": 16, "FAIL": 6}
    assert all(t.state.name == "COMPLETE" for t in study.trials[6:])
