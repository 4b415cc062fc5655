"""Many workers, one study: concurrent sweep processes on SQLite and on a real PostgreSQL.

Three `app.py -m +sweep=grid` processes start at once on one study. Together they must finish
exactly `rollout_count × num_samples` runs (9 of the grid's 12 points), never run a grid point
twice, and write one run directory per launched trial. PostgreSQL tests need a server:
`export NESTED_SWEEPER_PG_URL=$(devops/postgres.sh start /tmp/sweeper-pg)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

APP = Path(__file__).parent / "apps" / "scale" / "app.py"
PG_URL = os.environ.get("NESTED_SWEEPER_PG_URL")
PLANNED = 3 * 3  # grid.yaml: rollout_count × num_samples
GRID_POINTS = 2 * 3 * 2


def run_workers(tmp_path: Path, n: int, *args: str, timeout: float = 240) -> list[tuple[int, str]]:
    """Start `n` sweep workers at once; (exit code, stderr) of each."""
    env = {**os.environ, "SCALE_OUT": str(tmp_path), "HYDRA_FULL_ERROR": "1"}
    cmd = [sys.executable, str(APP), "-m", *args, "hydra.sweeper.summary=false"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    try:
        errs = [p.communicate(timeout=timeout)[1] for p in procs]
        return [(p.returncode, err) for p, err in zip(procs, errs)]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def check_grid_study(storage: str, run: str, sweep_dir: Path) -> None:
    study = optuna.load_study(study_name=run, storage=storage)
    trials = study.trials
    assert not [t.number for t in trials if t.state.name == "RUNNING"]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == PLANNED
    # A trial that reached a launcher has a run directory; no grid point ran twice.
    launched = [t for t in trials if "run_dir" in t.user_attrs]
    points = [tuple(sorted(t.params.items())) for t in launched]
    assert len(points) == len(set(points)) == PLANNED < GRID_POINTS
    for t in trials:
        if t.state.name != "COMPLETE":
            assert t.state.name == "FAIL" and t.user_attrs.get("fail_reason"), t
    # One directory per launched trial, named after its number, holding its own suggestion.
    dirs = sorted(d.name for d in (sweep_dir / "runs").iterdir())
    assert dirs == sorted(f"{run}.r.{t.number}" for t in launched)
    assert len({t.user_attrs["run_dir"] for t in launched}) == PLANNED
    for t in complete:
        suggestion = (sweep_dir / "runs" / f"{run}.r.{t.number}" / "suggestion.yaml").read_text()
        assert f"trial: {t.number}\n" in suggestion
        assert t.value == pytest.approx(
            -((t.params["x"] - 0.3) ** 2) - 1 + {"a": 0.0, "b": 0.5}[t.params["opt"]]
            + 0.01 * t.params["n"])
    # The workers raced to create the study; exactly one exists.
    assert optuna.get_all_study_names(storage).count(run) == 1


def test_three_workers_on_sqlite(tmp_path: Path) -> None:
    results = run_workers(tmp_path, 3, "+sweep=grid", "sleep=0.2")
    for code, err in results:
        assert code == 0, err[-3000:]
    sweep_dir = tmp_path / "sweep" / "scale"
    check_grid_study(f"sqlite:///{sweep_dir / 'sweep.db'}", "scale", sweep_dir)


@pytest.fixture
def pg_run(pg_url: str) -> Iterator[str]:
    """A fresh study name on the PostgreSQL server, deleted afterwards."""
    run = f"w{uuid.uuid4().hex[:10]}"
    yield run
    try:
        optuna.delete_study(study_name=run, storage=PG_URL)
    except KeyError:
        pass


@pytest.mark.postgres
def test_three_workers_on_postgres(tmp_path: Path, pg_run: str) -> None:
    assert PG_URL is not None
    results = run_workers(tmp_path, 3, "+sweep=grid", "sleep=0.2", f"run={pg_run}",
                          f"hydra.sweeper.storage={PG_URL}")
    for code, err in results:
        assert code == 0, err[-3000:]
    sweep_dir = tmp_path / "sweep" / pg_run
    assert not (sweep_dir / "sweep.db").exists()  # the study lives in PostgreSQL only
    check_grid_study(PG_URL, pg_run, sweep_dir)


@pytest.mark.slow
def test_a_thousand_run_sweep_completes(tmp_path: Path) -> None:
    """Scale: 1,000 runs of the analytic objective through Hydra's basic launcher, one worker."""
    ((code, err),) = run_workers(tmp_path, 1, "+sweep=random", "rollout_count=100",
                                 "num_samples=10", timeout=1800)
    assert code == 0, err[-3000:]
    sweep_dir = tmp_path / "sweep" / "scale"
    study = optuna.load_study(study_name="scale", storage=f"sqlite:///{sweep_dir / 'sweep.db'}")
    assert [t.number for t in study.trials] == list(range(1000))
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert len(list((sweep_dir / "runs").iterdir())) == 1000
    assert {t.user_attrs["round"] for t in study.trials} == set(range(100))
    # The optimum is 0.5 + 0.01 (x=0.3, y=-1, opt=b); 1,000 uniform draws come close.
    assert 0.4 < study.best_value <= 0.51
