"""`nested-sweep summary NAME --watch` / `monitor` against real sweeps, and what the summary
shows of a study: 1-based rounds (as the workers' `[round 1/3]` logs), no phantom round from a
racing worker's surplus trials, the sweep file as an absolute path, known sweeps on a typo.

The sweeps are real `python train.py -m` processes; the studies built here directly are real
Optuna studies in SQLite files, read by the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ctrl_c import shell_sigint, signal_state

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "nested_sweeper.cli"]
# 3 rounds of 1 short run (about 2 s each here): long enough to watch a round finish.
SWEEP = ["+sweep=quick", "rollout_count=3", "num_samples=1", "+hardware=cpu",
         "trainer.total_timesteps=4096", "trainer.batch_size=1024", "trainer.minibatch_size=512"]
ENV = {**os.environ, "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "0"}


def start_sweep(name: str, train_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "-m", *SWEEP, f"run={name}",
         f"train_dir={train_dir}", *extra],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_study(url: str, name: str, sweep: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until the sweep has created its study (the watcher refuses a sweep that does not exist).

    Plain SELECTs: opening an Optuna storage on a database still being created would write."""
    import sqlalchemy
    from sqlalchemy.exc import SQLAlchemyError

    engine = sqlalchemy.create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert sweep.poll() is None, sweep.communicate()[0][-3000:]
            try:
                with engine.connect() as conn:
                    rows = conn.execute(sqlalchemy.text("SELECT study_name FROM studies"))
                    if name in {row[0] for row in rows}:
                        return
            except SQLAlchemyError:
                pass  # the database or its tables are still being created
            time.sleep(0.2)
    finally:
        engine.dispose()
    pytest.fail(f"study {name} never appeared in {url}")


def progress(output: str) -> list[int]:
    """The `k of 3 runs done` counts of each view the watcher printed, in order."""
    return [int(k) for k in re.findall(r"^Sweep \S+: (\d+) of 3 runs done", output, re.M)]


def round_rows(view: str) -> list[int]:
    """The round numbers in the rows of one printed view."""
    return [int(r) for r in re.findall(r"^│ +(\d+) │", view, re.M)]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_watch_shows_the_rounds_of_a_running_sweep(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    name = f"watched_{backend}_{os.getpid()}"
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
        extra, where = [f"hydra.sweeper.storage={url}"], ["--storage", url, "--study", name]
    else:
        url = f"sqlite:///{tmp_path / 'sweep' / name / 'sweep.db'}"
        extra, where = [], ["--train-dir", str(tmp_path)]
    sweep = start_sweep(name, tmp_path, *extra)
    try:
        wait_for_study(url, name, sweep)
        # From another directory, as a second shell would: nothing relies on the cwd.
        watch = subprocess.run([*CLI, "summary", name, "--watch", "--interval", "0.2", *where],
                               cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
        sweep_out = sweep.communicate(timeout=300)[0]
    finally:
        sweep.kill()
    assert sweep.returncode == 0, sweep_out[-3000:]
    assert watch.returncode == 0, watch.stderr
    assert "Traceback" not in watch.stdout + watch.stderr
    seen = progress(watch.stdout)
    # It printed a new view as runs finished (not once at the end), and ended on its own.
    assert len(set(seen)) >= 2 and seen == sorted(seen) and seen[-1] == 3, watch.stdout
    views = watch.stdout.split("\nSweep ")
    assert len(round_rows(views[0])) < 3 and round_rows(views[-1]) == [1, 2, 3], watch.stdout
    assert watch.stdout.rstrip().endswith(f"sweep {name} finished: 3 of 3 runs done (3 complete)")


def make_study(db: Path, name: str, trials: list[dict[str, Any]], spec: dict[str, Any],
               sweep_dir: Path | None = None) -> None:
    """A real Optuna study as the sweeper writes it: the spec and per-trial user attributes."""
    import optuna
    from optuna.distributions import FloatDistribution

    db.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name=name, direction="maximize")
    study.set_user_attr("spec", spec)
    if sweep_dir is not None:
        study.set_user_attr("sweep_dir", str(sweep_dir))
    for i, trial in enumerate(trials):
        state = getattr(optuna.trial.TrialState, trial["state"])
        study.add_trial(optuna.trial.create_trial(
            state=state, value=trial.get("value"), params={"trainer.gamma": 0.9 + i / 100},
            distributions={"trainer.gamma": FloatDistribution(0.8, 0.999)},
            user_attrs={"round": trial["round"], "run_name": f"{name}.r.{i}", **trial.get("attrs", {})},
        ))


SPEC = {"rollout_count": 3, "num_samples": 1, "metric": "reward", "goal": "maximize",
        "method": "random", "parameters": {"trainer.gamma": {"min": 0.8, "max": 0.999}}}


def test_ctrl_c_stops_watching_with_one_line(tmp_path: Path) -> None:
    """On a terminal (rich Live), an unfinished sweep: Ctrl-C ends it, exit 0, no traceback."""
    make_study(tmp_path / "sweep" / "half" / "sweep.db", "half",
               [{"state": "COMPLETE", "value": 0.5, "round": 0}], SPEC)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([*CLI, "monitor", "half", "--train-dir", str(tmp_path),
                             "--interval", "0.2"], stdout=secondary, stderr=secondary, env=ENV,
                            preexec_fn=shell_sigint)
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 60
    while b"best so far" not in seen and time.monotonic() < deadline:
        seen += os.read(primary, 65536)
    assert b"1 of 3 runs done (1 complete)" in seen, seen
    before = signal_state(proc.pid)
    proc.send_signal(signal.SIGINT)
    # Keep reading, as a terminal does: a full pty would block the monitor's last writes.
    rest = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if select.select([primary], [], [], 0.2)[0]:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closes with the process
                break
            if not chunk:
                break
            rest += chunk
        elif proc.poll() is not None:
            break
    assert proc.wait(timeout=5) == 0, f"monitor: {before}\ntest: {signal_state('self')}"
    text = rest.decode(errors="replace")
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "stopped watching half: 1 of 3 runs done (1 complete)" in text, text


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=120)


