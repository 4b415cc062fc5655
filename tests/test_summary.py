"""The sweep summary read from real Optuna studies in temporary SQLite files."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState as OptunaState

from hydra_plugins.nested_sweeper._errors import SweepError
from hydra_plugins.nested_sweeper._summary import (
    PLOT_FILES,
    SweepReport,
    load_report,
    param_importances,
    render_table,
    summary_main,
    to_csv,
    to_json,
    write_plots,
)
from hydra_plugins.nested_sweeper._types import TrialState

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SPEC_PARAMS = {
    "trainer.learning_rate": {
        "distribution": "log_normal",
        "min": 1e-4,
        "max": 1e-2,
        "mean": 1e-3,
        "scale": 1,
    },
    "trainer.batch_size": {
        "distribution": "uniform_pow2",
        "min": 32,
        "max": 256,
        "mean": 64,
        "scale": 1,
    },
    "trainer.optimizer": {"values": ["adam", "sgd"]},
}
DISTRIBUTIONS = {
    "trainer.learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
    "trainer.batch_size": IntDistribution(32, 256),
    "trainer.optimizer": CategoricalDistribution(["adam", "sgd"]),
}

# (round, state, value, params, fail_reason): 2 rounds x 2 runs, one FAIL and one PRUNED.
RUNS: list[tuple[int, OptunaState, float | None, dict[str, Any], str | None]] = [
    (
        0,
        OptunaState.COMPLETE,
        0.25,
        {"trainer.learning_rate": 3e-3, "trainer.batch_size": 64, "trainer.optimizer": "adam"},
        None,
    ),
    (
        0,
        OptunaState.FAIL,
        None,
        {"trainer.learning_rate": 9e-3, "trainer.batch_size": 256, "trainer.optimizer": "sgd"},
        "ValueError: boom [lr too high]",
    ),
    (
        1,
        OptunaState.COMPLETE,
        0.75,
        {"trainer.learning_rate": 1e-3, "trainer.batch_size": 128, "trainer.optimizer": "sgd"},
        None,
    ),
    (
        1,
        OptunaState.PRUNED,
        0.1,
        {"trainer.learning_rate": 2e-4, "trainer.batch_size": 32, "trainer.optimizer": "adam"},
        None,
    ),
]


def make_sweep(
    train_dir: Path,
    name: str = "demo",
    *,
    goal: str = "maximize",
    runs: list[tuple[int, OptunaState, float | None, dict[str, Any], str | None]] = RUNS,
    with_configs: bool = True,
    metrics: dict[str, float] | None = None,
    spec: dict[str, Any] | None = None,
) -> Path:
    """A study laid out as the sweeper writes it (``spec`` updates the stored spec)."""
    sweep_dir = train_dir / "sweep" / name
    sweep_dir.mkdir(parents=True)
    study = optuna.create_study(
        storage=f"sqlite:///{sweep_dir / 'sweep.db'}", study_name=name, direction=goal
    )
    study.set_user_attr(
        "spec",
        {
            "file": "conf/sweep/demo.yaml",
            "method": "protein",
            "metric": "reward",
            "goal": goal,
            "rollout_count": 2,
            "num_samples": 2,
            "parameters": SPEC_PARAMS,
            "fixed": {"trainer.total_timesteps": 2048, "env.game.max_steps": 64},
            "seed": 7,
        }
        | (spec or {}),
    )
    study.set_user_attr("sweep_dir", str(sweep_dir))
    for job, (round_, state, value, params, reason) in enumerate(runs):
        run_dir = sweep_dir / "runs" / f"{name}.r.{job}"
        if with_configs:
            run_dir.mkdir(parents=True)
            (run_dir / "config.yaml").write_text("trainer: {}\n")
        attrs: dict[str, Any] = {
            "round": round_,
            "run_name": f"{name}.r.{job}",
            "run_dir": str(run_dir),
            "job_num": job,
            "metrics": metrics
            if metrics is not None
            else ({} if value is None else {"reward": value, "sps": 1000.0 + job}),
            "cost": None if value is None else 10.0 + job,
        }
        if reason:
            attrs["fail_reason"] = reason
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                value=value,
                params=params,
                distributions=DISTRIBUTIONS,
                user_attrs=attrs,
            )
        )
    return sweep_dir


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    return make_sweep(tmp_path / "train_dir")


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study written by a real sweep: the quadratic app, 3 rounds × 2 runs, every third
    job raising (so 8 trials: 6 COMPLETE, 2 FAIL). Its sweep directory."""
    out = tmp_path_factory.mktemp("real")
    app = REPO / "tests" / "apps" / "quadratic" / "app.py"
    done = subprocess.run([sys.executable, str(app), "-m", "+sweep=basic", "fail=thirds",
                           "hydra.sweeper.summary=false"], cwd=out, capture_output=True,
                          text=True, timeout=180, env={**os.environ, "QUAD_OUT": str(out / "train_dir")})
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "train_dir" / "sweep" / "quad"


