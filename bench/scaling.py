"""Scale-out: 1 vs 2 workers through each path, against the ideal, in one run.

    export SLURM_CONF=$(bash devops/slurm.sh start /tmp/slurm)     # a one-node cluster
    .venv/bin/python bench/scaling.py --json bench/results/scaling.json --md bench/results/scaling.md
    .venv/bin/python bench/scaling.py --paths joblib --runs 8 --sleep 2   # no cluster needed

Workloads (each a real `-m` sweep, timed from the first command to the last job's end, so the
figures include Python/Hydra start-up, SLURM scheduling and the database):

- sleep: `tests/apps/scale/app.py` runs that sleep `--sleep` seconds (no CPU), `--runs` of them;
  ideal = runs × sleep / workers.
- trainer: `train.py +sweep=protein_working` with `--timesteps` steps per run, `--train-runs`
  of them; its ideal for 2 workers is half the 1-worker time of the same path, measured here.

Paths:

- sbatch: a job array of sweep workers on SLURM (`sbatch --array=1-W`), each worker one process
  running its runs one at a time (`num_samples=1`). The trainer goes through
  `devops/sweep.slurm` itself; the sleep app through an sbatch script doing what it does.
- submitit: one driver, each round of W runs one SLURM job array (`hydra/launcher=slurm`).
- joblib: one driver, each round of W runs in a pool of W processes (`hydra/launcher=joblib`).
- ray: one driver, each round of W runs as Ray tasks on a local Ray of W CPUs
  (`hydra/launcher=ray`, with `--ray-python`, the interpreter of `make ray-env`).

Per path and worker count: wall time and efficiency = ideal / wall (start-up included); then,
start-up = first command to the first run begun (its suggestion.yaml), time per run = the
span from then to the last run finished (the study's record) × workers / runs, and
for sleep runs the overhead per run = time per run − sleep: what each run costs beyond its own
work once the workers are up. Runs of T seconds reach about T / (T + overhead) efficiency in
the steady state, and the start-up is paid once per worker (sbatch) or once per sweep.

Not part of the tests or CI: it needs a cluster and minutes of an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe  # bench/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "apps" / "scale" / "app.py"
SWEEP_SLURM = ROOT / "devops" / "sweep.slurm"
PY = sys.executable




def env_for(out: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SCALE_OUT": str(out), "HYDRA_FULL_ERROR": "1", "PYTHON": PY,
           "WANDB_MODE": "disabled", "WANDB_SILENT": "true", **extra}
    env.pop("SWEEP_HARDWARE", None)
    return env


def check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}):\n{(proc.stderr or proc.stdout)[-3000:]}")


def wait_jobs(env: dict[str, str], job: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        q = subprocess.run(["squeue", "-h", "-j", job], env=env, capture_output=True, text=True)
        if q.returncode != 0 or not q.stdout.strip():
            return
        if time.monotonic() > deadline:
            subprocess.run(["scancel", job], env=env)
            raise SystemExit(f"job {job} still running after {timeout}s")
        time.sleep(0.25)


def study_times(url: str, name: str, out: Path) -> tuple[int, float, float]:
    """COMPLETE runs; when the first run began (its suggestion.yaml, the first thing a run
    writes, after the launcher has started it); the span from then to the last run's end."""
    import optuna

    study = optuna.load_study(study_name=name, storage=url)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    began = min(p.stat().st_mtime for p in out.rglob("suggestion.yaml"))
    last = max(t.datetime_complete for t in done).timestamp()
    return len(done), began, last - began


# ---------------------------------------------------------------------------------- one sweep


def sleep_args(url: str, runs: int, per_round: int, sleep: float) -> list[str]:
    return [str(APP), "-m", "+sweep=random", f"hydra.searchpath=[file://{ROOT / 'conf'}]",
            f"rollout_count={runs // per_round}", f"num_samples={per_round}", f"sleep={sleep}",
            f"hydra.sweeper.storage={url}", "hydra.sweeper.summary=false"]


def train_args(url: str, runs: int, per_round: int, timesteps: int, out: Path) -> list[str]:
    return [str(ROOT / "train.py"), "-m", "+sweep=protein_working", "run=scale",
            f"train_dir={out}", f"rollout_count={runs // per_round}", f"num_samples={per_round}",
            f"sweep.trainer.total_timesteps={timesteps}", f"hydra.sweeper.storage={url}",
            "+hardware=cpu", "hydra.sweeper.summary=false"]  # as sweep.slurm picks on this node


