"""``nested-sweep monitor`` (``summary --watch``): the live table while workers write."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialRecord, TrialState

if TYPE_CHECKING:
    pass
from nested_sweeper.summary.load import (
    _arg,
    load_report,
)
from nested_sweeper.summary.render import (
    _fmt,
    _params_text,
    _progress_text,
    _short_names,
)
from nested_sweeper.summary.report import (
    SweepReport,
    _round,
    _run_name,
    shown_round,
)

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
