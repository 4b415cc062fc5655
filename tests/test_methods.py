"""Search methods: one contract suite for every method, then method-specific behaviour."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialRecord, TrialState
from nested_sweeper.search.methods import Grid, SearchMethod, params_key
from nested_sweeper.search.registry import METHODS, make_method, method_for
from nested_sweeper.space import parse_distribution

# A mixed space every method can search (grid through grid_points / finite ints).
MIXED = {
    "trainer.lr": {
        "distribution": "log_normal",
        "min": 1e-4,
        "max": 1e-2,
        "mean": 1e-3,
        "scale": 1,
        "grid_points": 3,
    },
    "trainer.gamma": {"min": 0.9, "max": 0.999, "grid_points": 3},
    "trainer.depth": {"distribution": "int_uniform", "min": 1, "max": 4},
    "trainer.optimizer": {"values": ["adam", "sgd", "rmsprop"]},
}
ALL = ("grid", "random", "bayes", "protein")


def make_space(spec: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {k: parse_distribution(v, key=k) for k, v in spec.items()}


def toy_score(p: dict[str, Any]) -> float:
    """A smooth score over MIXED (maximize), best near lr=1e-3, gamma=0.99, depth 3, adam."""
    lr = -((math.log10(p["trainer.lr"]) + 3.0) ** 2)
    gamma = -100 * (p["trainer.gamma"] - 0.99) ** 2
    depth = -0.2 * (p["trainer.depth"] - 3) ** 2
    opt = {"adam": 0.0, "sgd": -0.5, "rmsprop": -0.2}[p["trainer.optimizer"]]
    return lr + gamma + depth + opt


def run(method: SearchMethod, f: Callable[[dict[str, Any]], float], trials: int, batch: int = 1):
    """Drive a method for ``trials`` trials in batches; returns the history."""
    history: list[TrialRecord] = []
    while len(history) < trials:
        for p in method.suggest(history, min(batch, trials - len(history))):
            history.append(TrialRecord(len(history), p, TrialState.COMPLETE, f(p)))
    return history


def record(number: int, params: dict[str, Any], state: TrialState, value: float | None = None):
    return TrialRecord(number, params, state, value)


@pytest.fixture(params=ALL)
def method_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def space() -> dict[str, Any]:
    return make_space(MIXED)


# --------------------------------------------------------------------------- contract


class TestContract:
    """What every method promises (optuna's shared sampler suite, in miniature)."""

    def _history(self, method: SearchMethod, n: int = 6) -> list[TrialRecord]:
        return run(method, toy_score, n, batch=3)

    def test_registry_lists_all(self) -> None:
        assert set(METHODS) == set(ALL)
        assert all(issubclass(cls, SearchMethod) for cls in METHODS.values())
        assert METHODS["protein"].name == "protein"

    def test_empty_history(self, method_name: str, space: dict[str, Any]) -> None:
        out = make_method(method_name, space, goal="maximize", seed=0).suggest([], 3)
        assert len(out) == 3
        for p in out:
            assert set(p) == set(space)
            assert all(space[k].contains(v) for k, v in p.items()), p

    def test_legal_values_after_history(self, method_name: str, space: dict[str, Any]) -> None:
        m = make_method(method_name, space, goal="maximize", seed=1)
        history = self._history(m, 9)
        for r in history:
            assert set(r.params) == set(space)
            assert all(space[k].contains(v) for k, v in r.params.items()), r.params
            # plain Python values, so the study database and YAML files take them as they are
            assert all(type(v) in (int, float, str, bool) for v in r.params.values())

    def test_same_seed_same_output(self, method_name: str, space: dict[str, Any]) -> None:
        a = make_method(method_name, space, goal="maximize", seed=7)
        b = make_method(method_name, space, goal="maximize", seed=7)
        history = self._history(a, 6)
        assert a.suggest(history, 3) == b.suggest(history, 3)

    def test_seed_matters(self, method_name: str, space: dict[str, Any]) -> None:
        if method_name == "grid":
            pytest.skip("grid order does not depend on the seed")
        runs = [make_method(method_name, space, seed=s).suggest([], 4) for s in (1, 2)]
        assert runs[0] != runs[1]

    def test_batch_distinct(self, method_name: str, space: dict[str, Any]) -> None:
        m = make_method(method_name, space, goal="maximize", seed=3)
        history = self._history(m, 6)
        batch = m.suggest(history, 6)
        keys = [params_key(p, list(space)) for p in batch]
        assert len(batch) == 6
        assert len(set(keys)) == 6
        assert not set(keys) & {params_key(r.params, list(space)) for r in history}

    def test_all_failed_history(self, method_name: str, space: dict[str, Any]) -> None:
        m = make_method(method_name, space, goal="minimize", seed=0)
        failed = [record(i, p, TrialState.FAIL) for i, p in enumerate(m.suggest([], 4))]
        out = m.suggest(failed, 2)
        assert len(out) == 2
        assert all(all(space[k].contains(v) for k, v in p.items()) for p in out)

    def test_running_history_is_avoided(self, method_name: str, space: dict[str, Any]) -> None:
        m = make_method(method_name, space, goal="maximize", seed=0)
        history = self._history(m, 6)
        running = [
            record(len(history) + i, p, TrialState.RUNNING)
            for i, p in enumerate(m.suggest(history, 3))
        ]
        nxt = m.suggest(history + running, 3)
        taken = {params_key(r.params, list(space)) for r in history + running}
        assert not {params_key(p, list(space)) for p in nxt} & taken

    def test_odd_history(self, method_name: str, space: dict[str, Any]) -> None:
        """Missing keys (conditional parameters), NaN values, PRUNED and FAIL mixed in."""
        m = make_method(method_name, space, goal="maximize", seed=0)
        ps = m.suggest([], 5)
        partial = {k: v for k, v in ps[0].items() if k != "trainer.depth"}
        history = [
            record(0, partial, TrialState.COMPLETE, 1.0),
            record(1, ps[1], TrialState.COMPLETE, float("nan")),
            record(2, ps[2], TrialState.PRUNED, 0.5),
            record(3, ps[3], TrialState.FAIL),
            record(4, ps[4], TrialState.COMPLETE, -1.0),
        ]
        out = m.suggest(history, 2)
        again = make_method(method_name, space, goal="maximize", seed=0)
        again.suggest([], 5)
        assert again.suggest(history, 2) == out  # NaN and FAIL records do not make it random
        for p in out:
            assert set(p) == set(space)
            assert all(space[k].contains(v) for k, v in p.items()), p
            # never a point already finished (the NaN one counts as tried, not as a score)
            assert all(p != r.params for r in history if r.state is not TrialState.FAIL)

    def test_zero_requested(self, method_name: str, space: dict[str, Any]) -> None:
        """Asking for no runs returns none and does not advance the method's stream."""
        m = make_method(method_name, space, seed=0)
        assert m.suggest([], 0) == []
        assert m.suggest([], 3) == make_method(method_name, space, seed=0).suggest([], 3)

    def test_reseed_changes_stream(self, method_name: str, space: dict[str, Any]) -> None:
        if method_name == "grid":
            pytest.skip("grid order does not depend on the seed")
        m = make_method(method_name, space, seed=0)
        first = m.suggest([], 3)
        m.reseed(5)
        assert m.seed == 5
        assert m.suggest([], 3) == make_method(method_name, space, seed=5).suggest([], 3)
        assert m.suggest([], 3) != first


# --------------------------------------------------------------------------- registry


def test_unknown_method_lists_valid_names(space: dict[str, Any]) -> None:
    with pytest.raises(SweepError) as err:
        make_method("hyperband", space)
    assert all(name in str(err.value) for name in ALL)
    assert err.value.key == "sweep.method"


def test_unknown_setting_lists_valid_ones(space: dict[str, Any]) -> None:
    with pytest.raises(SweepError) as err:
        make_method("bayes", space, n_startup=3)
    assert "n_startup_trials" in str(err.value)


def test_bad_goal(space: dict[str, Any]) -> None:
    with pytest.raises(SweepError, match="goal"):
        make_method("random", space, goal="max")


# --------------------------------------------------------------------------- grid


def test_grid_order_and_exhaustion() -> None:
    space = make_space({"a": {"values": [1, 2]}, "b": {"values": ["x", "y", "z"]}})
    g = Grid(space)
    assert g.size == 6
    first = g.suggest([], 4)
    assert first == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}, {"a": 2, "b": "x"}]
    history = [record(i, p, TrialState.RUNNING) for i, p in enumerate(first)]
    assert not g.exhausted(history)
    rest = g.suggest(history, 10)
    assert rest == [{"a": 2, "b": "y"}, {"a": 2, "b": "z"}]  # fewer than asked at the end
    history += [record(4 + i, p, TrialState.COMPLETE, 0.0) for i, p in enumerate(rest)]
    assert g.exhausted(history)
    assert g.suggest(history, 3) == []


