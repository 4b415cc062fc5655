"""Hyperband on the real trainer: the same seeded sweep costs less with early termination."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]


def run_sweep(tmp_path: Path, name: str, *extra: str) -> optuna.Study:
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", "+sweep=early_stop", f"run={name}",
           f"train_dir={tmp_path}", "wandb=disabled", "hydra.sweeper.summary=false", *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=400,
                          env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path}/sweep/{name}/sweep.db")


def test_hyperband_on_the_trainer_saves_cost_and_keeps_a_best_run(tmp_path: Path) -> None:
    pruned = run_sweep(tmp_path, "et")
    plain = run_sweep(tmp_path, "plain", "~sweep.early_terminate")
    cost = {name: sum(t.user_attrs["cost"] for t in s.trials) for name, s in
            (("et", pruned), ("plain", plain))}
    states = [t.state.name for t in pruned.trials]
    assert states.count("PRUNED") >= 1
    assert states.count("COMPLETE") + states.count("PRUNED") == 8
    assert all(t.state.name == "COMPLETE" for t in plain.trials) and len(plain.trials) == 8
    assert cost["et"] < 0.9 * cost["plain"], cost
    for t in pruned.trials:
        if t.state.name == "PRUNED":
            assert t.user_attrs["metrics"]["stopped_early"] == 1.0
            assert t.user_attrs["cost"] < 4096
    best = max((t for t in pruned.trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert best.value is not None and (tmp_path / "sweep" / "et" / "runs" / f"et.r.{best.number}" / "config.yaml").is_file()
