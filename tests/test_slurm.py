"""Clusters through existing engines: the SLURM presets and the SLURM worker script.

No cluster here, so `sbatch` and `srun` are stand-ins on PATH: `srun` only has to exist
(submitit checks for it), and `sbatch` keeps a copy of the script it is handed and fails, as a
cluster without a free slot would. The script itself is written by submitit's own SlurmExecutor,
from the parameters Hydra's submitit launcher maps from `conf/hydra/launcher/slurm.yaml`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = Path(__file__).parent / "apps" / "scale" / "app.py"
SWEEP_SLURM = ROOT / "devops" / "sweep.slurm"

FAKE_SBATCH = """#!/bin/sh
cp "$1" "$SBATCH_CAPTURE/$(basename "$1")"
echo "sbatch: error: Batch job submission failed: no cluster in this test" >&2
exit 1
"""


def fake_cluster(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir, capture = tmp_path / "bin", tmp_path / "sbatch"
    bin_dir.mkdir()
    capture.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "SBATCH_CAPTURE": str(capture), "HYDRA_FULL_ERROR": "1"}
    return env, capture


def sbatch_flags(script: str) -> dict[str, str]:
    return dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", script, flags=re.MULTILINE))


def submit_first_round(tmp_path: Path, *overrides: str) -> tuple[dict[str, str], str]:
    """Run a sweep of train.py on the slurm preset until its first sbatch; that script."""
    env, capture = fake_cluster(tmp_path)
    args = [sys.executable, str(ROOT / "train.py"), "-m", "+sweep=quick", "run=onslurm",
            f"train_dir={tmp_path / 'train_dir'}", "hydra/launcher=slurm", *overrides]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    scripts = sorted(capture.iterdir())
    assert scripts, f"sbatch was never called:\n{proc.stderr[-3000:]}"
    text = scripts[0].read_text()
    return sbatch_flags(text), text


def test_slurm_preset_defaults_become_sbatch_flags(tmp_path: Path) -> None:
    flags, text = submit_first_round(tmp_path)
    # conf/sweep/quick.yaml: num_samples 2, so one round is an array of 2, both at once.
    assert flags["array"] == "0-1%2"
    assert flags["gpus-per-node"] == "1"
    assert flags["time"] == "240"
    assert flags["cpus-per-task"] == "8"
    assert flags["mem"] == "32GB"
    assert flags["ntasks-per-node"] == "1" and flags["nodes"] == "1"
    assert flags["job-name"] == "onslurm"
    assert "partition" not in flags  # the cluster's default partition
    sweep_dir = tmp_path / "train_dir" / "sweep" / "onslurm"
    assert flags["output"].startswith(f"{sweep_dir}/.submitit/")
    assert "-m submitit.core._submit" in text and text.startswith("#!/bin/bash")


def test_slurm_preset_follows_overrides_and_num_samples(tmp_path: Path) -> None:
    flags, text = submit_first_round(
        tmp_path, "num_samples=3", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=2",
        "hydra.launcher.timeout_min=30", "hydra.launcher.account=proj42",
        "hydra.launcher.setup=[module load cuda]")
    assert flags["array"] == "0-2%3"
    assert flags["partition"] == "gpu"
    assert flags["gpus-per-node"] == "2"
    assert flags["time"] == "30"
    assert flags["account"] == "proj42"
    assert "\nmodule load cuda\n" in text


def test_slurm_local_preset_runs_each_run_in_its_own_process(tmp_path: Path) -> None:
    """The submitit path end to end: pickled runs in separate processes, results read back."""
    pid_dir = tmp_path / "pids"
    args = [sys.executable, str(APP), "-m", "+sweep=random", "rollout_count=2",
            f"hydra.searchpath=[file://{ROOT / 'conf'}]", "hydra/launcher=slurm_local",
            f"pid_dir={pid_dir}", "hydra.sweeper.summary=false"]
    env = {**os.environ, "SCALE_OUT": str(tmp_path), "HYDRA_FULL_ERROR": "1"}
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    sweep_dir = tmp_path / "sweep" / "scale"
    study = optuna.load_study(study_name="scale", storage=f"sqlite:///{sweep_dir / 'sweep.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    pids = {int((pid_dir / f"{t.number}.pid").read_text()) for t in study.trials}
    assert len(pids) == 4 and proc.pid not in pids
    assert len(list((sweep_dir / ".submitit").rglob("*_result.pkl"))) == 4
    for t in study.trials:
        p = t.params
        assert t.value == pytest.approx(
            -((p["x"] - 0.3) ** 2) - (p["y"] + 1) ** 2 + {"a": 0, "b": 0.5, "c": 0.25}[p["opt"]]
            + 0.01)


# ---------------------------------------------------------------------------- devops/sweep.slurm


STUB_PYTHON = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["ARGV_OUT"], "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd()}, f)
"""