def study_of(sweep_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="quad", storage=f"sqlite:///{sweep_dir / 'sweep.db'}")


def test_real_sweep_report_matches_its_study(real_sweep: Path) -> None:
    """Everything the report says, checked against the study Optuna reads back."""
    trials = study_of(real_sweep).trials
    report = load_report("quad", train_dir=str(real_sweep.parent.parent))
    assert [t.number for t in report.trials] == [t.number for t in trials]
    assert report.counts["COMPLETE"] == 6 and report.counts["FAIL"] == 2
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    best = max(complete, key=lambda t: t.value)
    assert report.best is not None and report.best.number == best.number
    rounds = {}
    for t in trials:
        rounds.setdefault(t.user_attrs["round"], []).append(t.number)
    assert {r: [t.number for t in ts] for r, ts in report.rounds.items()} == rounds
    failed = [t for t in report.trials if t.state is TrialState.FAIL]
    assert [t.number for t in failed] == [2, 5]


def test_real_sweep_json_csv_and_table_agree(real_sweep: Path) -> None:
    trials = study_of(real_sweep).trials
    best = max((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    data = to_json(load_report(str(real_sweep)))
    assert data["best"]["run_name"] == f"quad.r.{best.number}"
    assert data["best"]["value"] == best.value and data["best"]["params"] == best.params
    config = Path(data["best"]["config"])
    assert config.is_file() and f"x: {best.params['x']}" in config.read_text()
    assert data["trials"][2]["fail_reason"] == "ValueError: boom in job 2"
    rows = list(csv.DictReader(io.StringIO(to_csv(load_report(str(real_sweep))))))
    assert [r["state"] for r in rows] == [t.state.name for t in trials]
    assert [float(r["value"]) for r in rows if r["value"]] == [t.value for t in trials if t.value is not None]
    text = render_table(load_report(str(real_sweep)), width=200)
    assert f"Best run: quad.r.{best.number}" in text and "ValueError: boom in job 5" in text


def test_report_groups_rounds_and_picks_best(sweep: Path) -> None:
    report = load_report("demo", train_dir=str(sweep.parents[1]))
    assert report.name == "demo" and report.goal == "maximize" and report.metric == "reward"
    assert [t.number for t in report.trials] == [0, 1, 2, 3]
    assert {r: [t.number for t in ts] for r, ts in report.rounds.items()} == {0: [0, 1], 1: [2, 3]}
    assert report.counts == {"RUNNING": 0, "COMPLETE": 2, "FAIL": 1, "PRUNED": 1}
    # The PRUNED trial carries a value but never ranks: best is the complete 0.75 run.
    assert report.best is not None and report.best.number == 2
    assert report.round_best(0).number == 0 and report.round_best(1).number == 2
    assert report.trials[1].state is TrialState.FAIL and report.trials[1].value is None


def test_every_target_spelling_finds_the_same_study(sweep: Path) -> None:
    train_dir = str(sweep.parents[1])
    by_name = load_report("demo", train_dir=train_dir)
    by_dir = load_report(str(sweep))
    by_file = load_report(str(sweep / "sweep.db"))
    by_url = load_report("demo", storage=f"sqlite:///{sweep / 'sweep.db'}")
    for report in (by_dir, by_file, by_url):
        assert to_json(report)["trials"] == to_json(by_name)["trials"]
        assert report.sweep_dir == str(sweep)


def test_table_shows_sweep_rounds_failure_and_best_config(sweep: Path) -> None:
    text = render_table(load_report(str(sweep)), width=160)
    best_config = sweep / "runs" / "demo.r.2" / "config.yaml"
    assert f"config: {best_config}" in text  # on one unwrapped line
    assert "Best run: demo.r.2" in text and "reward = 0.75" in text
    assert "Round 1: 2 runs, best reward 0.25 (demo.r.0)" in text
    assert "Round 2: 2 runs, best reward 0.75 (demo.r.2)" in text
    assert "ValueError: boom [lr too high]" in text  # brackets are text, not rich markup
    assert "PRUNED" in text and "FAIL" in text
    assert "2 rounds × 2 runs per round = 4 runs" in text
    assert "log_normal min=0.0001 max=0.01 mean=0.001 scale=1" in text
    assert "trainer.total_timesteps" in text and "env.game.max_steps" in text
    assert "\x1b[" not in text  # no colour codes when not asked


@pytest.mark.parametrize(
    ("rounds", "planned"),
    [(1, "1 round × 1 run per round = 1 run"), (3, "3 rounds × 1 run per round = 3 runs")],
)
def test_counts_of_one_are_singular(tmp_path: Path, rounds: int, planned: str) -> None:
    spec = {"rollout_count": rounds, "num_samples": 1}
    sweep = make_sweep(tmp_path / "train_dir", runs=RUNS[:1], spec=spec)
    text = render_table(load_report(str(sweep)), width=160)
    assert planned in text
    assert "1 run (1 complete)" in text
    assert "Round 1: 1 run, best reward 0.25 (demo.r.0)" in text
    assert "1 runs" not in text and "1 rounds" not in text


def test_json_parses_with_the_best_trial(sweep: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = summary_main({"target": str(sweep), "format": "json"}, out=out, err=err)
    assert code == 0 and err.getvalue() == ""
    data = json.loads(out.getvalue())
    assert data["best"]["run_name"] == "demo.r.2" and data["best"]["value"] == 0.75
    assert data["best"]["config"] == str(sweep / "runs" / "demo.r.2" / "config.yaml")
    assert data["best"]["params"]["trainer.optimizer"] == "sgd"
    assert data["rounds"] == [
        {"round": 1, "trials": [0, 1], "best": 0},
        {"round": 2, "trials": [2, 3], "best": 2},
    ]
    assert data["trials"][1]["fail_reason"] == "ValueError: boom [lr too high]"
    assert data["spec"]["fixed"]["trainer.total_timesteps"] == 2048


def test_json_turns_nan_into_null(tmp_path: Path) -> None:
    runs = [(0, OptunaState.COMPLETE, 1.0, RUNS[0][3], None)]
    sweep = make_sweep(tmp_path, runs=runs, metrics={"reward": math.nan, "sps": math.inf})
    data = to_json(load_report(str(sweep)))
    assert data["trials"][0]["metrics"] == {"reward": None, "sps": None}
    json.dumps(data, allow_nan=False)


def test_csv_has_one_row_per_trial(sweep: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(load_report(str(sweep))))))
    assert [r["run_name"] for r in rows] == ["demo.r.0", "demo.r.1", "demo.r.2", "demo.r.3"]
    assert [r["state"] for r in rows] == ["COMPLETE", "FAIL", "COMPLETE", "PRUNED"]
    assert [r["round"] for r in rows] == ["1", "1", "2", "2"]
    assert rows[1]["value"] == "" and rows[1]["fail_reason"] == "ValueError: boom [lr too high]"
    assert float(rows[2]["value"]) == 0.75 and float(rows[2]["trainer.learning_rate"]) == 1e-3
    assert rows[2]["trainer.optimizer"] == "sgd" and float(rows[2]["sps"]) == 1002.0
    # The metric named like the study metric sits beside the params, once.
    assert list(rows[0]).count("reward") == 1


def test_minimize_picks_the_minimum(tmp_path: Path) -> None:
    sweep = make_sweep(tmp_path, goal="minimize")
    report = load_report(str(sweep))
    assert report.goal == "minimize"
    assert report.best is not None and report.best.value == 0.25 and report.best.number == 0
    assert "Best run: demo.r.0" in render_table(report, width=160)


def _png_size(path: Path) -> tuple[int, int]:
    import matplotlib.image

    image = matplotlib.image.imread(path)
    return image.shape[1], image.shape[0]


def test_plots_are_four_nonempty_pngs(sweep: Path) -> None:
    out = io.StringIO()
    assert summary_main({"target": str(sweep), "format": "json", "plots": True}, out=out) == 0
    listed = json.loads(out.getvalue())["plots"]
    assert sorted(Path(p).name for p in listed) == sorted(PLOT_FILES)
    for name in PLOT_FILES:
        path = sweep / name
        assert path.read_bytes()[:8] == PNG_MAGIC
        width, height = _png_size(path)
        assert width > 100 and height > 100
        pixels = matplotlib.image.imread(path)  # something is drawn: not a blank canvas
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50


@pytest.mark.parametrize("complete", [0, 1])
def test_plots_render_with_too_few_runs(tmp_path: Path, complete: int) -> None:
    runs = [
        (0, OptunaState.FAIL, None, RUNS[1][3], "interrupted"),
        *[(1, OptunaState.COMPLETE, 0.5, RUNS[0][3], None)] * complete,
    ]
    report = load_report(str(make_sweep(tmp_path, runs=runs)))
    assert isinstance(param_importances(report), str)  # the "not enough data" panel
    paths = write_plots(report, tmp_path / "plots")
    assert [p.name for p in paths] == list(PLOT_FILES)
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)


