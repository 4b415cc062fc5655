"""devops/sweep.sh: arguments reach Python verbatim, usage, exit codes, and one real sweep.

The quoting tests point the script at a stand-in interpreter (PYTHON=...) that records the
argv it receives: that is exactly the argv `python train.py` (and so Hydra) would get.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "devops" / "sweep.sh"


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    path = tmp_path / "fake-python"
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "json.dump(sys.argv[1:], open(os.environ['ARGV_OUT'], 'w'))\n"
        "sys.exit(int(os.environ.get('FAKE_RC', '0')))\n"
    )
    path.chmod(0o755)
    return path


def run_script(
    *args: str, cwd: Path, python: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    full_env.pop("WANDB_MODE", None)
    if python is not None:
        full_env["PYTHON"] = str(python)
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_arguments_reach_python_unchanged_and_execute_nothing(
    tmp_path: Path, fake_python: Path
) -> None:
    marks = [tmp_path / f"mark{i}" for i in range(4)]
    args = [
        "run=q",
        "++sweep_params=sweep/protein_working",
        "+hardware=cpu",
        "trainer.note='two words'",
        'wandb.tags=["a b", "c"]',
        f"x=1; touch {marks[0]}",
        f"y=$(touch {marks[1]})",
        f"z=`touch {marks[2]}`",
        f"w=* && touch {marks[3]} | cat > /dev/null",
        "v=line1\nline2\ttab $HOME ${PATH} \\back",
        "",
    ]
    argv_out = tmp_path / "argv.json"
    proc = run_script(*args, cwd=tmp_path, python=fake_python, ARGV_OUT=str(argv_out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(argv_out.read_text()) == [str(ROOT / "train.py"), "-m", *args]
    assert not [m for m in marks if m.exists()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["argv.json", "fake-python"]


def test_run_is_required(tmp_path: Path, fake_python: Path) -> None:
    argv_out = tmp_path / "argv.json"
    proc = run_script(
        "++sweep_params=sweep/protein_working",
        "+hardware=cpu",
        cwd=tmp_path,
        python=fake_python,
        ARGV_OUT=str(argv_out),
    )
    assert proc.returncode == 2
    assert "run=NAME is required" in proc.stderr and "usage:" in proc.stderr
    assert not argv_out.exists()
    bad = run_script("run=../x", cwd=tmp_path, python=fake_python, ARGV_OUT=str(argv_out))
    assert bad.returncode == 2 and not argv_out.exists()


def test_exit_code_propagates_and_results_are_printed(tmp_path: Path, fake_python: Path) -> None:
    argv_out = tmp_path / "argv.json"
    proc = run_script(
        "run=failing",
        f"train_dir={tmp_path / 'out'}",
        cwd=tmp_path,
        python=fake_python,
        ARGV_OUT=str(argv_out),
        FAKE_RC="3",
    )
    assert proc.returncode == 3
    assert f"results: {tmp_path / 'out'}/sweep/failing" in proc.stdout
    assert "summary: nested-sweep summary failing" in proc.stdout
    assert "exit code 3" in proc.stderr


def test_real_sweep_with_the_cpu_profile(tmp_path: Path) -> None:
    """The issue's smoke command: 3 Protein runs, each leaving its files, in under a minute."""
    start = time.perf_counter()
    proc = run_script(
        "run=smoke",
        "++sweep_params=sweep/protein_working",
        "+hardware=cpu",
        f"train_dir={tmp_path}",
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert wall < 60, f"the smoke sweep took {wall:.1f} s"
    runs = sorted((tmp_path / "sweep" / "smoke" / "runs").iterdir())
    assert [r.name for r in runs] == ["smoke.r.0", "smoke.r.1", "smoke.r.2"]
    for run in runs:
        for name in ("config.yaml", "suggestion.yaml", "checkpoint.pt"):
            assert (run / name).is_file(), run / name
        assert len(list(run.glob("wandb/offline-run-*/run-*.wandb"))) == 1
    assert f"results: {tmp_path}/sweep/smoke" in proc.stdout
    # Every run's training episodes end (the sweep pins env.num_envs), so none returns NaN.
    assert "episode_return=nan" not in output and "no training episode" not in output
    assert best_run_line(tmp_path / "sweep" / "smoke" / "sweep.db") in output.splitlines()


def best_run_line(db: Path) -> str:
    """The summary's line for the complete trial with the highest reward in the study."""
    import optuna

    study = optuna.load_study(study_name="smoke", storage=f"sqlite:///{db}")
    done = [t for t in study.trials if t.state.name == "COMPLETE" and math.isfinite(t.value)]
    assert len(done) == 3
    best = max(done, key=lambda t: t.value)
    attrs = best.user_attrs
    return f"Best run: {attrs['run_name']} (trial {best.number}, round {attrs['round'] + 1})"
