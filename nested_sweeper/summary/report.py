"""``SweepReport``: what one sweep was and what it found, read from its study (``load``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nested_sweeper.records import TrialRecord, TrialState, best_record

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------- the report


@dataclass
class SweepReport:
    """Everything the summary formats need, read once from the study.

    Attributes:
        name: The study (= sweep run) name.
        storage: The storage URL, password hidden.
        spec: ``study.user_attrs["spec"]`` (empty when the study has none).
        sweep_dir: The sweep directory (plots go there), None when unknown.
        goal: ``"maximize"`` or ``"minimize"`` (the study's direction).
        trials: Every trial in number order; ``attrs`` holds the trial's user attributes.
        distributions: Parameter path -> Optuna distribution as JSON data (last trial seen).
    """

    name: str
    storage: str
    spec: dict[str, Any]
    sweep_dir: str | None
    goal: str
    trials: list[TrialRecord]
    distributions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Why the sweep ended before its planned runs (grid exhausted, too many failures).
    ended: str | None = None

    @property
    def metric(self) -> str:
        return str(self.spec.get("metric") or "value")

    @property
    def param_names(self) -> list[str]:
        """Swept parameters: the spec's order first, then any others the trials carry."""
        names = list(self.spec.get("parameters") or {})
        for trial in self.trials:
            names += [p for p in trial.params if p not in names]
        return names

    @property
    def metric_names(self) -> list[str]:
        """Names of every number the runs returned, in first-seen order."""
        names: list[str] = []
        for trial in self.trials:
            names += [m for m in _metrics(trial) if m not in names]
        return names

    @property
    def completed(self) -> list[TrialRecord]:
        """COMPLETE trials with a finite metric: the only ones that rank (as in Optuna)."""
        return [t for t in self.trials if t.state is TrialState.COMPLETE and _finite(t.value)]

    @property
    def best(self) -> TrialRecord | None:
        return best_record(self.completed, self.goal)

    @property
    def rounds(self) -> dict[int | None, list[TrialRecord]]:
        """Trials grouped by round (None for trials without one), rounds in order."""
        groups: dict[int | None, list[TrialRecord]] = {}
        for trial in self.trials:
            groups.setdefault(_round(trial), []).append(trial)
        return dict(sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))

    @property
    def counts(self) -> dict[str, int]:
        counts = {state.value: 0 for state in TrialState}
        for trial in self.trials:
            counts[trial.state.value] += 1
        return counts

    @property
    def planned(self) -> int | None:
        """rollout_count × num_samples from the spec, None when the study does not say."""
        rounds, per_round = self.spec.get("rollout_count"), self.spec.get("num_samples")
        if isinstance(rounds, int) and isinstance(per_round, int):
            return rounds * per_round
        return None

    @property
    def done(self) -> int:
        """Runs that count towards the plan, as the sweeper counts them (COMPLETE + PRUNED)."""
        return sum(1 for t in self.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED))

    def round_best(self, round_: int | None) -> TrialRecord | None:
        done = [t for t in self.completed if _round(t) == round_]
        return best_record(done, self.goal)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _round(trial: TrialRecord) -> int | None:
    """The trial's round as stored in the study (0-based, the attribute optuna-dashboard shows)."""
    value = trial.attrs.get("round")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def shown_round(round_: int | None) -> int | None:
    """A stored round as every output shows it: 1-based, as the workers' ``[round 1/3]`` logs."""
    return None if round_ is None else round_ + 1


def sweep_file(report: SweepReport) -> str | None:
    """The sweep file as an absolute path, readable from any directory.

    Older studies store it relative to the directory the sweep was started from; that
    directory is not stored, so the file is looked for from the sweep directory upwards (the
    default ``train_dir/sweep/NAME`` lies below it). Not found: the stored text, marked.
    """
    stored = report.spec.get("file")
    if not stored:
        return None
    path = Path(str(stored)).expanduser()
    if path.is_absolute():
        return str(path)
    if report.sweep_dir:
        for base in Path(report.sweep_dir).parents:
            if (base / path).is_file():
                return str((base / path).resolve())
    return f"{stored} (relative to the directory the sweep was started from)"


def _metrics(trial: TrialRecord) -> dict[str, Any]:
    metrics = trial.attrs.get("metrics")
    return dict(metrics) if isinstance(metrics, Mapping) else {}


def _run_name(trial: TrialRecord) -> str:
    return str(trial.attrs.get("run_name") or f"trial {trial.number}")


def _config_path(trial: TrialRecord) -> str | None:
    run_dir = trial.attrs.get("run_dir")
    return str(Path(run_dir) / "config.yaml") if run_dir else None
