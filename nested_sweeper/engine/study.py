"""Optuna glue: the study that holds a sweep's state in a real database.

Parameter names are the dotted paths and values the real values, so optuna-dashboard and
``optuna.load_study`` read a sweep as any other study. Trials are created RUNNING through
the storage (no shared enqueue queue, so concurrent workers never swap suggestions), carry
the worker's host and pid, and get heartbeats: a restarted worker fails its own dead
trials at once (reason ``interrupted``) and other workers' only once their heartbeat is stale.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import random
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nested_sweeper.errors import SweepError
from nested_sweeper.records import INTERRUPTED, TrialRecord, TrialState

if TYPE_CHECKING:
    import optuna

HEARTBEAT_S = 10
GRACE_S = 60
CREATE_TRIES = 8
_CREATE_RACE = ("already exists", "UNIQUE constraint", "UniqueViolation", "database is locked",
                "duplicate key")
SURPLUS = "surplus"
# A trial created to claim a slot before its parameters are chosen (claim-before-suggest).
PENDING = "pending"
_STATES = {"RUNNING": TrialState.RUNNING, "COMPLETE": TrialState.COMPLETE,
           "FAIL": TrialState.FAIL, "PRUNED": TrialState.PRUNED}


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """An RDB storage with heartbeats; concurrent SQLite writers wait instead of failing."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 120}
        db = sqlite_path(url)
        if db is not None:  # an explicit sqlite:///new/dir/sweep.db: SQLite makes no dirs
            make_dir(db.parent, "the study database's directory")
    for attempt in range(CREATE_TRIES):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                )
            break
        except Exception as err:  # SQLAlchemy raises many types; all mean "cannot open"
            # Workers started in the same second (an sbatch array) race to create the
            # tables; the losers see them half made. Wait and open them again.
            if attempt + 1 < CREATE_TRIES and any(m in str(err) for m in _CREATE_RACE):
                time.sleep(random.uniform(0.2, 0.6))
                continue
            raise storage_error(err, url, opening=True) from None
    if url.startswith("sqlite"):
        _sqlite_wal(storage)
    return storage


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for other URLs and in-memory ones)."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    return Path(database).resolve() if database and database != ":memory:" else None


def make_dir(path: Path, what: str) -> None:
    """``mkdir -p`` whose failure is one line naming the path and the cause."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SweepError(f"cannot create {what} {path}: {err.strerror or err}",
                         key="hydra.sweeper.storage", fix=_fix_for(err.errno)) from None


def _fix_for(code: int | None) -> str:
    if code == errno.ENOSPC:
        return "free space on that disk, then rerun the same command to resume"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "run the sweep where you may write (train_dir=PATH or hydra.sweeper.storage=URL)"
    return "check the path, then rerun the same command to resume"


def storage_error(err: BaseException, url: str, *, opening: bool = False) -> SweepError:
    """One line for a storage failure: which database, and the cause at the bottom of the
    chain (Optuna wraps SQLAlchemy, which wraps sqlite3 or psycopg)."""
    from nested_sweeper.engine.run import hide_password

    cause = _root_cause(err)
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    db = sqlite_path(url)
    where = str(db) if db is not None else hide_password(url)
    code = _errno_of(text, db)
    if code == errno.ENOSPC:
        text = "the disk is full (database or disk is full)"
    elif code == errno.EROFS:
        text = f"{db.parent if db else where} is read-only ({text})"
    verb = "cannot open" if opening else "cannot write to"
    fix = _fix_for(code) if code else "check the URL (sqlite:///PATH or postgresql://USER@HOST/DB)"
    return SweepError(f"{verb} the study database {where}: {text}",
                      key="hydra.sweeper.storage", fix=fix)


def _root_cause(err: BaseException) -> BaseException:
    seen = {id(err)}
    while True:
        nxt = err.__cause__ or err.__context__ or getattr(err, "orig", None)
        if nxt is None or id(nxt) in seen:
            return err
        seen.add(id(nxt))
        err = nxt


def _errno_of(text: str, db: Path | None) -> int | None:
    """ENOSPC, EROFS (the database or its directory cannot be written) or None."""
    lowered = text.lower()
    if "disk is full" in lowered or "no space left" in lowered:
        return errno.ENOSPC
    unwritable = db is not None and not (os.access(db.parent, os.W_OK)
                                         and (not db.exists() or os.access(db, os.W_OK)))
    if "readonly" in lowered or "read-only" in lowered or (unwritable and "unable to open" in lowered):
        return errno.EROFS
    return None


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
            if not _is_storage_failure(err):
                raise
            raise storage_error(err, self.url) from None
    return wrapper


def _is_storage_failure(err: BaseException) -> bool:
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(err, (StorageInternalError, SQLAlchemyError, OSError))


def _sqlite_wal(storage: Any) -> None:
    """WAL journal with NORMAL sync: ~6x fewer milliseconds per commit, and readers never
    block the writer (bench/sweeper_overhead.py). WAL needs one host: many machines use
    PostgreSQL."""
    from sqlalchemy import event

    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", _pragmas)
    storage.engine.dispose()  # connections made before the listener reconnect with it


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
        direction = "maximize" if goal == "maximize" else "minimize"
        # load_if_exists makes two workers starting at once on a new study agree on one.
        self.study = optuna.create_study(storage=self.storage, study_name=name,
                                         direction=direction, load_if_exists=True)
        self.name = name
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
            record = self._finished.get(trial._trial_id)
            if record is None:
                record = self._record(trial)
                if trial.state.is_finished():
                    self._finished[trial._trial_id] = record
            records.append(record)
        return records

    @staticmethod
    def _record(trial: optuna.trial.FrozenTrial) -> TrialRecord:
        value = trial.value if trial.state.name in ("COMPLETE", "PRUNED") else None
        if value is None and trial.state.name == "PRUNED" and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        return TrialRecord(number=trial.number, params=dict(trial.params),
                           state=_STATES.get(trial.state.name, TrialState.FAIL),
                           value=value, cost=trial.user_attrs.get("cost"),
                           attrs=dict(trial.user_attrs))

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
        # Optuna has no public "which trials are stale" call; fail_stale_trials cannot
        # record a reason, because a finished trial's attributes are read-only.
        stale = set(self.storage._get_stale_trial_ids(self.study._study_id))
        failed = []
        for trial in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            attrs = trial.user_attrs
            dead = attrs.get("worker_host") == host and not _alive(attrs.get("worker_pid"))
            if (dead or trial._trial_id in stale) and self._fail(trial._trial_id, INTERRUPTED):
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
        trial_id = self.storage.create_new_trial(self.study._study_id, template_trial=template)
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
        finite = value is not None and math.isfinite(value)
        values = [value] if finite and state is not TrialState.FAIL else None
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