def test_summary_counts_rounds_from_1_and_hides_surplus_trials(tmp_path: Path) -> None:
    surplus = {"fail_reason": "surplus: another worker took this run", "surplus": True}
    make_study(tmp_path / "sweep" / "raced" / "sweep.db", "raced", [
        {"state": "COMPLETE", "value": 0.5, "round": 0},
        {"state": "COMPLETE", "value": 0.7, "round": 1},
        {"state": "FAIL", "round": 2, "attrs": surplus},  # a racing worker's trial: never ran
        {"state": "COMPLETE", "value": 0.6, "round": 2},
    ], SPEC)
    table = cli("summary", "raced", "--train-dir", str(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "Round 0" not in table.stdout and "Round 4" not in table.stdout
    assert "Round 1: 1 run" in table.stdout and "Round 3: 1 run" in table.stdout
    assert "3 runs (3 complete)" in table.stdout and "surplus" not in table.stdout
    assert "Best run: raced.r.1 (trial 1, round 2)" in table.stdout
    data = json.loads(cli("summary", "raced", "--train-dir", str(tmp_path), "--format",
                          "json").stdout)
    assert [r["round"] for r in data["rounds"]] == [1, 2, 3]
    assert [t["number"] for t in data["trials"]] == [0, 1, 3]
    rows = cli("summary", "raced", "--train-dir", str(tmp_path), "--format", "csv").stdout
    assert [line.split(",")[1] for line in rows.splitlines()[1:]] == ["1", "2", "3"]


def test_summary_shows_the_sweep_file_as_an_absolute_path(tmp_path: Path) -> None:
    """Stored relative to where the sweep started (older studies): found from the sweep dir."""
    (tmp_path / "proj" / "conf" / "sweep").mkdir(parents=True)
    (tmp_path / "proj" / "conf" / "sweep" / "s.yaml").write_text("sweep: {}\n")
    sweep_dir = tmp_path / "proj" / "train_dir" / "sweep" / "rel"
    make_study(sweep_dir / "sweep.db", "rel", [{"state": "COMPLETE", "value": 1.0, "round": 0}],
               {**SPEC, "file": "proj/conf/sweep/s.yaml"}, sweep_dir=sweep_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli("summary", str(sweep_dir), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert f"│ file      │ {tmp_path / 'proj/conf/sweep/s.yaml'}" in result.stdout
    data = json.loads(cli("summary", str(sweep_dir), "--format", "json", cwd=elsewhere).stdout)
    assert data["sweep_file"] == str(tmp_path / "proj" / "conf" / "sweep" / "s.yaml")


@pytest.mark.parametrize("command", [["summary"], ["summary", "--watch"], ["monitor"]])
def test_a_wrong_sweep_name_lists_the_sweeps_there(tmp_path: Path, command: list[str]) -> None:
    """The guide's "Can't find sweep summary": one line, exit 2, the sweeps that exist."""
    make_study(tmp_path / "sweep" / "demo" / "sweep.db", "demo", [], SPEC)
    result = cli(command[0], "dmeo", *command[1:], "--train-dir", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "no sweep named 'dmeo'" in result.stderr
    assert f"sweeps found under {tmp_path / 'sweep'}/: demo" in result.stderr


def test_watch_refuses_a_bad_interval(tmp_path: Path) -> None:
    make_study(tmp_path / "sweep" / "demo" / "sweep.db", "demo", [], SPEC)
    result = cli("monitor", "demo", "--train-dir", str(tmp_path), "--interval", "0")
    assert result.returncode == 2 and result.stderr.startswith("error: --interval:")
    assert result.stderr.count("\n") == 1
