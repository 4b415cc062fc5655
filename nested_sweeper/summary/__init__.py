"""What a sweep was and what it found, read back from its study.

``load`` finds the study and builds a ``SweepReport`` (``report``); ``render`` prints it as a
table, JSON or CSV; ``plots`` draws the PNGs; ``watch`` is the live view (``nested-sweep
monitor``); ``summary`` holds the ``nested-sweep summary`` command and the end-of-sweep table.
Optuna, rich and matplotlib are imported inside functions: importing this package stays cheap.

    report = load_report("demo")                 # train_dir/sweep/demo/sweep.db
    print(render_table(report))                  # sweep, space, fixed, rounds, best run
    json.dumps(to_json(report))                  # the same as data (NaN -> null)
    write_plots(report)                          # history/params/importance/parallel PNGs
"""

from nested_sweeper.summary.load import list_sweeps, load_report, report_from_study
from nested_sweeper.summary.plots import PLOT_FILES, param_importances, write_plots
from nested_sweeper.summary.render import render_table, to_csv, to_json
from nested_sweeper.summary.report import SweepReport
from nested_sweeper.summary.summary import print_table, summary_main
from nested_sweeper.summary.watch import sweep_finished, watch_main, watch_view

__all__ = [
    "PLOT_FILES",
    "SweepReport",
    "list_sweeps",
    "load_report",
    "param_importances",
    "print_table",
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
