"""``Searcher``: ask/tell over a search method from plain Python (no Hydra, no database).

Example::

    from nested_sweeper import Searcher

    s = Searcher({"x": {"min": -5.0, "max": 10.0}}, goal="minimize", method="protein", seed=0)
    for _ in range(20):
        params = s.ask()                      # {"x": 1.23}
        s.tell(params, value=(params["x"] - 2.0) ** 2)
    print(s.best)                             # ({"x": 2.01...}, 0.0001...)

Asked-but-not-told suggestions stay RUNNING records, so a batch asked before any result
comes back is spread out; ``tell(params, failed=True)`` records a crash, which model-based
methods treat as the worst score seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialRecord, TrialState, best_record
from nested_sweeper.search.methods import params_key
from nested_sweeper.search.registry import make_method

if TYPE_CHECKING:
    from nested_sweeper.search.methods import SearchMethod
    from nested_sweeper.space import Distribution


def build_space(space: Mapping[str, Any]) -> dict[str, Distribution]:
    """Distributions from their sweep-file form (dicts) or as given (``Distribution`` s)."""
    from nested_sweeper.space import Distribution, parse_distribution

    out: dict[str, Distribution] = {}
    for key, spec in space.items():
        if isinstance(spec, Distribution):
            out[key] = spec
        elif isinstance(spec, Mapping):
            out[key] = parse_distribution(dict(spec), key=key)
        else:
            raise SweepError(
                f"expected a distribution or a mapping, got {type(spec).__name__}",
                key=key,
                fix="write e.g. {'min': 0.0, 'max': 1.0} or {'values': [...]}",
            )
    return out


class Searcher:
    """Ask/tell hyperparameter search over one of the sweep methods.

    Args:
        space: dotted parameter name -> distribution, either in the sweep-file form
            (``{"min": 1e-4, "max": 1e-2, "distribution": "log_normal", ...}``) or a
            ``Distribution`` object.
        goal: ``"maximize"`` or ``"minimize"`` the told values.
        method: ``grid``, ``random``, ``bayes`` or ``protein``.
        seed: the seed of every random choice; the same seed and the same asks/tells give
            the same suggestions.
        **settings: the method's own settings (e.g. ``n_startup_trials``).
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        *,
        goal: str = "maximize",
        method: str = "protein",
        seed: int = 0,
        **settings: Any,
    ) -> None:
        self.space = build_space(space)
        self.goal = goal
        self.method: SearchMethod = make_method(
            method, self.space, goal=goal, seed=seed, **settings
        )
        self._records: list[TrialRecord] = []

    @property
    def history(self) -> list[TrialRecord]:
        """Every trial so far (a copy), RUNNING ones included."""
        return list(self._records)

    def ask(self) -> dict[str, Any]:
        """One new suggestion; raises ``SweepError`` when a finite space (grid) is used up."""
        batch = self.ask_batch(1)
        if not batch:
            raise SweepError(
                f"method {self.method.name!r} has no new suggestion: the space is exhausted"
            )
        return batch[0]

    def ask_batch(self, n: int) -> list[dict[str, Any]]:
        """``n`` distinct suggestions to run together (fewer when a finite space runs out)."""
        batch = self.method.suggest(self._records, n)
        for params in batch:
            number = len(self._records)
            self._records.append(TrialRecord(number, dict(params), TrialState.RUNNING))
        return [dict(p) for p in batch]

    def tell(
        self,
        params: Mapping[str, Any],
        value: float | None = None,
        *,
        cost: float | None = None,
        failed: bool = False,
    ) -> TrialRecord:
        """Record the result of ``params`` (asked earlier, or run by you).

        Args:
            params: the suggestion as returned by ``ask``.
            value: the metric, in the direction of ``goal``; a non-finite value is a failure.
            cost: what the run cost (steps, seconds); the cost-aware ``protein`` uses it.
            failed: the run crashed (``value`` is then ignored).

        Returns:
            The finished record.
        """
        if not failed and value is None:
            raise SweepError("tell() needs a value, or failed=True for a crashed run")
        state, attrs = TrialState.COMPLETE, {}
        if failed or value is None or not math.isfinite(float(value)):
            state, attrs = TrialState.FAIL, {"reason": "failed" if failed else "non-finite value"}
            value = None
        index = self._running_index(params)
        number = self._records[index].number if index is not None else len(self._records)
        record = TrialRecord(
            number,
            dict(params),
            state,
            None if value is None else float(value),
            None if cost is None else float(cost),
            attrs,
        )
        if index is None:
            self._records.append(record)
        else:
            self._records[index] = record
        return record

    def _running_index(self, params: Mapping[str, Any]) -> int | None:
        names = list(self.space)
        key = params_key(params, names)
        for i, r in enumerate(self._records):
            if r.state is TrialState.RUNNING and params_key(r.params, names) == key:
                return i
        return None

    @property
    def best(self) -> tuple[dict[str, Any], float] | None:
        """``(params, value)`` of the best finished trial, None before the first result."""
        r = best_record(self._records, self.goal)
        if r is None or r.value is None:
            return None
        return dict(r.params), float(r.value)
