"""Real Hydra multiruns of the quadratic test app through the nested sweeper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

APP = Path(__file__).parent / "apps" / "quadratic" / "app.py"


def sweep(tmp_path: Path, *args: str, timeout: float = 240,
          full_error: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "QUAD_OUT": str(tmp_path), "HYDRA_FULL_ERROR": "1" if full_error else "0"}
    return subprocess.run([sys.executable, str(APP), "-m", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)


def load(tmp_path: Path, run: str = "quad") -> optuna.Study:
    return optuna.load_study(study_name=run, storage=f"sqlite:///{tmp_path}/sweep/{run}/sweep.db")


def run_dirs(tmp_path: Path, run: str = "quad") -> list[Path]:
    return sorted((tmp_path / "sweep" / run / "runs").iterdir())


def states(study: optuna.Study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.trials:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def test_basic_launcher_rounds_dirs_and_db(tmp_path: Path) -> None:
    proc = sweep(tmp_path, "+sweep=basic")
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(tmp_path)
    assert states(study) == {"COMPLETE": 6}
    dirs = run_dirs(tmp_path)
    assert [d.name for d in dirs] == [f"quad.r.{i}" for i in range(6)]
    for trial in study.trials:
        d = tmp_path / "sweep" / "quad" / "runs" / f"quad.r.{trial.number}"
        assert (d / "config.yaml").is_file() and (d / ".hydra").is_dir()
        suggestion = (d / "suggestion.yaml").read_text()
        assert f"trial: {trial.number}" in suggestion
        p = trial.params
        expected = -((p["x"] - 0.3) ** 2) - (p["y"] + 1) ** 2 + {"a": 0, "b": 0.5, "c": 0.25}[p["opt"]]
        assert trial.value == pytest.approx(expected)
        assert trial.user_attrs["metrics"]["extra"] == 7.0
        assert trial.user_attrs["round"] == trial.number // 2
    best = max(study.trials, key=lambda t: t.value)
    assert f"Best run: quad.r.{best.number} " in proc.stdout  # the summary names the best run


@pytest.mark.parametrize("method", ["random", "bayes", "protein"])
def test_seeded_sweeps_repeat_from_scratch(tmp_path: Path, method: str) -> None:
    """The same command in two fresh directories: the same parameters, round after round."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    extra = ["+sweep=basic", f"hydra.sweeper.method={method}", "rollout_count=4",
             "hydra.sweeper.method_kwargs={n_startup_trials:2}" if method == "bayes" else "n=1",
             "hydra.sweeper.summary=false"]
    for d in (a, b):
        proc = sweep(d, *extra)
        assert proc.returncode == 0, proc.stderr[-3000:]
    pa = [t.params for t in load(a).trials]
    pb = [t.params for t in load(b).trials]
    assert pa == pb and len(pa) == 8 and len({tuple(sorted(p.items())) for p in pa}) == 8


