"""The sweep summary, read from studies that real sweeps wrote (the quadratic test app)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import optuna
import pytest

from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialState
from nested_sweeper.summary import (
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

REPO = Path(__file__).resolve().parents[1]
QUAD = REPO / "tests" / "apps" / "quadratic" / "app.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_sweep(train_dir: Path, name: str, *overrides: str, rc: int = 0) -> Path:
    """``+sweep=summary`` of the quadratic app as a user runs it; its sweep directory."""
    done = subprocess.run([sys.executable, str(QUAD), "-m", "+sweep=summary", f"run={name}",
                           "hydra.sweeper.summary=false", *overrides],
                          cwd=train_dir.parent, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "QUAD_OUT": str(train_dir)})
    assert done.returncode == rc, done.stderr[-3000:]
    return train_dir / "sweep" / name


def study_of(sweep_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=sweep_dir.name,
                             storage=f"sqlite:///{sweep_dir / 'sweep.db'}")


def best_of(study: optuna.Study, goal: str = "maximize") -> optuna.trial.FrozenTrial:
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    pick = max if goal == "maximize" else min
    return pick(complete, key=lambda t: t.value)


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One train_dir for every sweep of this module, as a user's would be."""
    return tmp_path_factory.mktemp("summary") / "train_dir"


@pytest.fixture(scope="module")
def sweep(train_dir: Path) -> Path:
    """3 rounds × 2 runs, every third job raising: COMPLETE, FAIL (replaced within its round)
    and PRUNED (hyperband) runs, all three asserted so the tests below see each of them."""
    sweep_dir = run_sweep(train_dir, "demo", "fail=thirds")
    assert {"COMPLETE", "FAIL", "PRUNED"} <= {t.state.name for t in study_of(sweep_dir).trials}
    return sweep_dir


@pytest.fixture(scope="module")
def one_run(train_dir: Path) -> Path:
    return run_sweep(train_dir, "one", "rollout_count=1", "num_samples=1")


def test_report_matches_the_study(sweep: Path) -> None:
    """Everything the report says, checked against the study Optuna reads back."""
    study = study_of(sweep)
    report = load_report("demo", train_dir=str(sweep.parents[1]))
    assert (report.name, report.goal, report.metric) == ("demo", "maximize", "reward")
    assert [t.number for t in report.trials] == [t.number for t in study.trials]
    rounds: dict[int, list[int]] = {}
    for t in study.trials:
        rounds.setdefault(t.user_attrs["round"], []).append(t.number)
    assert {r: [t.number for t in ts] for r, ts in report.rounds.items()} == rounds
    assert report.counts == {"RUNNING": 0, **Counter(t.state.name for t in study.trials)}
    # A PRUNED trial keeps its last reported value, but only COMPLETE ones rank.
    assert all(t.value is not None for t in report.trials if t.state is TrialState.PRUNED)
    assert report.best is not None and report.best.number == best_of(study).number
    for round_, numbers in rounds.items():
        complete = [t for t in study.trials if t.number in numbers and t.state.name == "COMPLETE"]
        best = report.round_best(round_)
        expected = max(complete, key=lambda t: t.value).number if complete else None
        assert (best.number if best else None) == expected, round_
    assert all(t.value is None for t in report.trials if t.state is TrialState.FAIL)


def test_every_target_spelling_finds_the_same_study(sweep: Path) -> None:
    by_name = load_report("demo", train_dir=str(sweep.parents[1]))
    by_dir = load_report(str(sweep))
    by_file = load_report(str(sweep / "sweep.db"))
    by_url = load_report("demo", storage=f"sqlite:///{sweep / 'sweep.db'}")
    for report in (by_dir, by_file, by_url):
        assert to_json(report)["trials"] == to_json(by_name)["trials"]
        assert report.sweep_dir == str(sweep)