def test_importance_is_seeded_and_covers_varying_params(sweep: Path) -> None:
    report = load_report(str(sweep))
    first, again = param_importances(report), param_importances(report)
    assert isinstance(first, dict) and first == again
    assert set(first) == set(SPEC_PARAMS) and math.isclose(sum(first.values()), 1.0)


def test_missing_sweep_lists_the_sweeps_found(tmp_path: Path) -> None:
    make_sweep(tmp_path / "train_dir", "alpha")
    make_sweep(tmp_path / "train_dir", "beta", with_configs=False)
    with pytest.raises(SweepError) as caught:
        load_report("gamma", train_dir=str(tmp_path / "train_dir"))
    assert caught.value.fix is not None and "alpha, beta" in caught.value.fix
    err = io.StringIO()
    args = {"target": "gamma", "train_dir": str(tmp_path / "train_dir")}
    assert summary_main(args, out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1 and "alpha, beta" in err.getvalue()


def test_unusable_databases_are_sweep_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SweepError, match="no study database"):
        load_report(str(tmp_path / "empty"))
    foreign = tmp_path / "other.db"
    foreign.write_bytes(b"")  # an empty SQLite file, no Optuna tables
    with pytest.raises(SweepError, match="not an Optuna study database"):
        load_report(str(foreign))
    assert foreign.stat().st_size == 0  # and reading it created none
    sweep = make_sweep(tmp_path / "t")
    with pytest.raises(SweepError, match="pass --study with one of: demo"):
        load_report(str(sweep), study_name="nope")


