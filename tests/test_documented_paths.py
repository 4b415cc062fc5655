"""The paths a new user takes first, run as they run them (issue: documented paths).

Each test starts real processes: `devops/sweep.sh` with the sweep guide's own file, a foreign
Hydra app in another directory, `python train.py -m` with plain Hydra overrides, and reads
the study the sweep wrote.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import optuna
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
QUAD = ROOT / "tests" / "apps" / "quadratic" / "app.py"

# The sweep guide's "1-minute test sweep", verbatim (conf/sweep/my_test_sweep.yaml ships it).
GUIDE_FILE = """\
rollout_count: 3
num_samples: 1
sweep:
  parameters:
    trainer.learning_rate: {min: 0.0001, max: 0.01, mean: 0.001, scale: 1, distribution: log_normal}
    trainer.batch_size: {min: 32, max: 128, mean: 64, scale: 1, distribution: uniform_pow2}
    trainer.gamma: {min: 0.95, max: 0.999, mean: 0.99, scale: 1, distribution: uniform}
  metric: reward
  goal: maximize
  trainer: {total_timesteps: 2048, evaluate_interval: 10, checkpoint_interval: 20, minibatch_size: 16, num_steps: 32}
"""
PROFILES = ("cpu", "macbook", "aws", "pufferbox", "cuda")


def run(cmd: list[str], cwd: Path = ROOT, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "WANDB_MODE": "offline", **env}
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def states(db: Path, study: str) -> list[str]:
    storage = f"sqlite:///{db}"
    return [t.state.name for t in optuna.load_study(study_name=study, storage=storage).trials]


def guide_command(tmp: Path, run_name: str, profile: str) -> list[str]:
    # The guide's command; train_dir= only moves the output out of the repository.
    return ["bash", "devops/sweep.sh", f"run={run_name}", "++sweep_params=sweep/my_test_sweep",
            f"+hardware={profile}", "trainer.num_workers=1", f"train_dir={tmp}"]


# ---------------------------------------------------------------------------- the guide's sweep


def test_the_shipped_guide_file_is_the_guide_file_verbatim() -> None:
    assert (ROOT / "conf" / "sweep" / "my_test_sweep.yaml").read_text() == GUIDE_FILE


def test_guide_sweep_finishes_three_runs_in_under_a_minute(tmp_path: Path) -> None:
    start = time.monotonic()
    proc = run(guide_command(tmp_path, "my_test", "macbook"))
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert states(tmp_path / "sweep" / "my_test" / "sweep.db", "my_test") == ["COMPLETE"] * 3
    assert elapsed < 60, f"{elapsed:.1f} s"


@pytest.mark.slow
def test_guide_sweep_completes_under_every_hardware_profile(tmp_path: Path) -> None:
    """Two sweeps at a time (2 cores); each must finish 3/3 (cuda falls back to the CPU)."""
    others = [p for p in PROFILES if p != "macbook"]
    for pair in (others[:2], others[2:]):
        procs = {p: subprocess.Popen(guide_command(tmp_path, f"g_{p}", p), cwd=ROOT,
                                     env={**os.environ, "WANDB_MODE": "offline"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for p in pair}
        for profile, proc in procs.items():
            err = proc.communicate(timeout=400)[1]
            assert proc.returncode == 0, f"{profile}: {err[-2000:]}"
            db = tmp_path / "sweep" / f"g_{profile}" / "sweep.db"
            assert states(db, f"g_{profile}") == ["COMPLETE"] * 3, profile


@pytest.mark.parametrize("profile", PROFILES)
def test_every_shipped_sweep_passes_the_trainer_check_under_every_profile(cli, profile: str) -> None:
    """validate runs the trainer's size check on sampled points: no shipped file fails it."""
    # the files the repo ships (git-tracked), not a scratch file another test is writing
    listed = subprocess.run(["git", "ls-files", "conf/sweep/*.yaml"], cwd=ROOT, text=True,
                            capture_output=True, check=True).stdout.split()
    assert listed
    for path in map(Path, listed):
        code, _, err = cli("validate", path.stem, f"+hardware={profile}")
        assert code == 0, f"{path.name} +hardware={profile}: {err}"
        assert "fail the app's check" not in err, f"{path.name} +hardware={profile}: {err}"


BAD_GEOMETRY = """\
# @package _global_
rollout_count: 2
sweep:
  parameters:
    trainer.batch_size: {min: 32, max: 128, distribution: uniform_pow2}
  trainer: {num_steps: 48, total_timesteps: 512}
"""


