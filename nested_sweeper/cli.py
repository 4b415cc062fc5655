"""``nested-sweep``: validate, migrate and summarize sweeps (never launches runs).

    nested-sweep validate NAME_OR_PATH [--config-dir conf] [--config-name train] [overrides...]
    nested-sweep migrate PATH... [--in-place]
    nested-sweep summary NAME_OR_DIR [--format table|json|csv] [--plots] [--watch]
    nested-sweep monitor NAME_OR_DIR        (= summary --watch: live until the sweep ends)

Bad input exits 2 with one line on stderr (``FILE: KEY: PROBLEM; FIX``), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO, cast

from nested_sweeper.errors import SweepError, SweepWarning
from nested_sweeper.spec.spec import split_sweep_keys
from nested_sweeper.text import plural

# Composed-config keys that belong to the sweep itself, not to the runs.


def display_path(path: str | Path) -> str:
    """A path relative to the working directory when it lies below it (shorter errors)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def compose_config(config_dir: str, config_name: str, overrides: list[str]) -> dict[str, Any]:
    """The app's composed config as plain containers, without the sweep's own keys."""
    return split_sweep_keys(compose_plain(config_dir, config_name, overrides))[0]


def compose_plain(
    config_dir: str, config_name: str, overrides: list[str], sweep_file: str | None = None
) -> dict[str, Any]:
    """The app's composed config as plain containers (unresolved: markers stay strings).

    ``sweep_file`` names the sweep file selected in ``overrides`` in errors (its defaults list
    may be what failed)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    conf_dir = Path(config_dir).resolve()
    check_primary_config(conf_dir, config_name)
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        problem, hint = hydra_message(err)
        problem = problem.replace(f"{SCRATCH_OPTION}/", "")  # the copy's name is ours, not theirs
        with_sweep = f" with {sweep_file}" if sweep_file else ""
        raise SweepError(f"cannot compose the config{with_sweep}: {problem}",
                         file=display_path(conf_dir),
                         fix=hint or "check the overrides given after the sweep name") from None
    plain = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(plain, dict)
    return cast("dict[str, Any]", plain)  # a composed config's keys are strings


def check_primary_config(conf_dir: Path, config_name: str) -> None:
    """Blame the option that is wrong: a config dir without any YAML is the wrong dir; a
    config dir with others but not this one is the wrong name (and the others are listed)."""
    names = sorted(p.stem for p in conf_dir.glob("*.yaml")) if conf_dir.is_dir() else []
    if f"{config_name}.yaml" in {f"{n}.yaml" for n in names}:
        return
    where = display_path(conf_dir)
    if not names:
        raise SweepError(f"no config '{config_name}.yaml' in {where} (no primary config there)",
                         key="--config-dir", fix="run from the project root or pass --config-dir")
    close = difflib.get_close_matches(config_name, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise SweepError(f"no config '{config_name}.yaml' in {where}", key="--config-name",
                     fix=f"{hint}configs there: {', '.join(names)}")


def hydra_message(err: Exception) -> tuple[str, str]:
    """Hydra's problem and its own hint ("To append to your config use +x=1", the available
    options) as one line each; the search-path listing at the end is left out."""
    sentences: list[str] = []
    for line in str(err).strip().splitlines():
        if line.startswith("Config search path"):
            break
        if not line.strip():
            continue
        if line[0].isspace() and sentences:  # an indented item of the list above it
            sep = " " if sentences[-1].endswith(":") else ", "
            sentences[-1] += sep + line.strip()
        else:
            sentences.append(line.strip())
    if not sentences:
        return type(err).__name__, ""
    sentences = [text.rstrip(".") for text in sentences]  # the SweepError adds "; "
    return sentences[0], "; ".join(sentences[1:])


# Group option under which a sweep file outside conf/sweep is composed (a scratch search path).
SCRATCH_OPTION = "_nested_sweep_validate_"


@contextlib.contextmanager
def sweep_selection(path: Path, config_dir: str, config_name: str) -> Iterator[list[str]]:
    """Overrides that compose ``path`` as ``+sweep=NAME`` does in a real sweep.

    A file in conf/sweep is selected by name; any other file is copied under a scratch config
    dir added to Hydra's search path (a unique option name, so conf/sweep never shadows it).
    """
    group = (Path(config_dir) / "sweep").resolve()
    resolved = path.resolve()
    if resolved.suffix == ".yaml" and resolved.is_relative_to(group):
        yield [f"+sweep={resolved.relative_to(group).with_suffix('').as_posix()}"]
        return
    with tempfile.TemporaryDirectory(prefix="nested-sweep-") as scratch:
        target = Path(scratch) / "sweep" / SCRATCH_OPTION / f"{path.stem}.yaml"
        target.parent.mkdir(parents=True)
        shutil.copyfile(resolved, target)
        yield [_searchpath_with(config_dir, config_name, f"file://{Path(scratch).as_posix()}"),
               f"+sweep={SCRATCH_OPTION}/{path.stem}"]


def _searchpath_with(config_dir: str, config_name: str, extra: str) -> str:
    """A ``hydra.searchpath`` override adding ``extra``: the override replaces the list, so the
    entries of the primary config (train.yaml) are kept in it."""
    from omegaconf import OmegaConf

    primary = Path(config_dir) / f"{config_name}.yaml"
    node = OmegaConf.load(primary) if primary.is_file() else OmegaConf.create()
    current = OmegaConf.select(node, "hydra.searchpath", default=None) or []
    entries = [*map(str, current), extra]
    return "hydra.searchpath=[" + ",".join(f"'{e}'" for e in entries) + "]"


def validate(args: argparse.Namespace, out: TextIO) -> int:
    from nested_sweeper.search.registry import method_for
    from nested_sweeper.spec.spec import find_sweep_file, load_spec, read_sweep_file

    path = find_sweep_file(args.sweep, [args.config_dir])
    file = display_path(path)
    read_sweep_file(path, file=file)  # its YAML and root keys first: Hydra would say it worse
    with sweep_selection(path, args.config_dir, args.config_name) as selected:
        plain = compose_plain(args.config_dir, args.config_name, [*selected, *args.overrides],
                              sweep_file=file)
    # Path checks see the config the runs see; the sweep keys are the file as Hydra composed it
    # (its defaults list applied, command-line overrides on top), as in a real sweep.
    config, own = split_sweep_keys(plain)
    spec = load_spec(path, config=config, file=file, overrides=own)
    # a grid over a continuous parameter, or a bad method_kwargs, is found here, not at launch
    method_for(spec, **spec.method_kwargs)
    from nested_sweeper.engine.check import check_space, configured_check, load_check

    check_space(spec, config, load_check(configured_check(args.config_dir, args.config_name)))
    print_spec(spec, out)
    return 0


def print_spec(spec: Any, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=120, highlight=False)
    rounds = f"{plural(spec.rollout_count, 'round')} × {plural(spec.num_samples, 'run')}"
    # soft_wrap: the verdict line names the file and stays one copyable line, however long.
    console.print(f"{spec.file}: valid — method {spec.method}, {spec.goal} '{spec.metric}', {rounds}",
                  soft_wrap=True)
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
    from nested_sweeper.migrate.migrate import migrate_main

    return migrate_main(args.paths, in_place=args.in_place, out=out, err=err)


def summary(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from nested_sweeper.summary import summary_main, watch_main

    if args.command == "monitor" or args.watch:
        if args.command == "summary" and (args.format != "table" or args.plots):
            raise SweepError("--watch shows the table only", key="--watch",
                             fix="drop --format/--plots, or run them once the sweep ends")
        return watch_main(args, out=out, err=err)
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
    summ.add_argument("--watch", action="store_true",
                      help="refresh live from the study until the sweep ends (Ctrl-C stops)")
    summ.add_argument("--interval", type=float, default=2.0, help="seconds between reads")

    mon = sub.add_parser("monitor", help="summary --watch: follow a running sweep live")
    mon.add_argument("target", help="sweep name (train_dir/sweep/NAME), sweep dir or .db file")
    mon.add_argument("--storage", default=None, help="SQLAlchemy URL (then TARGET is the study)")
    mon.add_argument("--study", default=None, help="study name inside the storage")
    mon.add_argument("--train-dir", default="train_dir")
    mon.add_argument("--interval", type=float, default=2.0, help="seconds between reads")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    commands = {"validate": lambda: validate(args, out), "migrate": lambda: migrate(args, out, err),
                "summary": lambda: summary(args, out, err),
                "monitor": lambda: summary(args, out, err)}
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
