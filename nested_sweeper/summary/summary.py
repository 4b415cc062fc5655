"""What a sweep was and what it found: tables, JSON, CSV and plots read from its Optuna study.

The sweeper stores everything in one Optuna study (``<train_dir>/sweep/<run>/sweep.db`` by
default): the spec in ``study.user_attrs["spec"]``, one trial per run with its round, run
name, run directory, returned metrics and failure reason in the trial's ``user_attrs``.
This module reads that study with plain Optuna into a `SweepReport` and renders it::

    report = load_report("demo")                 # train_dir/sweep/demo/sweep.db
    print(render_table(report))                  # sweep, space, fixed, rounds, best run
    json.dumps(to_json(report))                  # the same as data (NaN -> null)
    write_plots(report)                          # history/params/importance/parallel PNGs

``summary_main`` is the ``nested-sweep summary`` command, ``watch_main`` its ``--watch``
(``nested-sweep monitor``). Optuna, rich and matplotlib are
imported inside functions: the package must stay cheap to import at Hydra app start.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from nested_sweeper.engine.study import SURPLUS
from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialRecord, TrialState, best_record, record_from_trial
from nested_sweeper.storage import hide_password

if TYPE_CHECKING:
    import optuna
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FORMATS",
    "PLOT_FILES",
    "SweepReport",
    "load_report",
    "param_importances",
    "render_table",
    "report_from_study",
    "summary_main",
    "sweep_finished",
    "to_csv",
    "to_json",
    "watch_main",
    "watch_view",
    "write_plots",
]

FORMATS = ("table", "json", "csv")
PLOT_FILES = ("history.png", "params.png", "importance.png", "parallel.png")
DB_NAME = "sweep.db"

# Optuna states beyond ours: a WAITING (enqueued) trial has not finished either.
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
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    try:
        # skip_table_creation: reading a summary must never write to the database.
        return optuna.storages.RDBStorage(url, skip_table_creation=True)
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


# --------------------------------------------------------------------------- formatting


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _count(n: Any, noun: str) -> str:
    """``1 run``, ``3 runs``; an unknown count (None) reads ``- runs``."""
    return f"{_fmt(n)} {noun}" + ("" if n == 1 else "s")


def _short_names(paths: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each path that no other path shares."""
    short: dict[str, str] = {}
    for path in paths:
        parts = path.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            if sum(1 for p in paths if p == suffix or p.endswith("." + suffix)) == 1:
                short[path] = suffix
                break
        else:
            short[path] = path
    return short


def _describe_distribution(spec: Any) -> str:
    if not isinstance(spec, Mapping):
        return _fmt(spec)
    kind = spec.get("distribution")
    rest = " ".join(f"{k}={_fmt(v)}" for k, v in spec.items() if k != "distribution")
    return f"{kind} {rest}".strip() if kind else rest


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _params_text(trial: TrialRecord, short: Mapping[str, str]) -> str:
    return " ".join(f"{short.get(k, k)}={_fmt(v)}" for k, v in trial.params.items())


def _states_text(report: SweepReport) -> str:
    """``3 complete, 1 running``: the states that occur, with their counts."""
    words = {"COMPLETE": "complete", "FAIL": "failed", "PRUNED": "pruned", "RUNNING": "running"}
    counts = {words[k]: v for k, v in report.counts.items() if v}
    return ", ".join(f"{v} {k}" for k, v in counts.items())


def _counts_text(report: SweepReport) -> str:
    detail = _states_text(report)
    return _count(len(report.trials), "run") + (f" ({detail})" if detail else "")


def _progress_text(report: SweepReport) -> str:
    """``2 of 3 runs done (2 complete, 1 running)``."""
    detail = _states_text(report)
    return f"{report.done} of {_count(report.planned, 'run')} done" + (
        f" ({detail})" if detail else "")


# --------------------------------------------------------------------------- table