def test_a_space_the_trainer_never_accepts_is_refused_before_any_run(tmp_path: Path, cli) -> None:
    path = tmp_path / "never.yaml"
    path.write_text(BAD_GEOMETRY)
    code, _, err = cli("validate", str(path))
    assert code == 2
    assert "trainer.batch_size" in err and "num_steps (48)" in err and "uniform_pow2" in err
    proc = run([sys.executable, "train.py", "-m", f"++sweep_params={path}", "run=never",
                f"train_dir={tmp_path}"])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "no sampled point" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "sweep" / "never" / "runs").exists()  # no run was launched


def test_non_power_of_two_minibatch_split_names_uniform_pow2(tmp_path: Path, cli) -> None:
    path = tmp_path / "mb.yaml"
    path.write_text("# @package _global_\nsweep:\n  parameters:\n"
                    "    trainer.minibatch_size: {values: [96, 100]}\n"
                    "  trainer: {batch_size: 512, total_timesteps: 512}\n")
    code, _, err = cli("validate", str(path))
    assert code == 2
    assert "not divisible by minibatch_size" in err and "uniform_pow2" in err


# ---------------------------------------------------------------------------- defaults


def test_a_file_without_method_runs_protein(tmp_path: Path, cli) -> None:
    code, out, err = cli("validate", "my_test_sweep")
    assert code == 0, err
    assert "method protein" in out


def test_repeated_runs_of_one_setting_get_different_seeds_unless_pinned(tmp_path: Path) -> None:
    def seeds(run_name: str, *extra: str) -> list[int]:
        proc = run([sys.executable, "train.py", "-m", "+sweep=empty", f"run={run_name}",
                    f"train_dir={tmp_path}", "rollout_count=2", "trainer.total_timesteps=512",
                    "hydra.sweeper.summary=false", *extra])
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs = sorted((tmp_path / "sweep" / run_name / "runs").iterdir())
        return [yaml.safe_load((r / "config.yaml").read_text())["trainer"]["seed"] for r in runs]

    assert seeds("free") == [0, 1]  # the trial number
    assert seeds("pinned", "trainer.seed=7") == [7, 7]


# ---------------------------------------------------------------------------- plain Hydra habits


FOREIGN_APP = """\
import hydra


@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg):
    print("SWEEPER", type(hydra.core.hydra_config.HydraConfig.get().sweeper).__name__)
    return {"value": (cfg.x - 2) ** 2}


if __name__ == "__main__":
    main()
"""