def run_worker_script(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    stub = tmp_path / "python"
    stub.write_text(STUB_PYTHON.replace("#!/usr/bin/env python3", f"#!{sys.executable}"))
    stub.chmod(0o755)
    out = tmp_path / "argv.json"
    out.unlink(missing_ok=True)
    full_env = {"PATH": os.environ["PATH"], "PYTHON": str(stub), "ARGV_OUT": str(out),
                "SLURM_SUBMIT_DIR": str(ROOT), "SLURM_ARRAY_TASK_ID": "3", **env}
    proc = subprocess.run(["bash", str(SWEEP_SLURM), *args], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=60)
    return proc, json.loads(out.read_text()) if out.exists() else {}


def test_sweep_slurm_starts_one_worker_on_the_shared_study(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://me:secret@db.example.org:5432/sweeps"
    odd = "trainer.optimizer=a b;$(touch pwned)"
    proc, seen = run_worker_script(tmp_path, "protein_working", "trainer.total_timesteps=4096",
                                   odd, NESTED_SWEEPER_STORAGE=url)
    assert proc.returncode == 0, proc.stderr
    assert seen["cwd"] == str(ROOT)
    assert seen["argv"] == [
        str(ROOT / "train.py"), "-m", "+sweep=protein_working", "run=protein_working",
        "hydra.sweeper.storage=${oc.env:NESTED_SWEEPER_STORAGE}", "+hardware=cuda",
        "trainer.total_timesteps=4096", odd,
    ]
    assert "secret" not in " ".join(seen["argv"])  # the password stays in the environment
    assert not (tmp_path / "pwned").exists() and not (ROOT / "pwned").exists()
    assert "sweep worker 3" in proc.stderr


def test_sweep_slurm_run_name_hardware_and_errors(tmp_path: Path) -> None:
    proc, seen = run_worker_script(tmp_path, "quick", "+hardware=cpu", SWEEP_RUN="q2",
                                   NESTED_SWEEPER_STORAGE="sqlite:////tmp/x.db")
    assert proc.returncode == 0, proc.stderr
    assert "run=q2" in seen["argv"] and seen["argv"].count("+hardware=cpu") == 1
    assert not any(a.startswith("+hardware=cuda") for a in seen["argv"])
    assert "only safe for workers on one node" in proc.stderr

    proc, seen = run_worker_script(tmp_path, "quick")
    assert proc.returncode == 2 and not seen
    assert "NESTED_SWEEPER_STORAGE is not set" in proc.stderr

    proc, seen = run_worker_script(tmp_path, NESTED_SWEEPER_STORAGE="sqlite:////tmp/x.db")
    assert proc.returncode == 2 and "usage: sbatch --array" in proc.stderr

    proc, _ = run_worker_script(tmp_path, "quick", NESTED_SWEEPER_STORAGE="sqlite:////tmp/x.db",
                                SLURM_SUBMIT_DIR=str(tmp_path))
    assert proc.returncode == 2 and "run sbatch from the repository root" in proc.stderr


def test_sweep_slurm_header_asks_for_one_run_worth_of_resources() -> None:
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", SWEEP_SLURM.read_text(), re.MULTILINE))
    assert flags["ntasks"] == "1" and flags["gpus-per-task"] == "1"
    assert "array" not in flags  # the number of workers is chosen at submission
    subprocess.run(["bash", "-n", str(SWEEP_SLURM)], check=True)
