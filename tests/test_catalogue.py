"""The sweep guides' catalogue (`conf/sweep/`): every named file validates with the guide's
size, and runs end to end through the wrapper, `devops/sweep.sh run=X
++sweep_params=sweep/NAME +hardware=cpu`, at smoke settings (one run, a few hundred steps).
The shipped files keep their own sizes; only the command line shrinks them here."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# name: (parameters, rounds) as the guides list them; None: at least 10 parameters.
CATALOGUE = {
    "protein_working": (5, 3),
    "protein_lightning": (1, 3),
    "protein_fast": (8, 10),
    "protein_simple": (4, 20),
    "full_protein": (None, 50),
    "protein_complex": (None, None),
    "my_sweep": (None, None),
    "empty": (0, None),
}


def spec_of(name: str):
    from nested_sweeper.spec.spec import load_spec

    return load_spec(ROOT / "conf" / "sweep" / f"{name}.yaml")


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_catalogue_file_validates_at_the_guides_size(cli, name: str) -> None:
    code, out, err = cli("validate", name)
    assert code == 0, err
    assert f"conf/sweep/{name}.yaml: valid" in out
    params, rounds = CATALOGUE[name]
    spec = spec_of(name)
    if params is None and name.startswith(("full_", "protein_")):
        assert len(spec.parameters) >= 10, list(spec.parameters)
    elif params is not None:
        assert len(spec.parameters) == params, list(spec.parameters)
    if rounds is not None:
        assert spec.rollout_count == rounds
    if name.startswith(("full_", "protein_")):
        assert spec.method == "protein"


def test_searched_batch_sizes_fit_the_trainer() -> None:
    """batch_size and minibatch_size are searched as powers of two (uniform_pow2), so
    env.num_envs = batch_size / num_steps is whole and a minibatch divides the batch."""
    for name in CATALOGUE:
        spec = spec_of(name)
        for key in ("trainer.batch_size", "trainer.minibatch_size", "trainer.num_steps"):
            param = spec.parameters.get(key)
            if param is not None:
                assert param.distribution.describe()["distribution"] == "uniform_pow2", (name, key)


def run_wrapper(name: str, train_dir: Path) -> subprocess.CompletedProcess[str]:
    # One run of a few hundred steps (rounded up to one batch): the file's space, geometry
    # and fixed overrides are all used, only the length shrinks.
    return subprocess.run(
        ["bash", str(ROOT / "devops" / "sweep.sh"), f"run=smoke_{name}",
         f"++sweep_params=sweep/{name}", "+hardware=cpu", "rollout_count=1", "num_samples=1",
         "trainer.total_timesteps=256", f"train_dir={train_dir}", "++hydra.sweeper.summary=false"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "WANDB_MODE": "disabled", "PYTHON": sys.executable},
    )


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Future, Path]]]:
    """Every catalogue file's smoke sweep, two at a time: most of a smoke run is process
    start (Hydra, torch, Optuna imports), which a second core overlaps; each test waits for
    its own."""
    train_dir = tmp_path_factory.mktemp("catalogue")
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {name: (pool.submit(run_wrapper, name, train_dir / name), train_dir / name)
               for name in sorted(CATALOGUE)}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_catalogue_file_runs_through_the_wrapper(
    smoke_runs: dict[str, tuple[Future, Path]], name: str
) -> None:
    future, train_dir = smoke_runs[name]
    proc = future.result()
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert f"sweep 'smoke_{name}' finished" in proc.stdout
    summary = subprocess.run(
        [sys.executable, "-m", "nested_sweeper.cli", "summary", f"smoke_{name}",
         "--train-dir", str(train_dir), "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    data = json.loads(summary.stdout)
    assert data["counts"]["COMPLETE"] == 1 and data["counts"]["FAIL"] == 0, data["trials"]
    trial = data["trials"][0]
    assert math.isfinite(trial["value"]) and trial["round"] == 1
    assert set(trial["params"]) <= set(spec_of(name).parameters)
    run_config = yaml.safe_load(Path(trial["config"]).read_text())
    for path, value in trial["params"].items():  # the run trained with what was suggested
        node = run_config
        for part in path.split("."):
            node = node[part]
        assert node == value, path