def test_plain_multirun_runs_the_grid_with_study_and_results(tmp_path: Path) -> None:
    """`-m x=1,2,3` in a foreign app (another directory, no sweep file) runs the grid."""
    (tmp_path / "app.py").write_text(FOREIGN_APP)
    proc = run([sys.executable, "app.py", "-m", "hydra/sweeper=nested", "+x=1,2,3",
                "hydra.sweep.dir=out"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "out"
    assert sorted(states(out / "sweep.db", "sweep")) == ["COMPLETE"] * 3
    assert yaml.safe_load((out / "multirun.yaml").read_text())["hydra"]["sweeper"]["max_runs"] is None
    results = yaml.safe_load((out / "optimization_results.yaml").read_text())
    assert results["best_params"] in ({"+x": 1}, {"+x": 3})  # value 1, the highest
    assert results["best_value"] == 1.0
    assert "Best run:" in proc.stdout


def test_plain_multirun_of_train_py_keeps_runs_that_return_nothing(tmp_path: Path) -> None:
    proc = run([sys.executable, str(QUAD), "-m", "fail=none", "x=0.1,0.2", "y=0,1"],
               cwd=tmp_path, QUAD_OUT=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert states(tmp_path / "sweep" / "quad" / "sweep.db", "quad") == ["COMPLETE"] * 4


def test_a_sweep_writes_multirun_and_optimization_results(tmp_path: Path) -> None:
    proc = run([sys.executable, str(QUAD), "-m", "+sweep=basic", "rollout_count=1"],
               cwd=tmp_path, QUAD_OUT=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    sweep_dir = tmp_path / "sweep" / "quad"
    assert (sweep_dir / "multirun.yaml").is_file()
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    study = optuna.load_study(study_name="quad", storage=f"sqlite:///{sweep_dir / 'sweep.db'}")
    assert results["best_value"] == pytest.approx(study.best_value)
    assert results["best_params"] == study.best_params


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("content", [b"# @package _global_\nsweep:\n  parameters: {a: [1, 2\n",
                                     bytes(range(128, 256)), b""])
def test_bad_sweep_files_give_one_line_and_exit_2_on_every_entry_point(
        tmp_path: Path, content: bytes) -> None:
    name = f"zz_test_bad_{os.getpid()}"  # one file per xdist worker
    group = ROOT / "conf" / "sweep" / f"{name}.yaml"
    group.write_bytes(content)
    try:
        for cmd in ([sys.executable, "train.py", "-m", f"+sweep={name}", f"train_dir={tmp_path}"],
                    ["bash", "devops/sweep.sh", "run=zz", f"++sweep_params=sweep/{name}",
                     f"train_dir={tmp_path}"],
                    [sys.executable, "-m", "nested_sweeper.cli", "validate",
                     name]):
            proc = run(cmd)
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            assert proc.returncode == 2, (cmd, proc.stderr[-2000:])
            assert len(lines) == 1 and lines[0].startswith("error: "), (cmd, proc.stderr)
            assert f"{name}.yaml" in lines[0]
    finally:
        group.unlink()


def test_an_empty_file_is_refused_alike_by_validate_and_migrate(tmp_path: Path, cli) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n")
    code_v, _, err_v = cli("validate", str(path))
    code_m, _, err_m = cli("migrate", str(path))
    assert (code_v, code_m) == (2, 2)
    assert str(path.name) in err_v and str(path.name) in err_m
    assert "empty" in err_v and "empty" in err_m


def test_a_wandb_file_at_validate_points_to_migrate(tmp_path: Path, cli) -> None:
    path = tmp_path / "wandb.yaml"
    path.write_text("program: train.py\nmethod: bayes\nmetric: {name: reward, goal: maximize}\n"
                    "parameters:\n  trainer.learning_rate: {min: 0.001, max: 0.01}\n")
    code, _, err = cli("validate", str(path))
    assert code == 2
    assert f"nested-sweep migrate {path}" in err


# ---------------------------------------------------------------------------- reporting


def test_logs_name_the_file_absolutely_and_rounds_never_pass_rollout_count(tmp_path: Path) -> None:
    """Started from another directory; every third run fails and is replaced in its round."""
    proc = run([sys.executable, str(QUAD), "-m", "+sweep=basic", "fail=thirds",
                "hydra.sweeper.max_failure_rate=1.0"], cwd=tmp_path, QUAD_OUT=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stdout + proc.stderr
    assert f"sweep '{QUAD.parent / 'conf' / 'sweep' / 'basic.yaml'}'" in log
    rounds = [(int(a), int(b)) for a, b in re.findall(r"\[round (\d+)/(\d+)\]", log)]
    assert rounds and all(1 <= r <= total == 3 for r, total in rounds), rounds
    study = optuna.load_study(study_name="quad", storage=f"sqlite:///{tmp_path}/sweep/quad/sweep.db")
    assert {t.user_attrs["round"] for t in study.trials} == {0, 1, 2}


# ---------------------------------------------------------------------------- workers with a count


def _quad_worker(tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(QUAD), "-m", "+sweep=basic", "rollout_count=2",
         "hydra.sweeper.summary=false", "sleep=0.5", *extra],
        cwd=tmp_path, env={**os.environ, "QUAD_OUT": str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # Hydra logs to stdout


def test_max_runs_caps_one_worker_exactly(tmp_path: Path) -> None:
    proc = _quad_worker(tmp_path, "hydra.sweeper.max_runs=3")
    err = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, err[-2000:]
    assert states(tmp_path / "sweep" / "quad" / "sweep.db", "quad") == ["COMPLETE"] * 3
    assert "max_runs=3" in err


def test_two_workers_with_max_runs_two_finish_a_four_run_study(tmp_path: Path) -> None:
    procs = [_quad_worker(tmp_path, "hydra.sweeper.max_runs=2") for _ in range(2)]
    errs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    got = states(tmp_path / "sweep" / "quad" / "sweep.db", "quad")
    assert got.count("COMPLETE") == 4 and "RUNNING" not in got


# ---------------------------------------------------------------------------- launcher errors


def test_a_refused_submission_stops_at_once_and_fails_no_run(tmp_path: Path) -> None:
    """submitit's SLURM launcher where there is no sbatch: no run starts, none is blamed."""
    env_path = "/usr/bin:/bin"  # no sbatch here (a real cluster is tested in test_slurm.py)
    proc = run([sys.executable, str(QUAD), "-m", "+sweep=basic", "hydra/launcher=submitit_slurm",
                f"hydra.launcher.submitit_folder={tmp_path}/submitit"], cwd=tmp_path,
               QUAD_OUT=str(tmp_path), PATH=f"{Path(sys.executable).parent}:{env_path}")
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and "launcher started none of the runs" in lines[0]
    assert "Traceback" not in proc.stderr
    study = optuna.load_study(study_name="quad", storage=f"sqlite:///{tmp_path}/sweep/quad/sweep.db")
    assert [t for t in study.trials if t.state.name == "FAIL" and not t.user_attrs.get("surplus")] == []
    # Resumable: the same study runs to completion once the launcher works.
    again = run([sys.executable, str(QUAD), "-m", "+sweep=basic", "hydra.sweeper.summary=false"],
                cwd=tmp_path, QUAD_OUT=str(tmp_path))
    assert again.returncode == 0, again.stderr[-2000:]
    assert states(tmp_path / "sweep" / "quad" / "sweep.db", "quad").count("COMPLETE") == 6


# ---------------------------------------------------------------------------- installs


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    for path in [*ROOT.joinpath("nested_sweeper").rglob("*.py"),
                 *ROOT.joinpath("hydra_plugins").rglob("*.py"), *ROOT.joinpath("train").rglob("*.py"),
                 ROOT / "train.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"nested_sweeper", "hydra_plugins", "train"}


# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"hydra": "hydra-core", "yaml": "pyyaml", "ruamel": "ruamel.yaml",
                 "sklearn": "scikit-learn"}


def test_every_direct_import_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=\[; ]", req)[0].lower() for req in project["dependencies"]}
    missing = {DISTRIBUTIONS.get(m, m) for m in _third_party_imports()} - declared
    assert not missing, f"imported but not in [project.dependencies]: {sorted(missing)}"


def test_a_built_wheel_gives_any_hydra_app_the_plugin(tmp_path: Path) -> None:
    """`pip install .`: the wheel alone (on PYTHONPATH, ahead of this checkout) is found by
    Hydra's plugin scan in a foreign app run from another directory."""
    wheels = tmp_path / "wheels"
    build = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), "."])
    assert build.returncode == 0, build.stderr[-2000:]
    target = tmp_path / "site"
    wheel = next(wheels.glob("hydra_nested_sweeper-*.whl"))
    inst = run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                str(wheel)])
    assert inst.returncode == 0, inst.stderr[-2000:]
    app = tmp_path / "elsewhere"
    app.mkdir()
    (app / "app.py").write_text(FOREIGN_APP.replace(
        'print("SWEEPER"', 'import hydra_plugins.nested_sweeper as p; print("FROM", p.__file__)\n'
        '    print("SWEEPER"'))
    proc = run([sys.executable, "app.py", "-m", "hydra/sweeper=nested", "+x=1,2",
                "hydra.sweep.dir=out", "hydra.sweeper.summary=false"], cwd=app,
               PYTHONPATH=str(target))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"FROM {target}" in proc.stdout
    assert proc.stdout.count("SWEEPER") == 2  # both runs of the grid ran


def test_make_install_gives_a_foreign_app_the_plugin(tmp_path: Path) -> None:
    """This environment is `make install`'s (pip's default editable mode)."""
    (tmp_path / "app.py").write_text(FOREIGN_APP)
    proc = run([sys.executable, "app.py", "-m", "hydra/sweeper=nested", "+x=2,3",
                "hydra.sweep.dir=out", "hydra.sweeper.summary=false"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert states(tmp_path / "out" / "sweep.db", "sweep") == ["COMPLETE"] * 2


# ---------------------------------------------------------------------------- racing workers


def _two_protein_workers(tmp_path: Path, *extra: str) -> None:
    procs = [_quad_worker(tmp_path, "hydra.sweeper.method=protein", "num_samples=2",
                          "rollout_count=3", *extra) for _ in range(2)]
    errs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_workers_starting_together_run_distinct_points(tmp_path: Path, backend: str,
                                                          request: pytest.FixtureRequest) -> None:
    """Claim before suggest: the second worker takes the batch's next points, not the centre."""
    storage = f"sqlite:///{tmp_path}/race.db"
    if backend == "postgres":
        storage = request.getfixturevalue("pg_url")
    study_name = f"race_{backend}_{os.getpid()}_{time.monotonic_ns()}"
    _two_protein_workers(tmp_path, f"hydra.sweeper.storage={storage}",
                               f"hydra.sweeper.study_name={study_name}")
    trials = optuna.load_study(study_name=study_name, storage=storage).trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    surplus = [t for t in trials if str(t.user_attrs.get("fail_reason", "")).startswith("surplus")]
    assert len(complete) == 6
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 6  # no point twice
    per_worker = Counter(t.user_attrs.get("worker_pid") for t in surplus)
    assert all(n <= 1 for n in per_worker.values()), [t.user_attrs for t in surplus]


def test_watch_ends_when_a_sweep_stops_early(tmp_path: Path) -> None:
    """A grid that runs out before rollout_count × num_samples: `--watch` still ends."""
    proc = run([sys.executable, str(QUAD), "-m", "+sweep=grid", "rollout_count=50",
                "hydra.sweeper.summary=false"], cwd=tmp_path, QUAD_OUT=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    watch = run([sys.executable, "-m", "nested_sweeper.cli", "summary", "quad",
                 "--watch", "--train-dir", str(tmp_path)], timeout=60)
    assert watch.returncode == 0, watch.stderr
    assert "sweep quad exhausted" in watch.stdout
