"""Clusters through existing engines: SLURM (a real one-node cluster, and a stand-in `sbatch`
for what one node cannot show) and devops/sweep.slurm.

The real-cluster tests need `devops/slurm.sh start DIR` (.ci/run starts it and requires it);
without NESTED_SWEEPER_SLURM_CONF they are skipped with the reason. They submit with the real
`sbatch`, wait on `squeue`, kill with `scancel` and read the study the workers wrote.

What one node without GPUs, partitions or accounts cannot show (the GPU, partition and account
flags) is checked on a stand-in `sbatch` on PATH that keeps what it is handed and fails, as a
cluster without a free slot would; `srun` only has to exist (submitit checks for it). That
script is written by submitit's own SlurmExecutor, from the parameters Hydra's submitit
launcher maps from `conf/hydra/launcher/slurm.yaml`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import yaml

# One xdist worker runs the cluster tests (SLURM, Ray) one after another: the one-node
# cluster has the machine's 2 CPUs, and jobs of two tests at once would queue past timeouts.
pytestmark = pytest.mark.xdist_group("cluster")

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


def test_slurm_preset_takes_gpus_cpus_and_memory_from_the_hardware_profile(tmp_path: Path) -> None:
    """What a GPU-less one-node cluster cannot show: the GPU request of a GPU profile."""
    flags, text = submit_first_round(tmp_path, "+hardware=cuda")
    # conf/sweep/quick.yaml: num_samples 2, so one round is an array of 2, both at once.
    assert flags["array"] == "0-1%2"
    # conf/hardware/cuda.yaml, slurm: {gpus_per_task: 1, cpus_per_task: 8, mem_gb: 32}
    assert flags["gpus-per-node"] == "1"
    assert flags["cpus-per-task"] == "8"
    assert flags["mem"] == "32GB"
    assert flags["time"] == "240"
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
                                   odd, NESTED_SWEEPER_STORAGE=url, SLURM_JOB_ID="9",
                                   SLURM_ARRAY_JOB_ID="8", SLURM_ARRAY_TASK_ID="1")
    assert proc.returncode == 0, proc.stderr
    assert seen["cwd"] == str(ROOT)
    # No GPU in this job (no SLURM GPU variables): the cpu profile.
    assert seen["argv"] == [
        str(ROOT / "train.py"), "-m", "+sweep=protein_working", "run=protein_working",
        "hydra.sweeper.storage=${oc.env:NESTED_SWEEPER_STORAGE}", "+hardware=cpu",
        "trainer.total_timesteps=4096", odd,
    ]
    assert "secret" not in " ".join(seen["argv"])  # the password stays in the environment
    assert not (tmp_path / "pwned").exists() and not (ROOT / "pwned").exists()
    # The job id a user looks for is the log's name, slurm-sweep-8_1.out, not SLURM_JOB_ID 9.
    assert "sweep worker 1 of 'protein_working' on " in proc.stderr
    assert "(job 8_1, hardware cpu)" in proc.stderr


@pytest.mark.parametrize(("gpu_env", "expected"), [
    ({}, "cpu"),
    ({"SLURM_GPUS_ON_NODE": "0"}, "cpu"),
    ({"CUDA_VISIBLE_DEVICES": ""}, "cpu"),
    ({"SLURM_GPUS_ON_NODE": "1", "CUDA_VISIBLE_DEVICES": "0"}, "cuda"),
    ({"SLURM_JOB_GPUS": "2"}, "cuda"),
])
def test_sweep_slurm_default_profile_follows_the_allocation(
        tmp_path: Path, gpu_env: dict[str, str], expected: str) -> None:
    proc, seen = run_worker_script(tmp_path, "quick", NESTED_SWEEPER_STORAGE="sqlite:////tmp/x.db",
                                   **gpu_env)
    assert proc.returncode == 0, proc.stderr
    assert [a for a in seen["argv"] if "hardware" in a] == [f"+hardware={expected}"]


def test_sweep_slurm_gpu_profile_without_a_gpu_stops_with_the_command(tmp_path: Path) -> None:
    proc, seen = run_worker_script(tmp_path, "quick", SWEEP_HARDWARE="cuda",
                                   NESTED_SWEEPER_STORAGE="sqlite:////tmp/x.db")
    assert proc.returncode == 2 and not seen
    assert "profile 'cuda' wants 1 GPU(s) per run, and this job has none" in proc.stderr
    assert "SWEEP_HARDWARE=cuda devops/sweep.slurm --submit" in proc.stderr
    proc, seen = run_worker_script(tmp_path, "quick", SWEEP_HARDWARE="cuda", SLURM_JOB_GPUS="0",
                                   NESTED_SWEEPER_STORAGE="sqlite:////tmp/x.db")
    assert proc.returncode == 0, proc.stderr
    assert seen["argv"].count("+hardware=cuda") == 1


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

    proc, seen = run_worker_script(tmp_path, "quick", SWEEP_HARDWARE="nosuch",
                                   NESTED_SWEEPER_STORAGE="sqlite:////tmp/x.db")
    assert proc.returncode == 2 and not seen
    assert "no hardware profile 'nosuch'" in proc.stderr


def profile_resources(name: str) -> dict[str, int]:
    return yaml.safe_load((ROOT / "conf" / "hardware" / f"{name}.yaml").read_text())["slurm"]


def test_sweep_slurm_header_asks_for_one_cpu_run_and_no_gpu() -> None:
    """`sbatch devops/sweep.slurm` reads the header, not the profile: it must fit any cluster."""
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", SWEEP_SLURM.read_text(), re.MULTILINE))
    cpu = profile_resources("cpu")
    assert flags["ntasks"] == "1"
    assert not any("gpu" in key or "gres" in key for key in flags)
    assert flags["cpus-per-task"] == str(cpu["cpus_per_task"])
    assert flags["mem"] == f"{cpu['mem_gb']}G"
    assert "array" not in flags  # the number of workers is chosen at submission
    subprocess.run(["bash", "-n", str(SWEEP_SLURM)], check=True)


RECORDING_SBATCH = """#!/bin/sh
{python} -c 'import json, os, sys; json.dump({{"argv": sys.argv[1:], "cwd": os.getcwd(),
  "hardware": os.environ.get("SWEEP_HARDWARE")}}, open(os.environ["SBATCH_OUT"], "w"))' "$@"