def test_command_line_search_spaces_join_the_file(tmp_path: Path) -> None:
    """Hydra's sweep grammar on the command line and in hydra.sweeper.params, as in
    hydra-optuna-sweeper: real Optuna distributions under the dotted names."""
    proc = sweep(tmp_path, "+sweep=basic", "y=tag(log,interval(0.01,1.0))", "opt=choice(a,b)",
                 "hydra.sweeper.params={n:'range(1,4)'}", "hydra.sweeper.summary=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = load(tmp_path).trials
    assert len(trials) == 6
    dists = trials[0].distributions
    assert dists["y"] == optuna.distributions.FloatDistribution(0.01, 1.0, log=True)
    assert dists["n"] == optuna.distributions.IntDistribution(1, 3)
    assert dists["opt"] == optuna.distributions.CategoricalDistribution(["a", "b"])
    assert isinstance(dists["x"], optuna.distributions.FloatDistribution)  # the file's, kept
    for t in trials:
        assert 0.01 <= t.params["y"] <= 1.0 and t.params["n"] in (1, 2, 3)


def test_wrapper_form_loads_the_same_file(tmp_path: Path) -> None:
    """`sweep_params=sweep/NAME` (what devops/sweep.sh passes) runs what `+sweep=NAME` runs,
    and command-line counts work in both forms."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for d, form in ((a, "+sweep=basic"), (b, "++sweep_params=sweep/basic")):
        proc = sweep(d, form, "rollout_count=2", "hydra.sweeper.summary=false")
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert [t.params for t in load(a).trials] == [t.params for t in load(b).trials]
    assert len(load(b).trials) == 4


def test_grid_exhausts_the_product(tmp_path: Path) -> None:
    proc = sweep(tmp_path, "+sweep=grid", "hydra.sweeper.summary=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(tmp_path)
    combos = {(t.params["x"], t.params["n"], t.params["opt"]) for t in study.trials}
    assert len(study.trials) == 12 and len(combos) == 12
    assert "exhausted" in proc.stderr + proc.stdout


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_other_launchers(tmp_path: Path, launcher: str) -> None:
    args = ["+sweep=basic", f"hydra/launcher={launcher}", "rollout_count=2"]
    if launcher == "joblib":
        args.append("hydra.launcher.n_jobs=2")
    proc = sweep(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(tmp_path)
    assert states(study) == {"COMPLETE": 4}
    assert len(run_dirs(tmp_path)) == 4
    for trial in study.trials:
        p = trial.params
        assert trial.value == pytest.approx(
            -((p["x"] - 0.3) ** 2) - (p["y"] + 1) ** 2 + {"a": 0, "b": 0.5, "c": 0.25}[p["opt"]])
    best = max(study.trials, key=lambda t: t.value)
    assert f"Best run: quad.r.{best.number} " in proc.stdout  # the summary names the best run


def test_failures_are_recorded_and_replaced(tmp_path: Path) -> None:
    proc = sweep(tmp_path, "+sweep=basic", "fail=thirds", "hydra.sweeper.summary=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(tmp_path)
    s = states(study)
    assert s["COMPLETE"] == 6 and s["FAIL"] >= 2
    for t in study.trials:
        if t.state.name == "FAIL":
            assert t.user_attrs["fail_reason"].startswith("ValueError: boom in job")
            assert t.number % 3 == 2


@pytest.mark.parametrize(("mode", "reason"), [
    ("nanvalue", "is nan"), ("string", "'garbage'"), ("none", "None"), ("nokey", "no number 'reward'"),
    ("all", "ValueError: boom"),
])
def test_all_failing_stops_at_max_failure_rate(tmp_path: Path, mode: str, reason: str) -> None:
    proc = sweep(tmp_path, "+sweep=basic", f"fail={mode}")
    assert proc.returncode != 0
    assert "max_failure_rate" in proc.stderr
    study = load(tmp_path)
    fails = [t for t in study.trials if t.state.name == "FAIL"]
    assert len(fails) == 4 and len(study.trials) == 4  # 0.5 × 6 planned runs
    assert all(reason in t.user_attrs["fail_reason"] for t in fails)


def test_run_timeout_fails_the_run(tmp_path: Path) -> None:
    proc = sweep(tmp_path, "+sweep=basic", "sleep=3", "hydra.sweeper.run_timeout=0.5",
                 "hydra.sweeper.max_failure_rate=0.1", "rollout_count=1")
    assert proc.returncode != 0
    t = load(tmp_path).trials[0]
    assert t.state.name == "FAIL" and "timeout after 0.5s" in t.user_attrs["fail_reason"]


def kill_once_runs_started(tmp_path: Path, args: list[str], runs: int) -> None:
    """Start a sweep and SIGKILL it once its ``runs``-th run is under way."""
    env = {**os.environ, "QUAD_OUT": str(tmp_path)}
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    db = tmp_path / "sweep" / "quad" / "sweep.db"
    deadline = time.time() + 120
    while time.time() < deadline:
        if db.exists() and len(list((tmp_path / "sweep" / "quad" / "runs").glob("*"))) >= runs:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def check_resumed(tmp_path: Path, planned: int) -> dict[str, int]:
    """The study after a kill and a rerun: exactly the planned runs finished (COMPLETE or
    PRUNED), the killed one FAIL (interrupted), one run directory per trial, none shared."""
    study = load(tmp_path)
    s = states(study)
    assert s.get("COMPLETE", 0) + s.get("PRUNED", 0) == planned and "RUNNING" not in s, s
    interrupted = [t for t in study.trials if t.state.name == "FAIL"]
    assert interrupted and all(t.user_attrs["fail_reason"] == "interrupted" for t in interrupted)
    names = {d.name for d in run_dirs(tmp_path)}
    assert names <= {f"quad.r.{t.number}" for t in study.trials}
    assert {f"quad.r.{t.number}" for t in study.trials if t.state.name != "FAIL"} <= names
    return s


def test_sigkill_mid_round_then_resume(tmp_path: Path) -> None:
    args = [sys.executable, str(APP), "-m", "+sweep=basic", "sleep=1.5", "hydra.sweeper.summary=false"]
    kill_once_runs_started(tmp_path, args, 3)
    assert "RUNNING" in states(load(tmp_path))
    done = subprocess.run(args, cwd=tmp_path, env={**os.environ, "QUAD_OUT": str(tmp_path)},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert check_resumed(tmp_path, 6)["COMPLETE"] == 6


def test_sigkill_during_hyperband_then_resume(tmp_path: Path) -> None:
    """PRUNED runs from before the kill count as finished: exactly 12 runs end COMPLETE or
    PRUNED, each PRUNED one with its last reported value, and the rerun prunes too."""
    args = [sys.executable, str(APP), "-m", "+sweep=hyperband", "steps=9", "sleep=1.0",
            "hydra.sweeper.summary=false"]
    kill_once_runs_started(tmp_path, args, 6)
    before = states(load(tmp_path))
    assert before.get("RUNNING") == 1 and before.get("PRUNED", 0) >= 1, before
    done = subprocess.run(args, cwd=tmp_path, env={**os.environ, "QUAD_OUT": str(tmp_path)},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    s = check_resumed(tmp_path, 12)
    assert s["PRUNED"] > before["PRUNED"], s
    for t in load(tmp_path).trials:
        if t.state.name == "PRUNED":
            assert t.value == pytest.approx(t.intermediate_values[max(t.intermediate_values)])


def test_missing_sweep_is_a_clear_error(tmp_path: Path) -> None:
    """Nothing to search: no sweep file and no sweep on the command line (`x=0.1,0.2` alone
    is a plain Hydra grid, tests/test_documented_paths.py)."""
    proc = sweep(tmp_path, "x=0.1")
    assert proc.returncode == 2
    assert "+sweep=NAME" in proc.stderr


def test_sweep_errors_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    """Without HYDRA_FULL_ERROR a sweep's own errors read as the CLI's do: no traceback."""
    proc = sweep(tmp_path, "+sweep=basic", "fail=all", full_error=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("error: "))
    assert "hydra.sweeper.max_failure_rate" in line and "raise max_failure_rate" in line
    missing = sweep(tmp_path, "++sweep_params=sweep/nope", full_error=False)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "known sweeps" in missing.stderr or "not found" in missing.stderr


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_hyperband_prunes_and_saves_cost(tmp_path: Path, launcher: str) -> None:
    """The same seeded sweep with and without early termination: less cost, a best run."""
    with_et, without = tmp_path / "et", tmp_path / "plain"
    with_et.mkdir()
    without.mkdir()
    common = ["+sweep=hyperband", "steps=9", "hydra.sweeper.summary=false", f"hydra/launcher={launcher}"]
    a = sweep(with_et, *common)
    assert a.returncode == 0, a.stderr[-3000:]
    b = sweep(without, *common, "~sweep.early_terminate")
    assert b.returncode == 0, b.stderr[-3000:]
    pruned, plain = load(with_et), load(without)
    assert states(plain) == {"COMPLETE": 12}
    s = states(pruned)
    assert s.get("PRUNED", 0) >= 2 and s.get("COMPLETE", 0) + s["PRUNED"] == 12
    cost = lambda st: sum(t.user_attrs["cost"] for t in st.trials)  # noqa: E731
    assert cost(pruned) < 0.85 * cost(plain)
    for t in pruned.trials:
        assert len(t.intermediate_values) == int(t.user_attrs["cost"])
        if t.state.name == "PRUNED":
            assert t.value == pytest.approx(t.intermediate_values[max(t.intermediate_values)])
    best = max((t for t in pruned.trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert best.value > 9.0
    # Resume: PRUNED runs count as finished, so the rerun has nothing left to do.
    again = sweep(with_et, *common)
    assert again.returncode == 0, again.stderr[-3000:]
    assert states(load(with_et)) == s


@pytest.mark.parametrize(("launcher", "rule"), [("submitit_local", "hyperband"), ("basic", "median")])
def test_early_termination_rules_and_launchers(tmp_path: Path, launcher: str, rule: str) -> None:
    """Each rule prunes through each launcher (runs reach the study by its URL): 12 runs
    finish, some PRUNED, for less than the 12 × 9 steps of the same sweep run to the end."""
    proc = sweep(tmp_path, f"+sweep={rule}", "steps=9", "hydra.sweeper.summary=false",
                 f"hydra/launcher={launcher}", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(tmp_path)
    s = states(study)
    assert s.get("PRUNED", 0) >= 2 and s.get("COMPLETE", 0) + s["PRUNED"] == 12, s
    assert sum(t.user_attrs["cost"] for t in study.trials) < 0.85 * 12 * 9
    best = max((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert best.value > 9.0


def test_protein_batches_through_the_plugin(tmp_path: Path) -> None:
    """method: protein in a real multirun: distinct batches, its cost metric recorded, the
    first run at the search centre, and the model's runs near the optimum."""
    proc = sweep(tmp_path, "+sweep=basic", "hydra.sweeper.method=protein", "rollout_count=8",
                 "num_samples=3", "hydra.sweeper.summary=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "protein, 8 rounds × 3 runs" in proc.stderr + proc.stdout
    study = load(tmp_path)
    assert states(study) == {"COMPLETE": 24}
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == 24
    first = study.trials[0].params
    assert first["x"] == pytest.approx(0.0) and first["y"] == pytest.approx(-0.5)
    for t in study.trials:
        assert t.user_attrs["cost"] == pytest.approx(1.0 + t.params["x"])
    values = [t.value for t in study.trials]  # the optimum is 0.5 (x=0.3, y=-1, opt=b)
    assert max(values[12:]) > max(0.49, max(values[:6]))