def render_table(report: SweepReport, *, width: int | None = None, color: bool = False) -> str:
    """The summary as rich tables rendered to text (no ANSI codes unless ``color``)."""
    import shutil

    from rich.console import Console

    width = width or max(100, shutil.get_terminal_size((120, 24)).columns)
    buffer = io.StringIO()
    # markup=False: run names, paths and fail reasons may hold "[...]", which is not markup.
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        markup=False,
        highlight=False,
        emoji=False,
    )
    for section in (_sweep_section, _space_section, _rounds_section, _best_section):
        for renderable in section(report):
            # Plain lines (the best run, its config path) never wrap, so they stay copyable.
            console.print(renderable, soft_wrap=isinstance(renderable, str))
    text = buffer.getvalue()
    # rich pads titles to the table width; trailing blanks only get in the way of diffs.
    return text if color else "\n".join(line.rstrip() for line in text.split("\n"))


def _sweep_section(report: SweepReport) -> Iterable[Any]:
    from rich.table import Table

    spec = report.spec
    table = Table(title=f"Sweep {report.name}", show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    rounds, per_round = spec.get("rollout_count"), spec.get("num_samples")
    planned = report.planned
    rows = [
        ("file", sweep_file(report)),
        ("method", spec.get("method")),
        ("metric", f"{report.metric} ({report.goal})"),
        (
            "rounds",
            f"{_count(rounds, 'round')} × {_count(per_round, 'run')} per round"
            + (f" = {_count(planned, 'run')}" if planned is not None else ""),
        ),
        ("runs", _counts_text(report)),
        ("seed", spec.get("seed")),
        ("storage", report.storage),
        ("sweep dir", report.sweep_dir),
    ]
    for key, value in rows:
        table.add_row(key, _fmt(value))
    yield table


def _space_section(report: SweepReport) -> Iterable[Any]:
    from rich.table import Table

    space = report.spec.get("parameters") or {}
    table = Table(title="Parameter space", title_justify="left")
    table.add_column("parameter", no_wrap=True)
    table.add_column("distribution", overflow="fold")
    for path in report.param_names:
        described = space.get(path)
        if described is None and path in report.distributions:
            dist = report.distributions[path]
            described = f"{dist.get('name')} {dist.get('attributes')}"
        table.add_row(path, _describe_distribution(described))
    if not report.param_names:
        table.add_row("-", "no swept parameters")
    yield table
    fixed = report.spec.get("fixed") or {}
    table = Table(title="Fixed overrides", title_justify="left")
    table.add_column("path", no_wrap=True)
    table.add_column("value", overflow="fold")
    for path, value in _flatten(fixed).items() if isinstance(fixed, Mapping) else []:
        table.add_row(path, _fmt(value))
    if not fixed:
        table.add_row("-", "none")
    yield table


_STATE_STYLE = {"COMPLETE": "green", "FAIL": "red", "PRUNED": "yellow", "RUNNING": "cyan"}


def _rounds_section(report: SweepReport) -> Iterable[Any]:
    from rich.table import Table
    from rich.text import Text

    short = _short_names(report.param_names)
    if not report.trials:
        yield "No runs recorded yet."
    for round_, trials in report.rounds.items():
        best = report.round_best(round_)
        label = f"Round {shown_round(round_)}" if round_ is not None else "Runs without a round"
        title = f"{label}: {_count(len(trials), 'run')}"
        if best is not None:
            title += f", best {report.metric} {_fmt(best.value)} ({_run_name(best)})"
        table = Table(title=title, title_justify="left")
        table.add_column("", no_wrap=True)
        table.add_column("run", no_wrap=True)
        table.add_column("state", no_wrap=True)
        table.add_column(report.metric, justify="right", no_wrap=True)
        table.add_column("parameters", overflow="fold")
        table.add_column("fail reason", overflow="fold")
        for trial in trials:
            state = trial.state.value
            reason = trial.attrs.get("fail_reason") or ("pruned" if state == "PRUNED" else "")
            table.add_row(
                "*" if trial is best else "",
                _run_name(trial),
                Text(state, style=_STATE_STYLE[state]),
                _fmt(trial.value),
                _params_text(trial, short),
                str(reason),
            )
        yield table


def _best_section(report: SweepReport) -> Iterable[Any]:
    best = report.best
    if best is None:
        yield f"Best run: none yet (no completed run with a finite {report.metric})"
        return
    lines = [
        f"Best run: {_run_name(best)} (trial {best.number}, round {_fmt(shown_round(_round(best)))})",
        f"  {report.metric} = {_fmt(best.value)} ({report.goal})",
    ]
    others = {k: v for k, v in _metrics(best).items() if k != report.metric}
    if others:
        lines.append("  metrics: " + " ".join(f"{k}={_fmt(v)}" for k, v in others.items()))
    lines += [f"  {path} = {_fmt(value)}" for path, value in best.params.items()]
    config = _config_path(best)
    if config:
        missing = "" if Path(config).is_file() else " (not found)"
        lines.append(f"  config: {config}{missing}")
    yield from lines


# --------------------------------------------------------------------------- JSON and CSV


def _plain(value: Any) -> Any:
    """JSON-safe data: non-finite floats become None, tuples lists, unknown objects strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _trial_json(trial: TrialRecord) -> dict[str, Any]:
    attrs = trial.attrs
    return _plain(
        {
            "number": trial.number,
            "round": shown_round(_round(trial)),
            "run_name": attrs.get("run_name"),
            "state": trial.state.value,
            "value": trial.value,
            "params": trial.params,
            "metrics": _metrics(trial),
            "cost": trial.cost,
            "fail_reason": attrs.get("fail_reason"),
            "job_num": attrs.get("job_num"),
            "run_dir": attrs.get("run_dir"),
            "config": _config_path(trial),
        }
    )


def to_json(report: SweepReport) -> dict[str, Any]:
    """The summary as JSON-serializable data (``json.dumps(..., allow_nan=False)`` works)."""
    best = report.best
    rounds = [
        {
            "round": shown_round(round_),
            "trials": [t.number for t in trials],
            "best": None if (b := report.round_best(round_)) is None else b.number,
        }
        for round_, trials in report.rounds.items()
    ]
    return _plain(
        {
            "name": report.name,
            "storage": report.storage,
            "sweep_dir": report.sweep_dir,
            "sweep_file": sweep_file(report),
            "metric": report.metric,
            "goal": report.goal,
            "spec": report.spec,
            "counts": report.counts,
            "best": None if best is None else _trial_json(best),
            "rounds": rounds,
            "trials": [_trial_json(t) for t in report.trials],
        }
    )


_CSV_FIXED = ("number", "round", "run_name", "state", "value")
_CSV_TAIL = ("fail_reason", "run_dir")


def to_csv(report: SweepReport) -> str:
    """One row per trial: number, round, run_name, state, value, each parameter, each metric.

    Metric columns carry a ``metrics.`` prefix only where a name collides with another column.
    """
    params = report.param_names
    taken = {*_CSV_FIXED, *_CSV_TAIL, *params}
    metric_cols = {m: f"metrics.{m}" if m in taken else m for m in report.metric_names}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*_CSV_FIXED, *params, *metric_cols.values(), *_CSV_TAIL])
    for trial in report.trials:
        metrics = _metrics(trial)
        writer.writerow(
            [
                trial.number,
                _csv_cell(shown_round(_round(trial))),
                _run_name(trial),
                trial.state.value,
                _csv_cell(trial.value),
                *(_csv_cell(trial.params.get(p)) for p in params),
                *(_csv_cell(metrics.get(m)) for m in metric_cols),
                _csv_cell(trial.attrs.get("fail_reason")),
                _csv_cell(trial.attrs.get("run_dir")),
            ]
        )
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    # repr keeps every digit of a float, so a CSV round trip gives the stored value back.
    return repr(value) if isinstance(value, float) else value


# --------------------------------------------------------------------------- plots


@dataclass(frozen=True)
class _Axis:
    """How one parameter is drawn: its scale, and its choices when categorical."""

    scale: str  # "linear" | "log" | "log2" | "logit" | "categorical"
    choices: tuple[Any, ...] = ()

    def position(self, value: Any) -> float:
        """A value on a linear axis (log/logit applied; categories as their index)."""
        if self.scale == "categorical":
            return float(self.choices.index(value)) if value in self.choices else math.nan
        x = float(value)
        if self.scale in ("log", "log2"):
            return math.log(x) if x > 0 else math.nan
        if self.scale == "logit":
            return math.log(x / (1 - x)) if 0 < x < 1 else math.nan
        return x


def _axis_for(report: SweepReport, name: str) -> _Axis:
    values = [t.params[name] for t in report.trials if name in t.params]
    dist = report.distributions.get(name, {})
    if dist.get("name") == "CategoricalDistribution" or any(
        isinstance(v, (str, bool)) or v is None for v in values
    ):
        choices = list(dist.get("attributes", {}).get("choices") or [])
        for v in values:
            if v not in choices:
                choices.append(v)
        return _Axis("categorical", tuple(choices))
    declared = report.spec.get("parameters", {}).get(name, {})
    kind = str(declared.get("distribution", "")) if isinstance(declared, Mapping) else ""
    numbers = [float(v) for v in values]
    if "logit" in kind and all(0 < v < 1 for v in numbers):
        return _Axis("logit")
    if "pow2" in kind and all(v > 0 for v in numbers):
        return _Axis("log2")
    log = dist.get("attributes", {}).get("log") or "log" in kind.replace("logit", "")
    if log and all(v > 0 for v in numbers):
        return _Axis("log")
    return _Axis("linear")


def _set_scale(ax: Axes, axis: _Axis) -> None:
    if axis.scale == "log":
        ax.set_xscale("log")
    elif axis.scale == "log2":
        ax.set_xscale("log", base=2)
    elif axis.scale == "logit":
        ax.set_xscale("logit")
    elif axis.scale == "categorical":
        ax.set_xticks(range(len(axis.choices)), [_fmt(c) for c in axis.choices])
        ax.set_xlim(-0.5, len(axis.choices) - 0.5)
    if axis.scale != "categorical":
        ax.margins(x=0.08)


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A bare Figure on an Agg canvas: no pyplot, so no global backend or figure registry.
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _message(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def write_plots(report: SweepReport, out_dir: Path | None = None) -> list[Path]:
    """Write history.png, params.png, importance.png and parallel.png; return their paths.

    Every plot also renders with no or one completed run (a panel says what is missing).

    Raises:
        SweepError: Neither ``out_dir`` nor the report's sweep directory is known.
    """
    target = Path(out_dir) if out_dir is not None else None
    if target is None and report.sweep_dir:
        target = Path(report.sweep_dir)
    if target is None:
        raise SweepError(
            "the sweep directory is unknown", key="plots", fix="pass an output directory"
        )
    target.mkdir(parents=True, exist_ok=True)
    painters = (_plot_history, _plot_params, _plot_importance, _plot_parallel)
    paths = []
    for name, paint in zip(PLOT_FILES, painters):
        fig = paint(report)
        path = target / name
        fig.savefig(path)
        paths.append(path)
    return paths


def _title(report: SweepReport) -> str:
    best = report.best
    text = f"{report.name}: {report.metric} ({report.goal})"
    return text + (f", best {_fmt(best.value)} at {_run_name(best)}" if best else "")


def _mark_failed(ax: Axes, xs: list[float]) -> None:
    # Failures have no metric: mark them along the bottom edge, at their x.
    ax.scatter(
        xs,
        [0.02] * len(xs),
        marker="x",
        color="red",
        label="failed",
        zorder=3,
        transform=ax.get_xaxis_transform(),
    )
    # A blended transform leaves the data limits alone; widen x so a log axis has a range.
    ax.update_datalim([(x, 0.0) for x in xs if math.isfinite(x)], updatey=False)
    ax.autoscale_view()


def _plot_history(report: SweepReport) -> Figure:
    from matplotlib.ticker import MaxNLocator

    fig = _new_figure(8, 4.5)
    ax = fig.add_subplot()
    done = report.completed
    if not done:
        _message(ax, f"no completed runs yet ({_counts_text(report)})")
        ax.set_title(_title(report))
        return fig
    rounds = sorted({_round(t) or 0 for t in done})
    colors = {r: f"C{i % 10}" for i, r in enumerate(rounds)}
    for r in rounds:
        mine = [t for t in done if (_round(t) or 0) == r]
        ax.scatter(
            [t.number for t in mine],
            [t.value for t in mine],
            color=colors[r],
            label=f"round {shown_round(r)}",
            zorder=3,
        )
    pick = max if report.goal == "maximize" else min
    best_so_far: list[float] = []
    for t in done:
        best_so_far.append(t.value if not best_so_far else pick(best_so_far[-1], t.value))
    ax.step([t.number for t in done], best_so_far, where="post", color="black", label="best so far")
    pruned = [t for t in report.trials if t.state is TrialState.PRUNED and _finite(t.value)]
    if pruned:  # stopped early: their last value, drawn hollow
        ax.scatter(
            [t.number for t in pruned],
            [t.value for t in pruned],
            facecolors="none",
            edgecolors="gray",
            label="pruned",
            zorder=3,
        )
    failed = [t.number for t in report.trials if t.state is TrialState.FAIL]
    if failed:
        _mark_failed(ax, failed)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(report.metric)
    ax.set_title(_title(report))
    ax.legend(fontsize="small", loc="best")
    ax.grid(alpha=0.3)
    return fig


def _plot_params(report: SweepReport) -> Figure:
    names = report.param_names
    ncols = max(1, min(3, len(names)))
    nrows = max(1, math.ceil(len(names) / ncols))
    fig = _new_figure(4 * ncols, 3.2 * nrows)
    if not names:
        _message(fig.add_subplot(), "no swept parameters")
        return fig
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    done, best = report.completed, report.best
    for ax, name in zip(axes, names):
        axis = _axis_for(report, name)
        pos = (lambda v, a=axis: a.position(v)) if axis.scale == "categorical" else float
        have = [t for t in done if name in t.params]
        ax.scatter([pos(t.params[name]) for t in have], [t.value for t in have], alpha=0.8)
        if best is not None and name in best.params:
            ax.scatter(
                [pos(best.params[name])],
                [best.value],
                marker="*",
                s=200,
                color="gold",
                edgecolor="black",
                zorder=4,
                label="best",
            )
        failed = [t for t in report.trials if t.state is TrialState.FAIL and name in t.params]
        if failed:
            _mark_failed(ax, [pos(t.params[name]) for t in failed])
        _set_scale(ax, axis)
        ax.set_xlabel(
            name + ("" if axis.scale in ("linear", "categorical") else f" ({axis.scale})")
        )
        ax.set_ylabel(report.metric)
        ax.grid(alpha=0.3)
        if not have:
            ax.set_title("no completed runs", fontsize="small")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(_title(report))
    return fig


def param_importances(report: SweepReport, *, seed: int = 0) -> dict[str, float] | str:
    """fANOVA importance of each varying parameter, or why it cannot be computed.

    The evaluator is seeded so that the same study always gives the same bars.
    """
    import optuna
    from optuna.distributions import json_to_distribution

    done = report.completed
    varying = [
        n
        for n in report.param_names
        if n in report.distributions and len({repr(t.params.get(n)) for t in done}) > 1
    ]
    if len(done) < 2 or not varying:
        return (
            f"not enough data for parameter importance: needs >= 2 completed runs and >= 1 "
            f"varying parameter (have {len(done)} completed, {len(varying)} varying)"
        )
    dists = {n: json_to_distribution(json.dumps(report.distributions[n])) for n in varying}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" line on stderr
    try:
        study = optuna.create_study(direction=report.goal)
    finally:
        optuna.logging.set_verbosity(verbosity)
    for t in done:
        params = {n: t.params[n] for n in varying if n in t.params}
        if len(params) < len(varying):
            continue
        try:
            trial = optuna.trial.create_trial(params=params, distributions=dists, value=t.value)
        except ValueError:  # a value outside the last trial's distribution: leave it out
            continue
        study.add_trial(trial)
    if len(study.trials) < 2:
        return "not enough data for parameter importance: runs do not share one search space"
    try:
        # fANOVA (Optuna's default evaluator) fits a random forest with scikit-learn.
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        return optuna.importance.get_param_importances(study, evaluator=evaluator)
    except ImportError as exc:
        return f"parameter importance needs scikit-learn: {exc}"
    except (ValueError, RuntimeError) as exc:
        return f"parameter importance failed: {exc}"


def _plot_importance(report: SweepReport) -> Figure:
    result = param_importances(report)
    rows = len(result) if isinstance(result, dict) else 1
    fig = _new_figure(7, 1.5 + 0.4 * rows)
    ax = fig.add_subplot()
    ax.set_title(f"{report.name}: parameter importance for {report.metric} (fANOVA)")
    if isinstance(result, str):
        _message(ax, result)
        return fig
    names = list(result)[::-1]  # most important on top
    ax.barh(names, [result[n] for n in names], color="C0")
    for y, name in enumerate(names):
        ax.text(result[name], y, f" {result[name]:.2f}", va="center", fontsize="small")
    ax.set_xlim(0, max(1.0, max(result.values()) * 1.15))
    ax.set_xlabel("importance (sums to 1)")
    return fig


def _normalize(values: list[float]) -> list[float]:
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    if hi == lo:
        return [0.5 if math.isfinite(v) else math.nan for v in values]
    return [(v - lo) / (hi - lo) for v in values]


def _plot_parallel(report: SweepReport) -> Figure:
    from matplotlib import cm, colormaps, colors

    names = report.param_names
    fig = _new_figure(max(6.0, 1.6 * (len(names) + 1)), 5)
    ax = fig.add_subplot()
    ax.set_title(_title(report))
    done = [t for t in report.completed if all(n in t.params for n in names)]
    if not done:
        _message(ax, f"no completed runs yet ({_counts_text(report)})")
        return fig
    axes = [_axis_for(report, n) for n in names]
    columns = [_normalize([a.position(t.params[n]) for t in done]) for n, a in zip(names, axes)]
    metric = [float(t.value) for t in done]
    columns.append(_normalize(metric))
    cmap = colormaps["viridis" if report.goal == "maximize" else "viridis_r"]
    norm = colors.Normalize(
        min(metric), max(metric) if max(metric) > min(metric) else min(metric) + 1
    )
    xs = list(range(len(columns)))
    order = sorted(range(len(done)), key=lambda i: metric[i], reverse=report.goal == "minimize")
    for i in order:  # the best lines are drawn last, on top
        ax.plot(xs, [c[i] for c in columns], color=cmap(norm(metric[i])), alpha=0.8, lw=1.5)
    for x, (name, axis) in enumerate(zip([*names, report.metric], [*axes, None])):
        ax.axvline(x, color="gray", lw=0.8)
        _label_axis(ax, x, axis, [t.params[name] for t in done] if axis else metric)
    labels = [*_short_names(names).values(), report.metric]
    ax.set_xticks(xs, labels, rotation=20, ha="right")
    ax.set_yticks([])
    ax.set_ylim(-0.08, 1.08)
    ax.set_xlim(-0.3, len(columns) - 0.7)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=report.metric)
    return fig


def _label_axis(ax: Axes, x: int, axis: _Axis | None, values: list[Any]) -> None:
    """Write an axis's range (or its categories) beside it, in the parameter's own units."""
    if axis is not None and axis.scale == "categorical":
        used = [c for c in axis.choices if c in values]
        positions = _normalize([axis.position(c) for c in used])
        for c, y in zip(used, positions):
            ax.text(x + 0.03, y, _fmt(c), fontsize="x-small", va="center")
        return
    lo, hi = min(float(v) for v in values), max(float(v) for v in values)
    if hi == lo:  # _normalize put a constant axis in the middle
        ax.text(x + 0.03, 0.5, _fmt(values[0]), fontsize="x-small", va="bottom")
        return
    ax.text(x + 0.03, 1.0, _fmt(hi), fontsize="x-small", va="bottom")
    ax.text(x + 0.03, 0.0, _fmt(lo), fontsize="x-small", va="top")


# --------------------------------------------------------------------------- command


def _arg(args: argparse.Namespace | Mapping[str, Any], name: str, default: Any = None) -> Any:
    if isinstance(args, Mapping):
        return args.get(name, default)
    return getattr(args, name, default)


def summary_main(
    args: argparse.Namespace | Mapping[str, Any],
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``nested-sweep summary``: print the report; 0 on success, 2 with one line on ``err``.

    ``args`` (a Namespace or a mapping) holds ``target``, ``format`` (table|json|csv),
    ``plots`` (bool), ``storage``, ``study`` and ``train_dir``. With ``plots`` the PNG paths
    go into the JSON under ``"plots"``, after the table, or on ``err`` for CSV.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    fmt = _arg(args, "format") or "table"
    try:
        if fmt not in FORMATS:
            raise SweepError(
                f"unknown format {fmt!r}", key="--format", fix=f"use one of {', '.join(FORMATS)}"
            )
        report = load_report(
            str(_arg(args, "target") or ""),
            storage=_arg(args, "storage"),
            study_name=_arg(args, "study"),
            train_dir=_arg(args, "train_dir") or "train_dir",
        )
        plots = write_plots(report) if _arg(args, "plots") else []
    except SweepError as exc:
        err.write(f"error: {exc}\n")
        return 2
    if fmt == "json":
        data = to_json(report)
        if plots:
            data["plots"] = [str(p) for p in plots]
        out.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    elif fmt == "csv":
        out.write(to_csv(report))
        err.writelines(f"wrote {p}\n" for p in plots)
    else:
        color = bool(getattr(out, "isatty", lambda: False)())
        out.write(render_table(report, color=color))
        out.writelines(["Plots:\n", *(f"  {p}\n" for p in plots)] if plots else [])
    return 0


# --------------------------------------------------------------------------- watch

# Lines of the live view around the rounds table (title, header, borders, best, running).
_VIEW_CHROME = 12


def sweep_finished(report: SweepReport) -> bool:
    """Every planned run done and none running: what ends ``--watch`` on its own."""
    planned = report.planned
    running = report.counts[TrialState.RUNNING.value]
    if running == 0 and report.ended:  # the sweep stopped early and said why
        return True
    return planned is not None and running == 0 and report.done >= planned


def _signature(report: SweepReport) -> tuple[Any, ...]:
    """What the view shows changes exactly when this changes (no redraw without news)."""
    return tuple((t.number, t.state.value, t.value) for t in report.trials)


def watch_view(report: SweepReport, *, problem: str | None = None,
               max_rounds: int | None = None) -> list[Any]:
    """The live view: progress headline, one row per round (the latest ``max_rounds``), the
    running runs and the best so far. Compact on purpose: it is redrawn in place."""
    from rich.table import Table

    status = "finished" if sweep_finished(report) else time.strftime("updated %H:%M:%S")
    title = f"Sweep {report.name}: {_progress_text(report)}, {status}"
    table = Table(title=title, title_justify="left")
    for column in ("round", "runs", "complete", "failed", "pruned", "running"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column(f"best {report.metric}", justify="right", no_wrap=True)
    table.add_column("best run", no_wrap=True)
    rounds = list(report.rounds.items())
    hidden = len(rounds) - max_rounds if max_rounds and len(rounds) > max_rounds else 0
    if hidden:
        table.add_row(f"… {hidden}", *[""] * 7)
    for round_, trials in rounds[hidden:]:
        table.add_row(*_round_row(report, round_, trials))
    if not rounds:
        table.add_row("-", "0", *[""] * 6)
    view: list[Any] = [table, *_running_lines(report), _best_line(report)]
    if not sweep_finished(report) and not report.counts[TrialState.RUNNING.value]:
        # The study cannot tell a worker between rounds from one that stopped (a grid used
        # up, too many failures, killed): say so rather than look stuck.
        view.append("no run in progress: workers between rounds, or stopped (Ctrl-C ends "
                    "watching)")
    if problem:
        view.append(f"cannot read the study right now (retrying): {problem}")
    return view


def _round_row(report: SweepReport, round_: int | None, trials: list[TrialRecord]) -> list[str]:
    best = report.round_best(round_)
    states = [sum(1 for t in trials if t.state is s) for s in
              (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED, TrialState.RUNNING)]
    return [_fmt(shown_round(round_)), str(len(trials)), *map(str, states),
            _fmt(None if best is None else best.value), "-" if best is None else _run_name(best)]


def _running_lines(report: SweepReport) -> list[str]:
    short = _short_names(report.param_names)
    return [f"running: {_run_name(t)} (round {_fmt(shown_round(_round(t)))}) "
            f"{_params_text(t, short)}".rstrip()
            for t in report.trials if t.state is TrialState.RUNNING]


def _best_line(report: SweepReport) -> str:
    best = report.best
    if best is None:
        return f"best so far: none (no completed run with a finite {report.metric})"
    params = _params_text(best, _short_names(report.param_names))
    return (f"best so far: {_run_name(best)} {report.metric}={_fmt(best.value)} "
            f"(round {_fmt(shown_round(_round(best)))}) {params}").rstrip()


def watch_main(
    args: argparse.Namespace | Mapping[str, Any],
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``nested-sweep summary NAME --watch`` / ``nested-sweep monitor NAME``.

    Reads the study every ``interval`` seconds (any storage: SQLite, PostgreSQL) and redraws
    the view in place on a terminal (rich ``Live``); elsewhere (a pipe, a log file) it prints
    the view again only when a run started or finished. Ends with exit 0 when every planned
    run is done, or on Ctrl-C with one line on ``err``; 2 with one line for bad input.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    target = str(_arg(args, "target") or "")
    interval = _arg(args, "interval", 2.0)

    def load() -> SweepReport:
        return load_report(target, storage=_arg(args, "storage"),
                           study_name=_arg(args, "study"),
                           train_dir=_arg(args, "train_dir") or "train_dir")

    try:
        if not (isinstance(interval, (int, float)) and 0 < interval < math.inf):
            raise SweepError(f"interval {interval!r} is not a positive number of seconds",
                             key="--interval", fix="e.g. --interval 2")
        first = load()  # a wrong name or URL is an error now, not an endless wait
    except SweepError as exc:
        err.write(f"error: {exc}\n")
        return 2
    latest = [first]
    try:
        final = _follow(load, first, float(interval), out, latest)
    except KeyboardInterrupt:
        # Ctrl-C is how a user stops watching a sweep that runs on: no traceback.
        report = latest[0]
        err.write(f"stopped watching {report.name}: {_progress_text(report)}\n")
        return 0
    how = final.ended if final.ended and final.ended != "finished" else "finished"
    out.write(f"sweep {final.name} {how}: {_progress_text(final)}\n")
    return 0


def _follow(load: Callable[[], SweepReport], first: SweepReport, interval: float,
            out: TextIO, latest: list[SweepReport]) -> SweepReport:
    """Poll until the sweep is finished; ``latest[0]`` is always the newest report read."""
    from rich.console import Console

    tty = bool(getattr(out, "isatty", lambda: False)())
    console = Console(file=out, force_terminal=tty, color_system="standard" if tty else None,
                      markup=False, highlight=False, emoji=False,
                      width=None if tty else max(100, _terminal_width()))
    if tty:
        return _follow_live(load, first, interval, console, latest)
    return _follow_lines(load, first, interval, console, latest)


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def _poll(load: Callable[[], SweepReport], report: SweepReport) -> tuple[SweepReport, str | None]:
    """The next report, or the last one and why it could not be read (a server restart, a
    locked file): a watcher keeps watching through a passing problem."""
    try:
        return load(), None
    except SweepError as exc:
        return report, str(exc)


def _follow_live(load: Callable[[], SweepReport], report: SweepReport, interval: float,
                 console: Any, latest: list[SweepReport]) -> SweepReport:
    from rich.console import Group
    from rich.live import Live

    def view(problem: str | None) -> Any:
        rows = max(3, console.size.height - _VIEW_CHROME)
        return Group(*watch_view(latest[0], problem=problem, max_rounds=rows))

    with Live(view(None), console=console, auto_refresh=False, transient=False) as live:
        while not sweep_finished(report):
            time.sleep(interval)
            report, problem = _poll(load, report)
            latest[0] = report
            live.update(view(problem), refresh=True)  # every tick: the clock moves
    return report


def _print_view(console: Any, view: list[Any]) -> None:
    """The view as plain text, trailing blanks stripped (rich pads titles to the width)."""
    with console.capture() as captured:
        for part in view:
            console.print(part, soft_wrap=isinstance(part, str))
    text = "\n".join(line.rstrip() for line in captured.get().split("\n"))
    console.file.write(text + "\n")  # a blank line between successive views
    console.file.flush()


def _follow_lines(load: Callable[[], SweepReport], report: SweepReport, interval: float,
                  console: Any, latest: list[SweepReport]) -> SweepReport:
    shown: tuple[Any, ...] | None = None
    problem: str | None = None
    while True:
        key = (_signature(report), problem)
        if key != shown:  # not a tty: a new view only when something changed
            _print_view(console, watch_view(report, problem=problem))
            shown = key
        if sweep_finished(report):
            return report
        time.sleep(interval)
        report, problem = _poll(load, report)
        latest[0] = report


def print_table(storage: str, name: str) -> None:
    """The table a finished sweep prints (``hydra.sweeper.summary``)."""
    print(render_table(load_report(name, storage=storage, study_name=name)))
