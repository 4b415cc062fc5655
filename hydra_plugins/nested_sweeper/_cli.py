"""``nested-sweep``: validate, migrate and summarize sweeps (never launches runs).

    nested-sweep validate NAME_OR_PATH [--config-dir conf] [--config-name train] [overrides...]
    nested-sweep migrate PATH... [--in-place]
    nested-sweep summary NAME_OR_DIR [--format table|json|csv] [--plots]

Bad input exits 2 with one line on stderr (``FILE: KEY: PROBLEM; FIX``), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

from ._errors import SweepError, SweepWarning

# Composed-config keys that belong to the sweep itself, not to the runs.
SWEEP_KEYS = ("hydra", "sweep", "rollout_count", "num_samples")


def display_path(path: str | Path) -> str:
    """A path relative to the working directory when it lies below it (shorter errors)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def compose_config(config_dir: str, config_name: str, overrides: list[str]) -> dict[str, Any]:
    """The app's composed config as plain containers, without the sweep's own keys."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from . import config as _register  # noqa: F401  (hydra/sweeper=nested must be known)

    conf_dir = Path(config_dir).resolve()
    if not (conf_dir / f"{config_name}.yaml").is_file():
        raise SweepError(f"no config '{config_name}.yaml' in {display_path(conf_dir)}",
                         key="--config-dir", fix="run from the project root or pass --config-dir")
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        first = str(err).strip().splitlines()[0]
        raise SweepError(f"cannot compose the config: {first}", file=display_path(conf_dir),
                         fix="check the overrides given after the sweep name") from None
    plain = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(plain, dict)
    return {k: v for k, v in plain.items() if k not in SWEEP_KEYS}


def validate(args: argparse.Namespace, out: TextIO) -> int:
    from ._spec import find_sweep_file, load_spec

    path = find_sweep_file(args.sweep, [args.config_dir])
    config = compose_config(args.config_dir, args.config_name, args.overrides)
    spec = load_spec(path, config=config, file=display_path(path))
    spec.make_method()  # a grid over a continuous parameter is found here, not at launch
    print_spec(spec, out)
    return 0


def print_spec(spec: Any, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=120, highlight=False)
    rounds = f"{spec.rollout_count} rounds × {spec.num_samples} runs"
    console.print(f"{spec.file}: valid — method {spec.method}, {spec.goal} '{spec.metric}', {rounds}")
    table = Table(title="search space", title_justify="left")
    for column in ("path", "distribution", "range", "centre", "scale", "when"):
        table.add_column(column)
    for path, param in spec.parameters.items():
        row = param.distribution.describe()
        when = ", ".join(f"{k} in {list(v)}" for k, v in param.when.items())
        table.add_row(path, row["distribution"], row["range"], row["center"], row["scale"], when)
    console.print(table)
    fixed = Table(title="fixed overrides (every run)", title_justify="left")
    fixed.add_column("path")
    fixed.add_column("value")
    for path, value in spec.fixed.items():
        fixed.add_row(path, repr(value))
    console.print(fixed)
    if spec.early_terminate is not None:
        console.print(f"early termination: {vars(spec.early_terminate)}")


def migrate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._migrate import migrate_main

    return migrate_main(args.paths, in_place=args.in_place, out=out, err=err)


def summary(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._summary import summary_main

    return summary_main(args, out=out, err=err)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nested-sweep", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    val = sub.add_parser("validate", help="check a sweep file against the composed config")
    val.add_argument("sweep", help="sweep name (conf/sweep/NAME.yaml) or path to a sweep file")
    val.add_argument("overrides", nargs="*", help="Hydra overrides for the composed config")
    val.add_argument("--config-dir", default="conf")
    val.add_argument("--config-name", default="train")

    mig = sub.add_parser("migrate", help="rewrite legacy CARBS/W&B/root-level files")
    mig.add_argument("paths", nargs="+")
    mig.add_argument("--in-place", action="store_true", help="rewrite the files")

    summ = sub.add_parser("summary", help="rounds, best run and plots of a sweep")
    summ.add_argument("target", help="sweep name (train_dir/sweep/NAME), sweep dir or .db file")
    summ.add_argument("--format", choices=("table", "json", "csv"), default="table")
    summ.add_argument("--plots", action="store_true", help="write PNG plots into the sweep dir")
    summ.add_argument("--storage", default=None, help="SQLAlchemy URL (then TARGET is the study)")
    summ.add_argument("--study", default=None, help="study name inside the storage")
    summ.add_argument("--train-dir", default="train_dir")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    commands = {"validate": lambda: validate(args, out), "migrate": lambda: migrate(args, out, err),
                "summary": lambda: summary(args, out, err)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SweepWarning)
        try:
            code = commands[args.command]()
        except SweepError as error:
            print(f"error: {error}", file=err)
            code = 2
    for warning in caught:
        if issubclass(warning.category, SweepWarning):
            print(f"warning: {warning.message}", file=err)
    return code


if __name__ == "__main__":
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    sys.exit(main())