def test_table_shows_sweep_rounds_failure_and_best_config(sweep: Path) -> None:
    study = study_of(sweep)
    best = best_of(study)
    text = render_table(load_report(str(sweep)), width=160)
    best_config = sweep / "runs" / f"demo.r.{best.number}" / "config.yaml"
    assert f"config: {best_config}" in text  # on one unwrapped line
    assert best_config.is_file() and f"x: {best.params['x']}" in best_config.read_text()
    assert f"Best run: demo.r.{best.number}" in text and f"reward = {best.value:.4g}" in text
    for round_ in sorted({t.user_attrs["round"] for t in study.trials}):
        runs = [t for t in study.trials if t.user_attrs["round"] == round_]
        complete = [t for t in runs if t.state.name == "COMPLETE"]
        line = f"Round {round_ + 1}: {len(runs)} runs"
        if complete:
            top = max(complete, key=lambda t: t.value)
            line += f", best reward {top.value:.4g} (demo.r.{top.number})"
        assert line + "\n" in text, line
    for t in study.trials:
        if t.state.name == "FAIL":  # the run's own message, "[thirds]" as text, not markup
            assert t.user_attrs["fail_reason"] == f"ValueError: boom in job {t.number} [thirds]"
            assert t.user_attrs["fail_reason"] in text
    assert "PRUNED" in text and "FAIL" in text
    assert "3 rounds × 2 runs per round = 6 runs" in text
    assert "log_normal min=0.01 max=1 mean=0.1 scale=1" in text
    assert "│ steps │ 9     │" in text  # the fixed overrides, from the sweep file
    assert "\x1b[" not in text  # no colour codes when not asked


@pytest.mark.parametrize(
    ("rounds", "planned"),
    [(1, "1 round × 1 run per round = 1 run"), (3, "3 rounds × 1 run per round = 3 runs")],
)
def test_counts_of_one_are_singular(train_dir: Path, rounds: int, planned: str) -> None:
    sweep = run_sweep(train_dir, f"single{rounds}", f"rollout_count={rounds}", "num_samples=1",
                      "steps=0")
    text = render_table(load_report(str(sweep)), width=160)
    assert planned in text
    assert f"{rounds} run{'s' if rounds > 1 else ''} ({rounds} complete)" in text
    first = study_of(sweep).trials[0]
    assert f"Round 1: 1 run, best reward {first.value:.4g} (single{rounds}.r.0)" in text
    assert "1 runs" not in text and "1 rounds" not in text


def test_json_parses_with_the_best_trial(sweep: Path) -> None:
    study = study_of(sweep)
    best = best_of(study)
    out, err = io.StringIO(), io.StringIO()
    code = summary_main({"target": str(sweep), "format": "json"}, out=out, err=err)
    assert code == 0 and err.getvalue() == ""
    data = json.loads(out.getvalue())
    assert data["best"]["run_name"] == f"demo.r.{best.number}"
    assert data["best"]["value"] == best.value and data["best"]["params"] == best.params
    assert data["best"]["config"] == str(sweep / "runs" / f"demo.r.{best.number}" / "config.yaml")
    rounds = sorted({t.user_attrs["round"] for t in study.trials})
    assert [r["round"] for r in data["rounds"]] == [r + 1 for r in rounds]
    assert [r["trials"] for r in data["rounds"]] == [
        [t.number for t in study.trials if t.user_attrs["round"] == r] for r in rounds]
    reasons = [t.user_attrs.get("fail_reason") for t in study.trials]
    assert [t.get("fail_reason") for t in data["trials"]] == reasons
    assert data["spec"]["fixed"] == {"n": 2, "steps": 9}


@pytest.mark.parametrize("extra", ["nan", "inf"])
def test_a_non_finite_metric_never_reaches_the_json(train_dir: Path, extra: str) -> None:
    """A run that reports a non-finite extra metric: the sweep keeps its finite ones, and the
    summary's JSON stays strict."""
    sweep = run_sweep(train_dir, f"nonfinite_{extra}", "rollout_count=1", "num_samples=1",
                      "steps=0", f"extra={extra}")
    data = to_json(load_report(str(sweep)))
    (trial,) = data["trials"]
    assert trial["state"] == "COMPLETE" and set(trial["metrics"]) == {"reward", "cost"}
    json.dumps(data, allow_nan=False)


