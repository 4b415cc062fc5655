"""Optuna glue: the study that holds a sweep's state in a real database.

Parameter names are the dotted paths and values the real values, so optuna-dashboard and
``optuna.load_study`` read a sweep as any other study. Trials are created RUNNING through
the storage (no shared enqueue queue, so concurrent workers never swap suggestions), carry
the worker's host and pid, and get heartbeats: a restarted worker fails its own dead
trials at once (reason ``interrupted``) and other workers' only once their heartbeat is stale.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from nested_sweeper.errors import SweepError
from nested_sweeper.records import INTERRUPTED, TrialRecord, TrialState, record_from_trial
from nested_sweeper.storage import HEARTBEAT_S, is_storage_failure, make_storage, storage_error

if TYPE_CHECKING:
    import optuna

SURPLUS = "surplus"
# A trial created to claim a slot before its parameters are chosen (claim-before-suggest).
PENDING = "pending"


def storage_call(method: Callable[..., Any]) -> Callable[..., Any]:
    """A Study method whose storage failures (a full disk, a vanished server) become one-line
    SweepErrors instead of SQLAlchemy tracebacks; Optuna's own signals pass through."""
    @functools.wraps(method)
    def wrapper(self: Study, *args: Any, **kwargs: Any) -> Any:
        from optuna.exceptions import UpdateFinishedTrialError

        try:
            return method(self, *args, **kwargs)
        except (SweepError, UpdateFinishedTrialError):
            raise
        except Exception as err:
            if not is_storage_failure(err):
                raise
            raise storage_error(err, self.url) from None
    return wrapper


@dataclass
class NewTrial:
    number: int
    trial_id: int
    params: dict[str, Any]
    round: int


