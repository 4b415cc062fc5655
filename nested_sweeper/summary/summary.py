"""``nested-sweep summary`` and the table a sweep prints when it ends."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from nested_sweeper.errors import SweepError
from nested_sweeper.schema import FORMATS

if TYPE_CHECKING:
    pass
from nested_sweeper.summary.load import (
    _arg,
    load_report,
)
from nested_sweeper.summary.plots import (
    write_plots,
)
from nested_sweeper.summary.render import (
    render_table,
    to_csv,
    to_json,
)

# --------------------------------------------------------------------------- command




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



def print_table(storage: str, name: str) -> None:
    """The table a finished sweep prints (``hydra.sweeper.summary``)."""
    print(render_table(load_report(name, storage=storage, study_name=name)))