def test_csv_has_one_row_per_trial(sweep: Path) -> None:
    trials = study_of(sweep).trials
    rows = list(csv.DictReader(io.StringIO(to_csv(load_report(str(sweep))))))
    assert [r["run_name"] for r in rows] == [f"demo.r.{t.number}" for t in trials]
    assert [r["state"] for r in rows] == [t.state.name for t in trials]
    assert [r["round"] for r in rows] == [str(t.user_attrs["round"] + 1) for t in trials]
    for row, t in zip(rows, trials):
        assert row["fail_reason"] == t.user_attrs.get("fail_reason", "")
        assert row["value"] == ("" if t.value is None else row["value"])
        if t.value is not None:
            assert float(row["value"]) == t.value and float(row["x"]) == t.params["x"]
            assert row["opt"] == t.params["opt"]
    # The metric named like the study metric sits beside the params, once.
    assert list(rows[0]).count("reward") == 1


def test_minimize_picks_the_minimum(train_dir: Path) -> None:
    sweep = run_sweep(train_dir, "low", "sweep.goal=minimize", "steps=0")
    study = study_of(sweep)
    report = load_report(str(sweep))
    assert report.goal == "minimize"
    best = best_of(study, "minimize")
    assert report.best is not None and report.best.number == best.number
    assert len({t.value for t in study.trials}) > 1  # the minimum is not the only value
    assert f"Best run: low.r.{best.number}" in render_table(report, width=160)


def _png_size(path: Path) -> tuple[int, int]:
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


@pytest.mark.parametrize("fail", ["all", "never"])
def test_plots_render_with_too_few_runs(train_dir: Path, tmp_path: Path, fail: str) -> None:
    """No complete run (every run raised: the sweep stops on max_failure_rate, exit 2) or only
    one: the plots still draw."""
    sweep = run_sweep(train_dir, f"few_{fail}", "rollout_count=1", "num_samples=1", "steps=0",
                      f"fail={fail}", rc=2 if fail == "all" else 0)
    report = load_report(str(sweep))
    assert report.counts["COMPLETE"] == (fail == "never")
    assert isinstance(param_importances(report), str)  # the "not enough data" panel
    paths = write_plots(report, tmp_path / "plots")
    assert [p.name for p in paths] == list(PLOT_FILES)
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)


def test_importance_is_seeded_and_covers_varying_params(sweep: Path) -> None:
    report = load_report(str(sweep))
    first, again = param_importances(report), param_importances(report)
    assert isinstance(first, dict) and first == again
    complete = [t for t in study_of(sweep).trials if t.state.name == "COMPLETE"]
    varying = {k for k in complete[0].params if len({t.params[k] for t in complete}) > 1}
    assert varying and set(first) == varying and math.isclose(sum(first.values()), 1.0)


def test_missing_sweep_lists_the_sweeps_found(sweep: Path, one_run: Path) -> None:
    train_dir = sweep.parents[1]
    found = sorted(p.name for p in (train_dir / "sweep").iterdir() if (p / "sweep.db").is_file())
    assert {"demo", "one"} <= set(found)
    with pytest.raises(SweepError) as caught:
        load_report("gamma", train_dir=str(train_dir))
    assert caught.value.fix is not None and ", ".join(found) in caught.value.fix
    err = io.StringIO()
    assert summary_main({"target": "gamma", "train_dir": str(train_dir)},
                        out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1 and ", ".join(found) in err.getvalue()


def test_unusable_databases_are_sweep_errors(tmp_path: Path, sweep: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SweepError, match="no study database"):
        load_report(str(tmp_path / "empty"))
    foreign = tmp_path / "other.db"
    foreign.write_bytes(b"")  # an empty SQLite file, no Optuna tables
    with pytest.raises(SweepError, match="not an Optuna study database"):
        load_report(str(foreign))
    assert foreign.stat().st_size == 0  # and reading it created none
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


def test_devops_script_prints_json(sweep: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    out = summarize_script("demo", "--format", "json", "--train-dir", str(sweep.parents[1]),
                           cwd=REPO, env=env)
    assert out["best"]["run_name"] == f"demo.r.{best_of(study_of(sweep)).number}"


def test_devops_script_works_from_another_directory(sweep: Path) -> None:
    """No PYTHON: the script finds the repo's interpreter itself, and NAME is looked up in the
    caller's train_dir/ (here the fixture's, two levels above the sweep directory)."""
    if not (REPO / ".venv" / "bin" / "python").exists():
        pytest.skip("needs the repo's .venv (make test creates it)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH")}
    out = summarize_script("demo", "--format", "json", cwd=sweep.parents[2], env=env)
    assert out["best"]["run_name"] == f"demo.r.{best_of(study_of(sweep)).number}"