echo "Submitted batch job 42"
"""


@pytest.mark.parametrize("profile", ["cuda", "pufferbox", "cpu"])
def test_sweep_slurm_submit_asks_for_the_profile_resources(tmp_path: Path, profile: str) -> None:
    """`--submit` turns the profile's slurm block into sbatch flags (GPUs: a stand-in sbatch)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(RECORDING_SBATCH.format(python=sys.executable))
    (bin_dir / "sbatch").chmod(0o755)
    out = tmp_path / "sbatch.json"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SBATCH_OUT": str(out),
           "NESTED_SWEEPER_STORAGE": "postgresql+psycopg2://u@db/sweeps", "SWEEP_HARDWARE": profile}
    proc = subprocess.run(
        ["bash", str(SWEEP_SLURM), "--submit", "--array=1-4", "--partition=gpu", "--account=proj42",
         "NAME", "trainer.seed=3"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Submitted batch job 42" in proc.stdout
    seen = json.loads(out.read_text())
    res = profile_resources(profile)
    gpu = [f"--gpus-per-task={res['gpus_per_task']}"] if res["gpus_per_task"] else []
    assert seen["argv"] == [
        *gpu, f"--cpus-per-task={res['cpus_per_task']}", f"--mem={res['mem_gb']}G",
        "--array=1-4", "--partition=gpu", "--account=proj42",
        str(SWEEP_SLURM), "NAME", "trainer.seed=3"]
    assert seen["cwd"] == str(ROOT)  # SLURM_SUBMIT_DIR: the job finds train.py there
    assert seen["hardware"] == profile  # the job runs the profile it was sized for


# ------------------------------------------------------------- a real one-node SLURM cluster
# Marked slow (30-50 s each: every worker starts Python, Hydra and torch): `make test` runs
# them, `make test-quick` does not.

# Tiny training runs (protein_working pins 32 envs; 768 steps let episodes of 24 steps end):
# a run takes about a second, a worker's start (Python, Hydra, torch) most of the rest.
TINY = "sweep.trainer.total_timesteps=768"


def cluster_env(conf: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "SLURM_CONF": str(conf), "PYTHON": sys.executable,
            "HYDRA_FULL_ERROR": "1", **extra}


def submit(env: dict[str, str], *args: str) -> str:
    """Submit from the repo root; the job id (`--parsable`: "J" or "J;cluster")."""
    proc = subprocess.run(["sbatch", "--parsable", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().split(";")[0]


def submit_workers(env: dict[str, str], logs: Path, *args: str, tasks: str = "1-2") -> str:
    logs.mkdir(exist_ok=True)
    return submit(env, f"--array={tasks}", f"--output={logs}/slurm-%x-%A_%a.out",
                  str(SWEEP_SLURM), *args)


def squeue(env: dict[str, str], job: str) -> list[str]:
    proc = subprocess.run(["squeue", "-h", "-j", job, "-o", "%i %T"], env=env,
                          capture_output=True, text=True, timeout=30)
    # A job gone from slurmctld's memory is "Invalid job id": as finished as an empty list.
    return proc.stdout.split("\n")[:-1] if proc.returncode == 0 else []


def wait_jobs(env: dict[str, str], job: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while squeue(env, job):
        if time.monotonic() > deadline:
            subprocess.run(["scancel", job], env=env, timeout=30)
            pytest.fail(f"job {job} still queued or running after {timeout}s")
        time.sleep(0.5)


def trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def states(ts: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in ts:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def storage_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'sweep.db'}"


def assert_sweep_done(ts: list[optuna.trial.FrozenTrial], planned: int, sweep_dir: Path) -> None:
    """Exactly the planned runs COMPLETE, each with its run directory; anything else is a
    worker's race recorded as surplus or a killed worker's run, never a run done twice."""
    complete = [t for t in ts if t.state.name == "COMPLETE"]
    assert len(complete) == planned, states(ts)
    assert not [t for t in ts if t.state.name == "RUNNING"]
    for t in complete:
        assert (sweep_dir / "runs" / t.user_attrs["run_name"]).is_dir()
    params = [json.dumps(t.params, sort_keys=True) for t in complete]
    assert len(set(params)) == planned  # no suggestion trained twice


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sbatch_array_of_workers_runs_the_sweep_once(
        slurm: Path, tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    """`sbatch --array=1-2 devops/sweep.slurm protein_working`, no flag or profile given: on
    this GPU-less node the workers pick the cpu profile; the sweep ends with exactly its
    3 runs, and submitting again (through --submit) runs nothing twice."""
    url = storage_url(backend, tmp_path, request)
    name = f"arr{backend[:2]}{uuid.uuid4().hex[:6]}"
    env = cluster_env(slurm, NESTED_SWEEPER_STORAGE=url, SWEEP_RUN=name)
    env.pop("SWEEP_HARDWARE", None)
    logs, train_dir = tmp_path / "logs", tmp_path / "train_dir"
    job = submit_workers(env, logs, "protein_working", f"train_dir={train_dir}", TINY)
    wait_jobs(env, job)

    sweep_dir = train_dir / "sweep" / name
    first = trials(url, name)
    assert_sweep_done(first, 3, sweep_dir)
    for t in first:
        if t.state.name != "COMPLETE":
            assert t.user_attrs["fail_reason"].startswith("surplus"), t.user_attrs
    for task in (1, 2):
        log = (logs / f"slurm-sweep-{job}_{task}.out").read_text()
        # The log names the worker by the same id as its file.
        assert f"sweep worker {task} of '{name}' on " in log
        assert f"(job {job}_{task}, hardware cpu)" in log
        assert "Traceback" not in log, log[-3000:]

    again = subprocess.run(
        ["bash", str(SWEEP_SLURM), "--submit", "--parsable", "--array=1-2",
         f"--output={logs}/slurm-%x-%A_%a.out", "protein_working", f"train_dir={train_dir}", TINY],
        cwd=tmp_path, env={**env, "SWEEP_HARDWARE": "cpu"}, capture_output=True, text=True,
        timeout=60)
    assert again.returncode == 0, again.stderr
    assert "profile 'cpu': sbatch --cpus-per-task=1 --mem=4G" in again.stderr
    job2 = again.stdout.strip().split(";")[0]
    wait_jobs(env, job2)
    second = trials(url, name)
    assert [(t.number, t.state.name) for t in second] == [(t.number, t.state.name) for t in first]
    assert len(list((sweep_dir / "runs").iterdir())) == 3
    for task in (1, 2):
        log = (logs / f"slurm-sweep-{job2}_{task}.out").read_text()
        assert f"(job {job2}_{task}, hardware cpu)" in log and "Traceback" not in log, log[-3000:]


def job_of(pid: int) -> str | None:
    """The SLURM array task (J_T) of a process on this node, from the environment slurmstepd
    gave it (scancel wants the J_T form: the task's own SLURM_JOB_ID is refused)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    env = dict(v.decode().split("=", 1) for v in environ if b"=" in v)
    if "SLURM_ARRAY_JOB_ID" not in env:
        return None
    return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_scancel_of_a_worker_then_resubmit_recovers(
        slurm: Path, tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    """One of two workers is scancelled while its run is RUNNING; the run is recorded FAIL
    (interrupted) and replaced, and after a resubmission the sweep holds exactly its runs."""
    url = storage_url(backend, tmp_path, request)
    name = f"kill{backend[:2]}{uuid.uuid4().hex[:6]}"
    env = cluster_env(slurm, NESTED_SWEEPER_STORAGE=url, SWEEP_RUN=name, SWEEP_HARDWARE="cpu")
    logs, train_dir = tmp_path / "logs", tmp_path / "train_dir"
    args = ("protein_working", f"train_dir={train_dir}", "rollout_count=4", TINY)
    job = submit_workers(env, logs, *args)

    victim, deadline = None, time.monotonic() + 180
    while victim is None:
        assert time.monotonic() < deadline, "no run was ever RUNNING under a SLURM job"
        try:
            for t in trials(url, name):
                pid = t.user_attrs.get("worker_pid")
                if t.state.name == "RUNNING" and pid and job_of(int(pid)):
                    victim = (t.number, int(pid), job_of(int(pid)))
                    break
        except KeyError:
            pass  # the study does not exist yet
        time.sleep(0.2)
    number, pid, slurm_job = victim
    subprocess.run(["scancel", slurm_job], env=env, check=True, timeout=30)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"worker {pid} outlived scancel {slurm_job}"
        time.sleep(0.2)
    wait_jobs(env, job)
    assert "CANCELLED" in (logs / f"slurm-sweep-{slurm_job}.out").read_text()

    job2 = submit_workers(env, logs, *args)
    wait_jobs(env, job2)
    ts = trials(url, name)
    assert_sweep_done(ts, 4, train_dir / "sweep" / name)
    killed = next(t for t in ts if t.number == number)
    assert killed.state.name == "FAIL", killed.user_attrs
    assert "interrupted" in killed.user_attrs.get("fail_reason", ""), killed.user_attrs


@pytest.mark.slow
def test_submitit_launcher_runs_a_round_as_a_slurm_job_array(slurm: Path, tmp_path: Path) -> None:
    """`hydra/launcher=slurm` with no profile: one round of 2 runs is one array of 2 tasks
    on the real cluster, asking for no GPU, and both runs COMPLETE."""
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    name = "onslurm"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", "+sweep=protein_working", f"run={name}",
         f"train_dir={tmp_path / 'train_dir'}", "hydra/launcher=slurm", "rollout_count=1",
         "num_samples=2", TINY, f"hydra.sweeper.storage={url}", "hydra.sweeper.summary=false"],
        cwd=ROOT, env=cluster_env(slurm), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ts = trials(url, name)
    assert_sweep_done(ts, 2, tmp_path / "train_dir" / "sweep" / name)
    assert len(ts) == 2
    folder = tmp_path / "train_dir" / "sweep" / name / ".submitit"
    scripts = list(folder.glob("*/*_submission.sh"))
    assert len(scripts) == 1  # one sbatch for the round
    job = scripts[0].parent.name
    flags = sbatch_flags(scripts[0].read_text())
    assert flags["array"] == "0-1%2"
    assert flags["gpus-per-node"] == "0" and flags["cpus-per-task"] == "1" and flags["mem"] == "4GB"
    # Each task of the array ran the pickled job and wrote its result.
    assert sorted(p.name for p in folder.glob(f"{job}_*/*_result.pkl")) == [
        f"{job}_0_0_result.pkl", f"{job}_1_0_result.pkl"]


@pytest.mark.slow
def test_a_gpu_request_refused_by_the_cluster_stops_the_sweep_and_resumes(
        slurm: Path, tmp_path: Path) -> None:
    """`+hardware=cuda` asks this GPU-less cluster for a GPU: sbatch refuses, the sweep stops
    at once with one line, no run is recorded as a failed run, nothing is queued; the same
    sweep with a profile the cluster can serve then resumes and completes."""
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    name = f"refused{uuid.uuid4().hex[:6]}"
    args = [sys.executable, str(ROOT / "train.py"), "-m", "+sweep=protein_working", f"run={name}",
            f"train_dir={tmp_path / 'train_dir'}", "hydra/launcher=slurm", "rollout_count=1",
            TINY, f"hydra.sweeper.storage={url}", "hydra.sweeper.summary=false"]
    env = cluster_env(slurm)
    proc = subprocess.run([*args, "+hardware=cuda"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Invalid generic resource" in errors[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    queued = subprocess.run(["squeue", "-h", "-n", name], env=env, capture_output=True, text=True)
    assert queued.stdout.strip() == ""
    refused = trials(url, name)
    assert refused and all(
        t.user_attrs.get("fail_reason", "").startswith("not launched") for t in refused)

    proc = subprocess.run([*args, "+hardware=cpu"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert states(trials(url, name)).get("COMPLETE") == 1


@pytest.mark.slow
def test_sbatch_workers_with_a_count_stop_at_it(slurm: Path, tmp_path: Path) -> None:
    """W&B agents' --count on SLURM: 2 workers × `--count 2` run 4 of the 6 planned runs."""
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    name = f"cnt{uuid.uuid4().hex[:6]}"
    env = cluster_env(slurm, NESTED_SWEEPER_STORAGE=url, SWEEP_RUN=name)
    logs, train_dir = tmp_path / "logs", tmp_path / "train_dir"
    job = submit_workers(env, logs, "--count", "2", "protein_working", "rollout_count=6",
                         f"train_dir={train_dir}", TINY)
    wait_jobs(env, job)
    ts = trials(url, name)
    assert states(ts).get("COMPLETE") == 4, states(ts)
    assert not [t for t in ts if t.state.name == "RUNNING"]
    for task in (1, 2):
        assert "max_runs=2" in (logs / f"slurm-sweep-{job}_{task}.out").read_text()
