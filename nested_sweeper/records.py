"""Plain records passed between the study, the search methods and the summary."""

from __future__ import annotations

import math
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
