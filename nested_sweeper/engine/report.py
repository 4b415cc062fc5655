"""Intermediate results from inside a run, and early termination.

The trainer calls ``report(value, step)`` after each evaluation; it returns True when the
sweep's ``early_terminate`` rule says the run should stop. Outside a sweep it does nothing
and returns False. The sweeper's run wrapper activates the current trial's context in the
run's process; the run reaches the study through its storage URL, so this works the same
with the basic, joblib and submitit launchers.

The rules are Optuna's pruners: ``hyperband`` is ``HyperbandPruner(min_resource=min_iter,
max_resource=max_iter (or min_iter·eta^s), reduction_factor=eta)`` and ``median`` is
``MedianPruner(n_startup_trials=min_runs, n_warmup_steps=min_iter - 1)``. As in W&B, an
"iteration" is one report: the n-th call of ``report`` in a run is step n.
"""

from __future__ import annotations

import math
from typing import Any

_context: dict[str, Any] | None = None
_trial: Any = None
_reports = 0
_stopped = False


def activate(info: dict[str, Any]) -> None:
    global _context, _trial, _reports, _stopped
    _context = dict(info) if info.get("storage") else None
    _trial, _reports, _stopped = None, 0, False


def deactivate() -> bool:
    """Leave the trial's context; True when a report asked the run to stop."""
    global _context, _trial
    _context, _trial = None, None
    return _stopped


def make_pruner(rule: dict[str, Any] | None) -> Any:
    import optuna

    if not rule:
        return optuna.pruners.NopPruner()
    min_iter = int(rule.get("min_iter") or 1)
    if rule["type"] == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=int(rule.get("min_runs") or 2),
                                           n_warmup_steps=min_iter - 1)
    eta = float(rule.get("eta") or 3)
    max_iter = rule.get("max_iter")
    if max_iter is None and rule.get("s") is not None:
        max_iter = int(round(min_iter * eta ** int(rule["s"])))
    return optuna.pruners.HyperbandPruner(min_resource=min_iter, max_resource=max_iter or "auto",
                                          # Optuna annotates int but computes with any number: W&B's eta may be 1.5
                                          reduction_factor=int(eta) if eta.is_integer() else eta)  # type: ignore[arg-type]


def _current_trial() -> Any:
    global _trial
    if _trial is None and _context is not None:
        import optuna

        from nested_sweeper.storage import make_storage

        assert _context is not None
        study = optuna.load_study(study_name=_context["study"],
                                  storage=make_storage(_context["storage"]),
                                  pruner=make_pruner(_context.get("early_terminate")))
        _trial = optuna.trial.Trial(study, _context["trial_id"])
    return _trial


def report(value: float, step: int) -> bool:
    """Record an evaluation of the current run; True means: stop this run now."""
    global _reports, _stopped
    del step  # the env step is the trainer's; the rules count reports (W&B iterations)
    if _context is None or not math.isfinite(value):
        return False
    trial = _current_trial()
    _reports += 1
    trial.report(float(value), _reports)
    if _context.get("early_terminate") and trial.should_prune():
        _stopped = True
    return _stopped
