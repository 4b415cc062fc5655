"""``Searcher``: ask/tell from plain Python over every method."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hydra_plugins.nested_sweeper import Searcher
from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialState
from nested_sweeper.space import parse_distribution


def test_lazy_export_keeps_app_start_light() -> None:
    """Importing the package (what Hydra does at every start) must not pull in the heavy libs."""
    code = (
        "import sys, hydra_plugins.nested_sweeper as p; "
        "heavy = [m for m in ('numpy', 'torch', 'optuna') if m in sys.modules]; "
        "assert not heavy, heavy; "
        "p.Searcher; assert 'numpy' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("method", ["random", "bayes", "protein"])
def test_minimizes_a_parabola(method: str) -> None:
    s = Searcher({"x": {"min": -5.0, "max": 10.0}}, goal="minimize", method=method, seed=0)
    for _ in range(15):
        p = s.ask()
        assert -5.0 <= p["x"] <= 10.0
        s.tell(p, value=(p["x"] - 2.0) ** 2)
    params, value = s.best
    assert value == min(r.value for r in s.history)
    assert value < 1.0 and abs(params["x"] - 2.0) < 1.0


def test_asked_but_not_told_is_running() -> None:
    s = Searcher({"x": {"min": 0.0, "max": 1.0}}, method="random", seed=1)
    batch = s.ask_batch(3)
    assert [r.state for r in s.history] == [TrialState.RUNNING] * 3
    assert len({p["x"] for p in batch}) == 3
    s.tell(batch[1], value=2.0, cost=5.0)
    s.tell(batch[0], failed=True)
    states = [r.state for r in s.history]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.RUNNING]
    assert s.history[1].cost == 5.0 and s.history[1].number == 1
    assert s.best == (batch[1], 2.0)


def test_tell_without_ask_and_non_finite() -> None:
    s = Searcher({"x": {"min": 0.0, "max": 1.0}}, goal="maximize", method="random")
    assert s.best is None
    s.tell({"x": 0.25}, value=1.0)
    rec = s.tell({"x": 0.5}, value=float("nan"))
    assert rec.state is TrialState.FAIL and rec.value is None
    assert [r.number for r in s.history] == [0, 1]
    with pytest.raises(SweepError):
        s.tell({"x": 0.75})


def test_distribution_objects_and_grid_exhaustion() -> None:
    space = {"opt": parse_distribution({"values": ["adam", "sgd"]}, key="opt")}
    s = Searcher(space, method="grid")
    assert s.ask_batch(5) == [{"opt": "adam"}, {"opt": "sgd"}]
    with pytest.raises(SweepError, match="exhausted"):
        s.ask()


def test_same_seed_same_session() -> None:
    def session(seed: int) -> list[dict[str, float]]:
        s = Searcher({"x": {"min": -1.0, "max": 1.0}}, method="bayes", seed=seed)
        for _ in range(6):
            p = s.ask()
            s.tell(p, value=-abs(p["x"]))
        return [r.params for r in s.history]

    assert session(3) == session(3)


def test_bad_space_entry() -> None:
    with pytest.raises(SweepError, match="mapping"):
        Searcher({"x": 3.0})
