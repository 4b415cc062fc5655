"""Shared fixtures: the repo root, and a CLI runner that captures both streams."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
# A wide terminal for every CLI the tests start: pytest-xdist's temporary paths
# (.../popen-gw0/...) are long enough to wrap table cells the tests read.
os.environ["COLUMNS"] = "250"


@pytest.fixture
def pg_url() -> str:
    """The test PostgreSQL server's URL. Without one the test is skipped with the reason, or
    fails where a server is required (.ci/run sets NESTED_SWEEPER_REQUIRE_PG=1)."""
    url = os.environ.get("NESTED_SWEEPER_PG_URL")
    if url:
        return url
    reason = "no PostgreSQL: set NESTED_SWEEPER_PG_URL (devops/postgres.sh start)"
    if os.environ.get("NESTED_SWEEPER_REQUIRE_PG") == "1":
        pytest.fail(f"{reason}; NESTED_SWEEPER_REQUIRE_PG=1 requires it")
    pytest.skip(reason)


@pytest.fixture
def slurm() -> Path:
    """The test SLURM cluster's slurm.conf (`devops/slurm.sh start DIR` prints it). Without
    one the test is skipped with the reason, or fails where a cluster is required (.ci/run
    sets NESTED_SWEEPER_REQUIRE_SLURM=1)."""
    conf = os.environ.get("NESTED_SWEEPER_SLURM_CONF")
    if conf and Path(conf).is_file():
        return Path(conf)
    reason = ("no SLURM cluster: set NESTED_SWEEPER_SLURM_CONF "
              "(devops/slurm.sh start DIR prints the path)")
    if conf:
        reason = f"NESTED_SWEEPER_SLURM_CONF={conf} is no file"
    if os.environ.get("NESTED_SWEEPER_REQUIRE_SLURM") == "1":
        pytest.fail(f"{reason}; NESTED_SWEEPER_REQUIRE_SLURM=1 requires it")
    pytest.skip(reason)


@pytest.fixture
def ray_python() -> Path:
    """The interpreter of the Ray environment (`make ray-env`: .venv-ray, kept apart because
    hydra-ray-launcher pins cloudpickle<3). Without it the test is skipped with the reason, or
    fails where Ray is required (.ci/run sets NESTED_SWEEPER_REQUIRE_RAY=1)."""
    python = Path(os.environ.get("NESTED_SWEEPER_RAY_PYTHON") or ROOT / ".venv-ray" / "bin" / "python")
    if python.is_file():
        return python
    reason = f"no Ray environment at {python}: run `make ray-env`"
    if os.environ.get("NESTED_SWEEPER_REQUIRE_RAY") == "1":
        pytest.fail(f"{reason}; NESTED_SWEEPER_REQUIRE_RAY=1 requires it")
    pytest.skip(reason)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """Run `nested-sweep ARGS` in-process from the repo root: (exit code, stdout, stderr)."""
    from nested_sweeper.cli import main

    monkeypatch.chdir(ROOT)

    def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(args), out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first: pytest-xdist hands tests out in this order, so the long ones
    start while the many short ones fill the other worker, instead of ending the run alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)

