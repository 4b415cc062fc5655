"""The sweeper's own cost per run, and parallel efficiency of joblib workers.

    .venv/bin/python bench/sweeper_overhead.py                      # everything (long: 1,000-run sweeps)
    .venv/bin/python bench/sweeper_overhead.py --runs 100 --methods random --no-parallel
    .venv/bin/python bench/sweeper_overhead.py --storage postgresql://u@127.0.0.1:5432/db

Overhead: a real `-m` sweep of an analytic objective (no sleep) through Hydra's basic launcher,
in a child process whose sweep loop is timed from inside. Per run it reports

- suggest: the search method's `suggest` (random, bayes or protein);
- bookkeeping: the rest of the loop outside the launcher (study reads and writes in the database,
  failure checks, progress): loop time − launcher time − suggest;
- launch: Hydra's launcher minus the objective (per-job config composition, run directory,
  `.hydra/` files, the sweeper's `config.yaml`/`suggestion.yaml`);
- total: suggest + bookkeeping + launch, i.e. the sweep loop's time minus the objective;
- sweeper_cpu / launch_cpu: the CPU time of suggest + bookkeeping and of the launcher (on a
  loaded machine the wall-clock columns include waiting for the disk and for other processes).

The peer, measured in the same run: Hydra's own basic sweeper running the same number of runs of
the same objective through the same launcher (`+i=range(0,N)`, one batch of N jobs, no
database, no search). Its total is its `sweep` call minus the objective, per run; `vs_basic` is
our total divided by its total. (hydra-optuna-sweeper pins optuna 2.10, which cannot share an
environment with this project's optuna; run in its own environment on this kind of machine in
November 2026 it took 0.23 s per trial in memory and 0.24-0.33 s with SQLite.)

One run per round (`num_samples: 1`, the sequential case: every round reads the whole history).
Process start-up and config loading happen once per sweep and are left out.

Parallel efficiency: runs that sleep `--sleep` seconds, `num_samples` = the largest worker count,
through the joblib launcher with 1, 2 and 4 workers. Efficiency = (runs × sleep / workers) / loop
time; the loop time includes starting the worker pool. `overhead_per_wave_s` is what each wave
of `workers` parallel runs costs beyond the sleep: efficiency for runs of T seconds is about
T / (T + overhead_per_wave_s).

The machine line (CPU, cores, load average) is printed with the figures: on a shared machine,
read them together. `--json PATH` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import describe  # bench/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
defaults:
  - override hydra/sweeper: {sweeper}
  - _self_
run: bench
x: 0.0
y: 0.0
opt: a
sleep: 0.0
sweep_params: null
hydra:
  sweep:
    dir: {out}/sweep/${{run}}
    subdir: runs/${{run}}.r.${{hydra.job.num}}
  job:
    chdir: false
"""
SWEEP = """\
# @package _global_
rollout_count: {rounds}
num_samples: {samples}
sweep:
  method: {method}
  metric: reward
  goal: maximize
  seed: 0
  parameters:
    x: {{min: -1.0, max: 1.0}}
    y: {{distribution: uniform, min: -2.0, max: 1.0}}
    opt: {{values: [a, b, c]}}
"""


# ---------------------------------------------------------------------------- child process


OBJECTIVE = {"calls": 0, "seconds": 0.0}


def objective(cfg: Any) -> dict[str, float]:
    start = time.perf_counter()
    if cfg.sleep:
        time.sleep(cfg.sleep)
    bonus = {"a": 0.0, "b": 0.5, "c": 0.25}[cfg.opt]
    result = {"reward": -((cfg.x - 0.3) ** 2) - (cfg.y + 1) ** 2 + bonus}
    OBJECTIVE["calls"] += 1
    OBJECTIVE["seconds"] += time.perf_counter() - start
    return result