def test_grid_retries_a_failure_once() -> None:
    g = Grid(make_space({"a": {"values": [1, 2]}}))
    h = [record(0, {"a": 1}, TrialState.FAIL), record(1, {"a": 2}, TrialState.COMPLETE, 1.0)]
    assert g.suggest(h, 2) == [{"a": 1}]
    h.append(record(2, {"a": 1}, TrialState.FAIL))
    assert g.exhausted(h)


def test_interrupted_runs_are_neither_failures_nor_taken() -> None:
    """A run whose worker died says nothing about its point: the grid offers it again however
    often it was interrupted, and the models do not score it as a crash."""
    from nested_sweeper.search.methods import imputed_scores

    dead = {"fail_reason": "interrupted"}
    g = Grid(make_space({"a": {"values": [1, 2]}}))
    h = [TrialRecord(i, {"a": 1}, TrialState.FAIL, attrs=dead) for i in range(3)]
    h.append(record(3, {"a": 2}, TrialState.COMPLETE, 1.0))
    assert g.suggest(h, 2) == [{"a": 1}]
    crash = TrialRecord(4, {"a": 1}, TrialState.FAIL, attrs={"fail_reason": "ValueError: x"})
    assert [r.number for r, _ in imputed_scores([*h, crash], "maximize")] == [3, 4]


