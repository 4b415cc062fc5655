"""Finding a sweep's study (a name, a directory, a database file, a URL) and reading it,
read-only, into a ``SweepReport``."""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nested_sweeper.engine.study import SURPLUS
from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialRecord, record_from_trial
from nested_sweeper.schema import DB_NAME
from nested_sweeper.storage import hide_password, make_storage

if TYPE_CHECKING:
    import optuna
from nested_sweeper.summary.report import (
    SweepReport,
)

# --------------------------------------------------------------------------- loading


def load_report(
    target: str,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    train_dir: str = "train_dir",
) -> SweepReport:
    """Read a sweep's study into a `SweepReport`.

    Args:
        target: A sweep name (``<train_dir>/sweep/<name>/sweep.db``), a sweep directory or a
            ``.db`` file; with ``storage`` it is the study name.
        storage: Any SQLAlchemy URL (e.g. ``postgresql://...``) holding the study.
        study_name: The study to read when the database holds several.
        train_dir: Where sweeps live when ``target`` is a name.

    Raises:
        SweepError: No such sweep, no database, or no (unambiguous) study in it.
    """
    from sqlalchemy.exc import SQLAlchemyError

    db: Path | None = None
    if storage:
        url, default_name, where = storage, study_name or target, "--storage"
    else:
        db = _find_database(target, train_dir).resolve()
        url, default_name, where = f"sqlite:///{db}", db.parent.name, str(db)
        _check_optuna_sqlite(db)
    rdb = _open_storage(url, where)
    try:
        study = _load_study(rdb, study_name or default_name, explicit=bool(study_name), where=where)
        report = report_from_study(study, storage=url)
    except SQLAlchemyError as exc:
        raise _storage_error(url, where, exc) from None
    finally:
        rdb.engine.dispose()
    if report.sweep_dir is None and db is not None:
        report.sweep_dir = str(db.parent)
    return report


def _find_database(target: str, train_dir: str) -> Path:
    path = Path(target).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        return _database_in(path)
    by_name = Path(train_dir) / "sweep" / target
    if by_name.is_dir():
        return _database_in(by_name)
    raise SweepError(
        f"no sweep named {target!r} (looked for {by_name}/ and ./{target})",
        file=str(by_name),
        fix=_sweeps_hint(train_dir),
    )


def _database_in(directory: Path) -> Path:
    db = directory / DB_NAME
    if db.is_file():
        return db
    others = sorted(directory.glob("*.db"))
    if len(others) == 1:
        return others[0]
    found = f" (found {', '.join(p.name for p in others)})" if others else ""
    raise SweepError(
        f"no study database {DB_NAME} in this directory{found}",
        file=str(directory),
        fix="pass the .db file itself, or --storage URL when the study lives in another database",
    )


def list_sweeps(train_dir: str = "train_dir") -> list[str]:
    """Names of the sweeps under ``<train_dir>/sweep/`` that have a study database."""
    root = Path(train_dir) / "sweep"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / DB_NAME).is_file())


def _sweeps_hint(train_dir: str) -> str:
    names = list_sweeps(train_dir)
    if names:
        return f"sweeps found under {Path(train_dir) / 'sweep'}/: {', '.join(names)}"
    return (
        f"no sweeps found under {Path(train_dir) / 'sweep'}/; start one with "
        "`python train.py -m +sweep=NAME`, or pass --train-dir or --storage"
    )


def _check_optuna_sqlite(db: Path) -> None:
    # Optuna would silently create its tables in any SQLite file; refuse foreign files instead.
    try:
        with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='studies'"
            ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise SweepError(f"cannot read as SQLite: {exc}", file=str(db)) from None
    if row is None:
        raise SweepError(
            "not an Optuna study database (no 'studies' table)",
            file=str(db),
            fix="point at the sweep directory or its sweep.db",
        )


def _open_storage(url: str, where: str) -> optuna.storages.RDBStorage:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return make_storage(url, read_only=True)  # a summary never writes to the database
    except (SQLAlchemyError, ImportError, ValueError, RuntimeError) as exc:
        raise _storage_error(url, where, exc) from None


def _storage_error(url: str, where: str, exc: Exception) -> SweepError:
    on_cli = where == "--storage"
    return SweepError(
        f"cannot read storage {hide_password(url)}: {type(exc).__name__}: {exc}".splitlines()[0],
        key=where if on_cli else None,
        file=None if on_cli else where,
        fix="check the URL, that the server is reachable, that its driver is installed and "
        "that the Optuna schema is current (`optuna storage upgrade --storage URL`)",
    )


def _load_study(
    rdb: optuna.storages.RDBStorage, name: str, *, explicit: bool, where: str
) -> optuna.Study:
    import optuna

    names = optuna.get_all_study_names(storage=rdb)
    if name in names:
        return optuna.load_study(study_name=name, storage=rdb)
    if len(names) == 1 and not explicit:
        return optuna.load_study(study_name=names[0], storage=rdb)
    if not names:
        raise SweepError("the database holds no study", file=where, fix="has the sweep started?")
    raise SweepError(
        f"no study named {name!r}",
        file=where,
        key="--study",
        fix=f"pass --study with one of: {', '.join(sorted(names))}",
    )


def report_from_study(study: optuna.Study, *, storage: str = "") -> SweepReport:
    """Build the report from an open study (the sweeper calls this when a sweep ends)."""
    from optuna.distributions import distribution_to_json

    spec = study.user_attrs.get("spec")
    spec = dict(spec) if isinstance(spec, Mapping) else {}
    direction = study.direction.name.lower()
    trials: list[TrialRecord] = []
    distributions: dict[str, dict[str, Any]] = {}
    for frozen in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        attrs = dict(frozen.user_attrs)
        if attrs.get(SURPLUS):
            # A racing worker's extra trial, failed before it ran: no run, no round.
            continue
        trials.append(record_from_trial(frozen))
        for name, dist in frozen.distributions.items():
            distributions[name] = json.loads(distribution_to_json(dist))
    sweep_dir = study.user_attrs.get("sweep_dir")
    return SweepReport(
        name=study.study_name,
        storage=hide_password(storage),
        spec=spec,
        sweep_dir=str(sweep_dir) if sweep_dir else None,
        goal=str(spec.get("goal") or direction) if direction == "not_set" else direction,
        trials=trials,
        distributions=distributions,
        ended=study.user_attrs.get("ended"),
    )

def _arg(args: argparse.Namespace | Mapping[str, Any], name: str, default: Any = None) -> Any:
    if isinstance(args, Mapping):
        return args.get(name, default)
    return getattr(args, name, default)