def time_basic_sweeper(timers: dict[str, float]) -> None:
    # Hydra's plugin scan re-executes the sweeper's module, so wrap the instance it makes.
    from hydra.core.plugins import Plugins

    instantiate = Plugins.instantiate_sweeper

    def instantiate_and_time(self: Any, **kwargs: Any) -> Any:
        sweeper = instantiate(self, **kwargs)
        sweep = sweeper.sweep

        def timed(arguments: list[str]) -> Any:
            start = time.perf_counter()
            try:
                return sweep(arguments)
            finally:
                timers["loop"] += time.perf_counter() - start

        sweeper.sweep = timed
        return sweeper

    Plugins.instantiate_sweeper = instantiate_and_time


def install_timers(timers: dict[str, float]) -> None:
    """Time the sweep loop, the method's suggest and the launcher from inside the sweeper."""
    from nested_sweeper.engine import loop

    def timed(owner: Any, name: str, key: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                timers[key] += time.perf_counter() - start
                timers[f"{key}_cpu"] += time.process_time() - cpu

        setattr(owner, name, wrapper)

    timed(loop.SweepLoop, "run", "loop")
    timed(loop.SweepLoop, "suggest", "suggest")
    setup = loop.NestedSweeperImpl.setup

    def setup_and_time_launcher(self: Any, **kwargs: Any) -> None:
        setup(self, **kwargs)
        timed(self.launcher, "launch", "launch")

    loop.NestedSweeperImpl.setup = setup_and_time_launcher


def child(opts: argparse.Namespace) -> None:
    import hydra
    import optuna

    conf = Path(opts.dir) / "conf"
    (conf / "sweep").mkdir(parents=True, exist_ok=True)
    (conf / "config.yaml").write_text(CONFIG.format(
        out=opts.dir, sweeper="basic" if opts.method == "basic" else "nested"))
    if opts.method == "basic":
        child_basic(opts, conf)
        return
    (conf / "sweep" / "bench.yaml").write_text(SWEEP.format(
        rounds=opts.rounds, samples=opts.samples, method=opts.method))
    timers = {f"{k}{cpu}": 0.0 for k in ("loop", "suggest", "launch") for cpu in ("", "_cpu")}
    install_timers(timers)
    storage = opts.storage or f"sqlite:///{opts.dir}/sweep/bench/sweep.db"
    sys.argv = ["bench", "-m", "+sweep=bench", f"sleep={opts.sleep}", f"hydra.sweeper.storage={storage}",
                "hydra.sweeper.summary=false", "hydra.sweeper.max_failure_rate=0.0",
                *opts.launcher_args]
    start = time.perf_counter()
    hydra.main(config_path=str(conf), config_name="config", version_base="1.3")(objective)()
    wall = time.perf_counter() - start
    trials = optuna.load_study(study_name="bench", storage=storage).trials
    result = {
        **timers, "wall": wall, "runs": sum(t.state.name == "COMPLETE" for t in trials),
        "trials": len(trials),
        "objective": sum(float(t.user_attrs.get("runtime") or 0.0) for t in trials),
    }
    Path(opts.result).write_text(json.dumps(result))
    if opts.storage:
        optuna.delete_study(study_name="bench", storage=storage)


def child_basic(opts: argparse.Namespace, conf: Path) -> None:
    """The peer: Hydra's basic sweeper, the same objective and launcher, N runs."""
    import hydra

    timers = {"loop": 0.0}
    time_basic_sweeper(timers)
    sys.argv = ["bench", "-m", f"+i=range(0,{opts.rounds})", *opts.launcher_args]
    hydra.main(config_path=str(conf), config_name="config", version_base="1.3")(objective)()
    Path(opts.result).write_text(json.dumps({**timers, "runs": OBJECTIVE["calls"],
                                             "objective": OBJECTIVE["seconds"]}))


# ---------------------------------------------------------------------------- parent process


def run_child(method: str, rounds: int, samples: int, *, sleep: float = 0.0,
              launcher: list[str] = (), storage: str | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="sweeper-bench-") as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--child", "--dir", tmp, "--result", str(result),
               "--method", method, "--rounds", str(rounds), "--samples", str(samples),
               "--sleep", str(sleep), "--quiet"]
        if storage:
            cmd += ["--storage", storage]
        cmd += ["--", *launcher]
        env = {**os.environ, "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1"}
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not result.exists():
            raise RuntimeError(f"the benchmark sweep failed:\n{proc.stderr[-4000:]}")
        return json.loads(result.read_text())