def test_report_without_spec_or_trials(tmp_path: Path) -> None:
    db = tmp_path / "sweep.db"
    optuna.create_study(storage=f"sqlite:///{db}", study_name="bare")
    report = load_report(str(db))
    assert isinstance(report, SweepReport) and report.trials == [] and report.best is None
    assert report.sweep_dir == str(tmp_path)
    assert "Best run: none yet" in render_table(report, width=120)
    assert to_csv(report).strip() == "number,round,run_name,state,value,fail_reason,run_dir"


def summarize_script(*args: str, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """The JSON that devops/summarize_sweep.sh prints for ``args``."""
    done = subprocess.run(["bash", str(REPO / "devops" / "summarize_sweep.sh"), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_devops_script_prints_json(real_sweep: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    out = summarize_script("quad", "--format", "json", "--train-dir", str(real_sweep.parents[1]),
                           cwd=REPO, env=env)
    assert out["best"]["run_name"] == f"quad.r.{study_of(real_sweep).best_trial.number}"


def test_devops_script_works_from_another_directory(sweep: Path) -> None:
    """No PYTHON: the script finds the repo's interpreter itself, and NAME is looked up in the
    caller's train_dir/ (here the fixture's, two levels above the sweep directory)."""
    if not (REPO / ".venv" / "bin" / "python").exists():
        pytest.skip("needs the repo's .venv (make test creates it)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH")}
    out = summarize_script("demo", "--format", "json", cwd=sweep.parents[2], env=env)
    assert out["best"]["run_name"] == "demo.r.2"
