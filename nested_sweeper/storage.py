"""The study's database: a SQLAlchemy URL becomes an Optuna storage.

SQLite gets WAL and a busy timeout so several local workers share one file; PostgreSQL serves
many machines. Failures become one-line ``SweepError``s naming the database, and passwords
never reach a log or a file (``hide_password``).
"""

from __future__ import annotations

import errno
import os
import random
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nested_sweeper.errors import SweepError

if TYPE_CHECKING:
    import optuna

HEARTBEAT_S = 10
GRACE_S = 60
CREATE_TRIES = 8
_CREATE_RACE = ("already exists", "UNIQUE constraint", "UniqueViolation", "database is locked",
                "duplicate key")

def make_storage(url: str, *, read_only: bool = False) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats; concurrent SQLite writers wait instead of failing.

    ``read_only`` (the summary): no tables created, no heartbeats, no journal switch, and
    SQLAlchemy's own errors raised as they are (the summary words them for its command line).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if read_only:
        return optuna.storages.RDBStorage(url, skip_table_creation=True)
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


def is_storage_failure(err: BaseException) -> bool:
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

def hide_password(url: str) -> str:
    """The storage URL as it may be written to disk or logs."""
    if not url or url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy can parse: show it without any credentials
        return url.split("@")[-1]