def run_driver(python: str, args: list[str], launcher: list[str], env: dict[str, str],
               out: Path) -> float:
    t0 = time.monotonic()
    proc = subprocess.run([python, *args, *launcher], cwd=out, env=env, capture_output=True,
                          text=True, timeout=1800)
    wall = time.monotonic() - t0
    check(proc, " ".join(launcher))
    return wall


def run_sbatch(workload: str, workers: int, runs: int, opts: argparse.Namespace,
               env: dict[str, str], url: str, out: Path) -> float:
    logs = f"--output={out}/slurm-%x-%A_%a.out"
    t0 = time.monotonic()
    if workload == "trainer":
        cmd = ["sbatch", "--parsable", f"--array=1-{workers}", logs, str(SWEEP_SLURM),
               "protein_working", f"train_dir={out}", f"rollout_count={runs}", "num_samples=1",
               f"sweep.trainer.total_timesteps={opts.timesteps}", "hydra.sweeper.summary=false"]
        env = {**env, "NESTED_SWEEPER_STORAGE": url, "SWEEP_RUN": "scale"}
    else:
        # What devops/sweep.slurm does (one worker per array task on the shared study), for
        # the sleep app instead of train.py.
        worker = shlex.join([PY, *sleep_args(url, runs, 1, opts.sleep)])
        cmd = ["sbatch", "--parsable", f"--array=1-{workers}", "--cpus-per-task=1", "--mem=1G",
               "--job-name=sweep", logs, f"--chdir={out}", f"--wrap={worker}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    check(proc, "sbatch")
    wait_jobs(env, proc.stdout.strip().split(";")[0], timeout=1800)
    return time.monotonic() - t0


def measure(path: str, workload: str, workers: int, opts: argparse.Namespace) -> dict:
    runs = opts.runs if workload == "sleep" else opts.train_runs
    out = Path(tempfile.mkdtemp(prefix=f"scaling-{path}-{workload}-{workers}-", dir=opts.tmp))
    url = f"sqlite:///{out / 'sweep.db'}"
    env = env_for(out)
    name = "scale"
    t_submit = time.time()
    if path == "sbatch":
        wall = run_sbatch(workload, workers, runs, opts, env, url, out)
    else:
        launcher = {
            "submitit": ["hydra/launcher=slurm"],
            "joblib": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={workers}"],
            "ray": ["hydra/launcher=ray", f"+hydra.launcher.ray.init.num_cpus={workers}",
                    "+hydra.launcher.ray.init.include_dashboard=false"],
        }[path]
        args = (sleep_args(url, runs, workers, opts.sleep) if workload == "sleep"
                else train_args(url, runs, workers, opts.timesteps, out))
        python = opts.ray_python if path == "ray" else PY
        wall = run_driver(python, args, launcher, env, out)
    done, first, span = study_times(url, name, out)
    if done != runs:
        raise SystemExit(f"{path}/{workload}/{workers}: {done} of {runs} runs COMPLETE ({out})")
    shutil.rmtree(out, ignore_errors=True)
    # start-up: from the first command to the first run begun (processes, imports, Ray,
    # scheduling, the pool); per run: the steady state, the runs' span shared among workers.
    row = {"path": path, "workload": workload, "workers": workers, "runs": runs,
           "wall_s": round(wall, 2), "startup_s": round(first - t_submit, 2),
           "per_run_s": round(span * workers / runs, 2)}
    print(f"  {path:8} {workload:7} {workers} worker(s): {runs} runs in {wall:6.1f} s "
          f"(start-up {row['startup_s']:.1f} s)", flush=True)
    return row


def summarize(rows: list[dict], opts: argparse.Namespace) -> None:
    """Ideal, efficiency and overhead per run for each row (in place)."""
    one = {(r["path"], r["workload"]): r["wall_s"] for r in rows if r["workers"] == 1}
    for r in rows:
        if r["workload"] == "sleep":
            ideal = r["runs"] * opts.sleep / r["workers"]
        else:
            # The trainer's own time is not known apart from its overhead: the ideal for W
            # workers is the same path's 1-worker time divided by W.
            base = one.get((r["path"], r["workload"]))
            ideal = base / r["workers"] if base else None
        if ideal is None:
            continue
        r["ideal_s"] = round(ideal, 2)
        if r["workload"] == "sleep" or r["workers"] > 1:  # a 1-worker trainer row is the base
            r["efficiency"] = round(ideal / r["wall_s"], 3)
        if r["workload"] == "sleep":
            r["overhead_per_run_s"] = round(r["per_run_s"] - opts.sleep, 2)


def markdown(rows: list[dict], opts: argparse.Namespace, header: str) -> str:
    lines = [header, "",
             "| path | workload | workers | runs | ideal | measured | efficiency | start-up "
             "| time per run | overhead per run |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        what = f"sleep {opts.sleep:g} s" if r["workload"] == "sleep" else f"trainer {opts.timesteps} steps"
        ideal = f"{r['ideal_s']:.1f} s" if "ideal_s" in r else "-"
        if r["workload"] == "trainer" and r["workers"] == 1:
            ideal = "(the base)"
        eff = f"{r['efficiency']:.0%}" if "efficiency" in r else "-"
        over = f"{r['overhead_per_run_s']:.2f} s" if "overhead_per_run_s" in r else "-"
        lines.append(f"| {r['path']} | {what} | {r['workers']} | {r['runs']} | {ideal} | "
                     f"{r['wall_s']:.1f} s | {eff} | {r['startup_s']:.1f} s | "
                     f"{r['per_run_s']:.2f} s | {over} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", default="sbatch,submitit,joblib,ray",
                    help="comma-separated: sbatch, submitit, joblib, ray")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--runs", type=int, default=8, help="sleep runs per sweep (divisible by workers)")
    ap.add_argument("--sleep", type=float, default=2.0, help="seconds each sleep run sleeps")
    ap.add_argument("--train-runs", type=int, default=4, help="trainer runs per sweep; 0: none")
    ap.add_argument("--timesteps", type=int, default=4096, help="training steps per trainer run")
    ap.add_argument("--train-paths", default="sbatch,joblib", help="paths that run the trainer")
    ap.add_argument("--ray-python", default=str(ROOT / ".venv-ray" / "bin" / "python"))
    ap.add_argument("--tmp", default=None, help="where the sweeps write (default: the system's)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--md", type=Path)
    ap.add_argument("--render", type=Path, help="only print (and --md) the table of a --json file")
    opts = ap.parse_args()
    if opts.render:
        saved = json.loads(opts.render.read_text())
        opts.sleep, opts.timesteps = saved["sleep_s"], saved["timesteps"]
        for r in saved["rows"]:  # derived columns are derived again
            for key in ("ideal_s", "efficiency", "overhead_per_run_s"):
                r.pop(key, None)
        summarize(saved["rows"], opts)
        table = markdown(saved["rows"], opts, saved["header"])
        print(table)
        if opts.md:
            opts.md.write_text(table)
        if opts.json:
            opts.json.write_text(json.dumps(saved, indent=2) + "\n")
        return

    paths = opts.paths.split(",")
    workers = [int(w) for w in opts.workers.split(",")]
    if {"sbatch", "submitit"} & set(paths) and not os.environ.get("SLURM_CONF") \
            and not Path("/etc/slurm/slurm.conf").exists():
        raise SystemExit("sbatch/submitit need a cluster: export SLURM_CONF=$(bash devops/slurm.sh start DIR)")
    if "ray" in paths and not Path(opts.ray_python).exists():
        raise SystemExit(f"ray needs {opts.ray_python}: run `make ray-env`")

    start = describe()
    print(f"machine: {start}", flush=True)
    t0 = time.monotonic()
    rows = []
    for path in paths:
        for w in workers:
            rows.append(measure(path, "sleep", w, opts))
        if opts.train_runs and path in opts.train_paths.split(","):
            for w in workers:
                rows.append(measure(path, "trainer", w, opts))
    summarize(rows, opts)
    header = (f"Scale-out, {time.strftime('%Y-%m-%d')} ({start}; load average at the end "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {time.monotonic() - t0:.0f} s in all)")
    table = markdown(rows, opts, header)
    print(table)
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps({"header": header, "machine": start, "sleep_s": opts.sleep,
                                         "timesteps": opts.timesteps, "rows": rows}, indent=2) + "\n")
    if opts.md:
        opts.md.parent.mkdir(parents=True, exist_ok=True)
        opts.md.write_text(table)


if __name__ == "__main__":
    main()