def overhead_row(method: str, runs: int, figures: dict) -> dict[str, Any]:
    n = figures["runs"]
    assert n == runs, f"{method}: {n} of {runs} runs completed"
    launch = figures["launch"] - figures["objective"]
    book = figures["loop"] - figures["launch"] - figures["suggest"]
    per = {k: 1000 * v / n for k, v in
           {"suggest": figures["suggest"], "bookkeeping": book, "launch": launch}.items()}
    # CPU time of the sweeper's process: what the loop computes, without waits for the disk
    # or for other processes on a shared machine (the objective's CPU time is negligible).
    own_cpu = figures["loop_cpu"] - figures["launch_cpu"]
    return {"method": method, "runs": n, **{f"{k}_ms": round(v, 1) for k, v in per.items()},
            "total_ms": round(sum(per.values()), 1),
            "sweeper_cpu_ms": round(1000 * own_cpu / n, 1),
            "launch_cpu_ms": round(1000 * figures["launch_cpu"] / n, 1),
            "loop_s": round(figures["loop"], 1)}




def table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--methods", nargs="+", default=["random", "bayes", "protein"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--parallel-runs", type=int, default=32)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--storage", default=None, help="SQLAlchemy URL (default: SQLite file)")
    parser.add_argument("--no-overhead", action="store_true")
    parser.add_argument("--no-parallel", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures here")
    # child-process options
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("launcher_args", nargs="*", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        child(opts)
        return

    print(f"machine: {describe()}")
    storage = opts.storage or "SQLite file"
    out: dict[str, Any] = {"machine": describe(), "storage": storage}
    if not opts.no_overhead:
        rows = []
        for runs in opts.runs:
            peer = run_child("basic", runs, 1)
            assert peer["runs"] == runs, f"basic sweeper: {peer['runs']} of {runs} runs"
            basic_ms = 1000 * (peer["loop"] - peer["objective"]) / runs
            for method in opts.methods:
                figures = run_child(method, runs, 1, storage=opts.storage)
                row = overhead_row(method, runs, figures)
                row["vs_basic"] = f"{row['total_ms'] / basic_ms:.2f}x"
                rows.append(row)
                print(f"  {rows[-1]}", flush=True)
            rows.append({"method": "peer: Hydra basic sweeper", "runs": runs,
                         **{k: "-" for k in ("suggest_ms", "bookkeeping_ms", "launch_ms")},
                         "total_ms": round(basic_ms, 1), "sweeper_cpu_ms": "-",
                         "launch_cpu_ms": "-", "loop_s": round(peer["loop"], 1),
                         "vs_basic": "1.00x"})
            print(f"  {rows[-1]}", flush=True)
        out["overhead"] = rows
        print(f"\nsweeper overhead per run (basic launcher, {storage}, 1 run per round)")
        print(table(rows))
    if not opts.no_parallel:
        rows = []
        samples = max(opts.workers)
        rounds = max(1, opts.parallel_runs // samples)
        for k in opts.workers:
            figures = run_child("random", rounds, samples, sleep=opts.sleep, storage=opts.storage,
                                launcher=["hydra/launcher=joblib", f"hydra.launcher.n_jobs={k}"])
            ideal = figures["runs"] * opts.sleep / k
            # What the launcher and sweeper add to each wave of k parallel runs.
            per_wave = (figures["loop"] - ideal) / (figures["runs"] / k)
            rows.append({"workers": k, "runs": figures["runs"], "sleep_s": opts.sleep,
                         "ideal_s": round(ideal, 1), "loop_s": round(figures["loop"], 1),
                         "overhead_per_wave_s": round(per_wave, 2),
                         "efficiency": f"{100 * ideal / figures['loop']:.0f}%"})
            print(f"  {rows[-1]}", flush=True)
        out["parallel"] = rows
        print(f"\nparallel efficiency (joblib, {rounds} rounds × {samples} runs of {opts.sleep:g} s)")
        print(table(rows))
    print(f"\n{describe()}")
    if opts.json:
        Path(opts.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
