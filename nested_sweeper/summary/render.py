"""A ``SweepReport`` as a table (rich), JSON or CSV."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nested_sweeper.records import TrialRecord

if TYPE_CHECKING:
    pass
from nested_sweeper.summary.report import (
    SweepReport,
    _config_path,
    _metrics,
    _round,
    _run_name,
    shown_round,
    sweep_file,
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
    out: dict[str, Any] = _plain(
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
    return out


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
    out: dict[str, Any] = _plain(
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
    return out


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