def test_grid_matches_values_after_a_round_trip() -> None:
    """Values read back from a database (ints as floats, float repr noise) still count as taken."""
    g = Grid(make_space({"depth": {"values": [1, 2]}, "lr": {"values": [0.1, 0.3]}}))
    h = [record(0, {"depth": 1.0, "lr": 0.1 + 1e-17}, TrialState.COMPLETE, 0.0)]
    assert g.suggest(h, 1) == [{"depth": 1, "lr": 0.3}]


def test_grid_needs_finite_values() -> None:
    with pytest.raises(SweepError) as err:
        Grid(make_space({"x": {"min": 0.0, "max": 1.0}}))
    assert "grid_points" in str(err.value) and err.value.key == "sweep.parameters.x"


# --------------------------------------------------------------------------- random


def test_random_covers_the_prior() -> None:
    space = make_space({"x": {"min": 0.0, "max": 1.0}, "c": {"values": ["a", "b"]}})
    out = make_method("random", space, seed=0).suggest([], 400)
    xs = np.array([p["x"] for p in out])
    assert 0.0 <= xs.min() and xs.max() <= 1.0
    # every quarter of [0, 1] gets roughly its share (binomial 100 +- 5 sigma)
    counts = np.histogram(xs, bins=4, range=(0, 1))[0]
    assert all(50 < c < 150 for c in counts), counts
    assert 150 < sum(p["c"] == "a" for p in out) < 250


def test_random_small_space_runs_out_of_new_points() -> None:
    """A space with 2 points: the batch holds both, then repeats rather than looping forever."""
    out = make_method("random", make_space({"c": {"values": ["a", "b"]}}), seed=0).suggest([], 4)
    assert len(out) == 4 and {p["c"] for p in out[:2]} == {"a", "b"}


# --------------------------------------------------------------------------- bayes


def _rosenbrock4(p: dict[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(4)])
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def test_bayes_beats_random_on_rosenbrock4() -> None:
    """Median best over 10 seeds at 30 trials: bayes below half of random's."""
    space = make_space({f"x{i}": {"min": -2.0, "max": 2.0} for i in range(4)})
    best: dict[str, float] = {}
    for name in ("random", "bayes"):
        runs = [
            min(
                r.value
                for r in run(make_method(name, space, goal="minimize", seed=s), _rosenbrock4, 30)
            )
            for s in range(10)
        ]
        best[name] = float(np.median(runs))
    assert best["bayes"] < 0.5 * best["random"], best


def test_bayes_tpe_engine_minimizes() -> None:
    space = make_space({"x": {"min": -5.0, "max": 5.0}})
    h = run(
        make_method("bayes", space, goal="minimize", seed=0, engine="tpe"),
        lambda p: p["x"] ** 2,
        20,
    )
    assert min(r.value for r in h) < 0.1


def test_bayes_failures_steer_away() -> None:
    """Runs crash for x > 0: after a few crashes bayes samples mostly x < 0."""
    space = make_space({"x": {"min": -1.0, "max": 1.0}})
    m = make_method("bayes", space, goal="maximize", seed=0)
    history: list[TrialRecord] = []
    for _ in range(16):
        for p in m.suggest(history, 1):
            ok = p["x"] <= 0
            value = 1.0 - abs(p["x"] + 0.5) if ok else None
            state = TrialState.COMPLETE if ok else TrialState.FAIL
            history.append(record(len(history), p, state, value))
    late = [r.params["x"] for r in history[8:]]
    assert sum(x > 0 for x in late) <= 2, late


def test_bayes_is_quiet(caplog: pytest.LogCaptureFixture, space: dict[str, Any]) -> None:
    with caplog.at_level(logging.INFO, logger="optuna"):
        run(make_method("bayes", space, seed=0), toy_score, 6, batch=3)
        assert logging.getLogger("optuna").level == logging.INFO  # the user's level is restored
    assert not [r for r in caplog.records if r.name.startswith("optuna")]


@pytest.mark.parametrize("name", ALL)
def test_conditional_space_never_repeats_a_run(name: str) -> None:
    """Suggestions that differ only in an inactive parameter are one run: never two of it."""
    from nested_sweeper.spec.spec import parse_spec

    spec = parse_spec({"sweep": {"method": name, "metric": "reward", "parameters": {
        "trainer.use_lstm": {"values": [False, True]},
        "trainer.hidden": {"values": [32, 64, 128], "when": {"trainer.use_lstm": True}},
    }}}, file="conditional.yaml")
    method = method_for(spec, name, seed=1)
    history: list[TrialRecord] = []
    for _ in range(2):  # the space holds 4 runs: (False), (True, 32), (True, 64), (True, 128)
        for p in method.suggest(history, 2):
            active = spec.active_params(p)
            history.append(TrialRecord(len(history), active, TrialState.COMPLETE, len(active)))
    runs = [tuple(sorted(r.params.items())) for r in history]
    assert len(set(runs)) == len(runs) == 4, runs