class Study:
    """One sweep's study: create or resume, ask, tell, list records."""

    @storage_call
    def __init__(self, storage_url: str, name: str, *, goal: str, spec: Mapping[str, Any],
                 space: Mapping[str, Any]) -> None:
        import optuna

        self.url = storage_url
        self.storage = make_storage(storage_url)
        self.space = space
        direction: Literal["maximize", "minimize"] = "maximize" if goal == "maximize" else "minimize"
        # load_if_exists makes two workers starting at once on a new study agree on one.
        self.study = optuna.create_study(storage=self.storage, study_name=name,
                                         direction=direction, load_if_exists=True)
        self.name = name
        self.study_id = self.storage.get_study_id_from_name(name)
        self._finished: dict[int, TrialRecord] = {}
        self._check_spec(spec)
        self._beating: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _check_spec(self, spec: Mapping[str, Any]) -> None:
        stored = self.study.user_attrs.get("spec")
        if stored is None:
            self.study.set_user_attr("spec", dict(spec))
            return
        if stored.get("parameters") != spec.get("parameters") or stored.get("goal") != spec.get("goal"):
            raise SweepError(
                f"study '{self.name}' in {self.url} was created with another search space or goal",
                key="hydra.sweeper.study_name",
                fix="resume with the original sweep file, or start a new sweep with another run=NAME",
            )

    # ------------------------------------------------------------------ reading

    @storage_call
    def records(self) -> list[TrialRecord]:
        """Every trial but the surplus ones another worker's race created (see ``claim``)."""
        records = []
        for trial in self.study.get_trials(deepcopy=False):
            if trial.user_attrs.get(SURPLUS):
                continue
            # A finished trial never changes: convert it once, not once per round.
            record = self._finished.get(trial.number)
            if record is None:
                record = record_from_trial(trial)
                if trial.state.is_finished():
                    self._finished[trial.number] = record
            records.append(record)
        return records

    @storage_call
    def next_round(self) -> int:
        rounds = [t.user_attrs.get("round", -1) for t in self.study.get_trials(deepcopy=False)]
        return max(rounds, default=-1) + 1

    # ------------------------------------------------------------------ writing

    @storage_call
    def fail_interrupted(self) -> list[int]:
        """Fail RUNNING trials of dead processes on this host now, others once stale."""
        import optuna

        host = socket.gethostname()
        # The one private Optuna call left: Optuna has no public "which trials are stale";
        # its public fail_stale_trials cannot record a reason, because a finished trial's
        # attributes are read-only.
        stale = {self.storage.get_trial_number_from_id(trial_id)
                 for trial_id in self.storage._get_stale_trial_ids(self.study_id)}
        failed = []
        for trial in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            attrs = trial.user_attrs
            dead = attrs.get("worker_host") == host and not _alive(attrs.get("worker_pid"))
            if not (dead or trial.number in stale):
                continue
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, trial.number)
            if self._fail(trial_id, INTERRUPTED):
                failed.append(trial.number)
        return failed

    def _fail(self, trial_id: int, reason: str, *, surplus: bool = False) -> bool:
        from optuna.exceptions import UpdateFinishedTrialError

        try:
            self.storage.set_trial_user_attr(trial_id, "fail_reason", reason)
            if surplus:
                self.storage.set_trial_user_attr(trial_id, SURPLUS, True)
            return self.storage.set_trial_state_values(trial_id, state=_optuna_state("FAIL"))
        except UpdateFinishedTrialError:  # another worker got there first
            return False

    @storage_call
    def create(self, params: Mapping[str, Any], *, round: int, attrs: Mapping[str, Any]) -> NewTrial:
        from optuna.trial import create_trial

        dists = {k: self.space[k].to_optuna() for k in params}
        template = create_trial(
            state=_optuna_state("RUNNING"), params=dict(params), distributions=dists,
            user_attrs={"round": round, "worker_host": socket.gethostname(),
                        "worker_pid": os.getpid(), **attrs},
        )
        template.datetime_start = datetime.now()
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        number = self.storage.get_trial_number_from_id(trial_id)
        self._beat(trial_id)
        return NewTrial(number=number, trial_id=trial_id, params=dict(params), round=round)

    @storage_call
    def claim(self, trials: Sequence[NewTrial], target: int) -> list[NewTrial]:
        """The new trials this worker may run; the rest lost a race with another worker.

        Trial numbers order the workers' claims: a trial is surplus when ``target`` live
        trials (running or finished, not failed) precede it, or when an earlier live trial
        has the same parameters (two workers taking the same grid point).
        """
        live = [r for r in self.records() if r.state is not TrialState.FAIL]
        keep = []
        for trial in trials:
            earlier = [r for r in live if r.number < trial.number]
            duplicate = bool(trial.params) and any(r.params == trial.params for r in earlier)
            if len(earlier) >= target or duplicate:
                self._fail(trial.trial_id, "surplus: another worker took this run", surplus=True)
                self._beating.discard(trial.trial_id)
            else:
                keep.append(trial)
        return keep

    def fill(self, trials: Sequence[NewTrial], suggestions: Sequence[Mapping[str, Any]]) -> list[NewTrial]:
        """Give claimed placeholders their parameters (see ``SweepLoop.run_round``).

        A filled trial whose parameters an earlier live trial already holds is surplus: the
        rare case where two workers still picked one point (the grid's, say).
        """
        filled = []
        for trial, params in zip(trials, suggestions):
            for name, value in params.items():
                dist = self.space[name].to_optuna()
                self.storage.set_trial_param(trial.trial_id, name, dist.to_internal_repr(value), dist)
            self.storage.set_trial_user_attr(trial.trial_id, PENDING, False)
            filled.append(NewTrial(trial.number, trial.trial_id, dict(params), trial.round))
        live = [r for r in self.records() if r.state is not TrialState.FAIL and r.params]
        keep = []
        for trial in filled:
            if trial.params and any(r.params == trial.params and r.number < trial.number for r in live):
                self.discard(trial, "surplus: another worker took this run")
            else:
                keep.append(trial)
        return keep

    def discard(self, trial: NewTrial, reason: str) -> None:
        """Drop a trial that never ran: hidden from records like a lost race."""
        self._fail(trial.trial_id, reason, surplus=True)
        self._beating.discard(trial.trial_id)

    @storage_call
    def set_study_attr(self, key: str, value: Any) -> None:
        self.study.set_user_attr(key, value)

    @storage_call
    def set_attrs(self, trial: NewTrial, attrs: Mapping[str, Any]) -> None:
        for key, value in attrs.items():
            self.storage.set_trial_user_attr(trial.trial_id, key, value)

    @storage_call
    def finish(self, trial: NewTrial, state: TrialState, value: float | None,
               attrs: Mapping[str, Any]) -> bool:
        """Record a run's outcome; False when the trial was already finished elsewhere."""
        from optuna.exceptions import UpdateFinishedTrialError

        self._beating.discard(trial.trial_id)
        self.set_attrs(trial, attrs)
        finite = value is not None and math.isfinite(value) and state is not TrialState.FAIL
        values = [float(value)] if finite and value is not None else None
        try:
            return self.storage.set_trial_state_values(trial.trial_id, _optuna_state(state.value), values)
        except UpdateFinishedTrialError:
            return False

    # ------------------------------------------------------------------ heartbeats

    def _beat(self, trial_id: int) -> None:
        self.storage.record_heartbeat(trial_id)
        self._beating.add(trial_id)
        if self._thread is None:
            self._thread = threading.Thread(target=self._heartbeat_loop, daemon=True,
                                            name="nested-sweeper-heartbeat")
            self._thread.start()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            for trial_id in list(self._beating):
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # a lost beat only risks a late stale-check; keep beating
                    continue

    def close(self) -> None:
        self._stop.set()


def _optuna_state(name: str) -> optuna.trial.TrialState:
    import optuna

    return optuna.trial.TrialState[name]


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return False  # a trial of ours from before a restart in the same process cannot run
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def count(records: Iterable[TrialRecord], *states: TrialState) -> int:
    return sum(1 for r in records if r.state in states)


def fail_reasons(records: Sequence[TrialRecord]) -> list[str]:
    return [f"{r.attrs.get('run_name', r.number)}: {r.attrs.get('fail_reason', 'unknown')}"
            for r in records if r.state is TrialState.FAIL]
