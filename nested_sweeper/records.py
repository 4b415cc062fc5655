"""Plain records passed between the study, the search methods and the summary."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# fail_reason of a run whose worker process died: the run itself did nothing wrong.
INTERRUPTED = "interrupted"


class TrialState(str, Enum):
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"
    PRUNED = "PRUNED"

    @property
    def finished(self) -> bool:
        return self is not TrialState.RUNNING


@dataclass(frozen=True)
class TrialRecord:
    """One trial as a search method sees it.

    ``value`` is the metric in the user's direction (the method is told the goal), None
    while running or after a failure. ``cost`` is the run's cost metric when one is known.
    """

    number: int
    params: dict[str, Any]
    state: TrialState
    value: float | None = None
    cost: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """A finished trial with a finite value (COMPLETE, or PRUNED with its last value)."""
        return (
            self.state in (TrialState.COMPLETE, TrialState.PRUNED)
            and self.value is not None
            and math.isfinite(self.value)
        )


# Optuna's trial states by name; WAITING (an enqueued trial) has not run yet.
_STATES = {"RUNNING": TrialState.RUNNING, "WAITING": TrialState.RUNNING,
           "COMPLETE": TrialState.COMPLETE, "FAIL": TrialState.FAIL, "PRUNED": TrialState.PRUNED}


def record_from_trial(trial: Any) -> TrialRecord:
    """An Optuna ``FrozenTrial`` as a record: the one conversion the loop and the summary share.

    A PRUNED trial stored without a value keeps its last intermediate value; a FAIL or RUNNING
    one has none. A cost that is not a finite number is dropped.
    """
    state = _STATES.get(trial.state.name, TrialState.FAIL)
    value = trial.value if state in (TrialState.COMPLETE, TrialState.PRUNED) else None
    if value is None and state is TrialState.PRUNED and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    attrs = dict(trial.user_attrs)
    raw = attrs.get("cost")
    cost = float(raw) if isinstance(raw, (int, float)) and math.isfinite(raw) else None
    return TrialRecord(number=trial.number, params=dict(trial.params), state=state, value=value,
                       cost=cost, attrs=attrs)


def best_record(records: Iterable[TrialRecord], goal: str) -> TrialRecord | None:
    """The best run: COMPLETE with a finite metric, in the goal's direction, ties to the
    earliest trial (Optuna's ``best_trial`` rule). A PRUNED run stopped early, so its last
    value is no run's result."""
    done = [r for r in records if r.state is TrialState.COMPLETE and r.ok]
    if not done:
        return None
    sign = 1.0 if goal == "maximize" else -1.0
    return max(done, key=lambda r: (sign * (r.value or 0.0), -r.number))
