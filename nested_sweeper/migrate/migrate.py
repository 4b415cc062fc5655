"""``nested-sweep migrate``: rewrite legacy sweep files into the nested sweep-file format.

Four legacy shapes are read, alone or mixed in one file:

* CARBS markers anywhere (``trainer: {learning_rate: ${ss:log, 1e-5, 1e-1}}`` or ``$<ss:...>``):
  each becomes a parameter at its dotted path (:mod:`nested_sweeper.spec.carbs` gives distribution and centre).
* CARBS parameter blocks: a root ``parameters:`` tree nested by group whose leaves hold
  ``space: linear | log | logit | pow2``, ``min``, ``max`` and optional ``is_int``/``search_center``.
* Root-level overrides (``trainer: {total_timesteps: 2048}``): moved under ``sweep.<group>``.
* W&B sweep files (``method``/``metric``/``parameters``/``early_terminate``/``run_cap`` and
  ``program``/``command``): ``metric: {name, goal}`` becomes ``metric`` + ``goal``, nested
  ``parameters`` blocks flatten to dotted paths, ``value`` parameters become fixed overrides,
  ``run_cap: N`` becomes ``rollout_count: N`` with ``num_samples: 1``, Hydra overrides in
  ``command:`` become fixed overrides and every other word of it is named as dropped.
* Metta/PufferLib Protein files: a distribution anywhere (also directly under ``sweep:``) is a
  parameter; ``scale: auto``/``time`` become numbers; the ``protein:`` block and the CARBS
  runner's keys map to ``sweep.method_kwargs`` (``n_init``, ``max_cost``,
  ``seed_with_search_center``; ``n_startup_trials`` for bayes) or are dropped with the reason.

Every key is mapped, dropped with a reason in the list of changes, or refused with a
:class:`SweepError` naming the key and the fix (the README's migration table lists them); the
result is parsed as a sweep before it is returned, so it never fails later.

Example: ``migrate_text`` turns the legacy file on the left into the one on the right and lists
one line per change (``trainer.learning_rate: ${ss:log, 1e-5, 1e-1} -> sweep.parameters...``)::

    trainer:                                  # @package _global_
      learning_rate: ${ss:log, 1e-5, 1e-1}    sweep:
      total_timesteps: 2048                     method: protein
                                                parameters:
                                                  trainer.learning_rate: {distribution: log_normal,
                                                    min: 1.0e-05, max: 0.1, mean: 0.001, scale: 0.5}
                                                trainer:
                                                  total_timesteps: 2048

The YAML is edited with ruamel.yaml's round-trip mode, so comments travel with the keys they
belong to. A file that needs nothing comes back byte for byte. Paths are not checked here:
``nested-sweep validate`` checks them against the composed config.
"""


from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from io import StringIO
from typing import TextIO

from nested_sweeper.errors import SweepError
from nested_sweeper.migrate import carbs, place, wandb
from nested_sweeper.migrate.migrator import Migrator
from nested_sweeper.migrate.yaml_edit import (
    indent_comments,
    lift_leading,
    load,
    lower_leading,
    new_map,
    round_trip_yaml,
)
from nested_sweeper.schema import ROOT_KEYS

_PACKAGE = re.compile(r"^#\s*@package\s+(\S+)\s*$")
_HEADER = "# @package _global_"


@dataclass
class Migration:
    """The migrated text, one human-readable line per change, and the legacy shape found.

    ``kind`` is ``"wandb"``, ``"carbs"`` (markers), ``"carbs-params"`` (CARBS ``space:``
    blocks), ``"root-overrides"`` (only keys moved under ``sweep``) or ``"none"``.
    """

    text: str
    changes: list[str]
    kind: str


def migrate_text(text: str, *, file: str = "<string>") -> Migration:
    """Migrate one sweep file's text; raises :class:`SweepError` for input it cannot convert."""
    header, has_package = _header_lines(text, file)
    yaml = round_trip_yaml()
    root = load(yaml, text, file)
    lift_leading(root)
    m = Migrator(file, root)
    _migrate_tree(m)
    changes = list(m.changes)
    if not changes:
        # Already nested. Without the package line Hydra composes the file under `sweep.`,
        # which the loader reads the same (the guides' files), so it needs nothing.
        return Migration(text=text, changes=[], kind="none")
    if not has_package:
        changes.insert(
            0, f"added '{_HEADER}' as the first line (Hydra merges the file at the root)"
        )
    if m.structural:
        root.ca.comment = None  # the header comments are written back textually below
        lower_leading(root)
        body = StringIO()
        yaml.dump(root, body)
        lines = [_HEADER, *header]
        new_text = "\n".join(lines) + "\n" + indent_comments(body.getvalue())
    else:
        new_text = f"{_HEADER}\n{text}"
    changes.extend(_parse_notes(new_text, file))
    return Migration(text=new_text, changes=changes, kind=m.kind())


def _migrate_tree(m: Migrator) -> None:
    """The steps of one migration, in order; each edits ``m.root`` and notes its changes.

    The order matters: W&B's root keys, the search settings and the legacy keys leave the
    root (dropped or mapped) before the root keys left over move under ``sweep`` as fixed
    overrides; every parameter is placed before the leaves are checked; the method is
    settled before its ``method_kwargs`` are written; and the disjointness check sees all.
    """
    root = m.root
    if wandb.is_wandb_file(root):
        m.found.add("wandb")
        wandb.root_keys(m)
    sweep = root.get("sweep")
    if sweep is not None and not isinstance(sweep, Mapping):
        raise SweepError("`sweep` must be a mapping", file=m.file, key="sweep")
    m.sweep = new_map() if sweep is None else sweep
    m.params = place.existing_params(m)
    place.settings_from_root(m)
    carbs.legacy_settings(m)
    carbs.runner_keys(m)
    wandb.command_overrides(m)
    for key in [k for k in root if k not in ROOT_KEYS and k != "parameters"]:
        place.move_root_key(m, key)
    place.markers_in_sweep_groups(m)
    place.root_parameters(m)
    place.place_params(m)
    place.check_params(m, m.params, "", where="sweep.parameters")
    wandb.note_no_metric(m)
    place.resolve_method(m)
    carbs.place_method_kwargs(m)
    if sweep is None and len(m.sweep):
        if "sweep" in root:
            root["sweep"] = m.sweep  # it was `sweep:` with nothing under it
        else:
            root.insert(len(root), "sweep", m.sweep)
    place.check_disjoint(m)


def _parse_notes(text: str, file: str) -> list[str]:
    """Parse the migrated file as a sweep would: its errors refuse the migration (never an
    output that fails later), its warnings become notes in the list of changes."""
    import warnings

    from omegaconf import OmegaConf

    from nested_sweeper.spec.spec import parse_spec

    raw = OmegaConf.to_container(OmegaConf.create(text), resolve=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parse_spec(raw, file=file)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return [f"note: {n.removeprefix(f'{file}: ')}" for n in notes]


def migrate_main(paths: list[str], *, in_place: bool, out: TextIO, err: TextIO) -> int:
    """Migrate files for the command line; returns the exit code (0 ok, 2 on any error).

    Without ``in_place`` the migrated YAML goes to ``out`` (so ``> new.yaml`` works) and the
    list of changes to ``err``; with it, changed files are rewritten and the changes listed
    on ``out``. Errors print as one line on ``err``, never as a traceback.
    """
    code = 0
    for path in paths:
        try:
            result = migrate_text(_read(path), file=path)
        except SweepError as error:
            print(f"error: {error}", file=err)
            code = 2
            continue
        if in_place:
            _report_in_place(path, result, out)
        else:
            _report_printed(path, result, out, err, many=len(paths) > 1)
    return code


def _read(path: str) -> str:
    """The file's text; a path that cannot be read is a SweepError naming it and the fix."""
    fix = "check the path: migrate takes sweep YAML files, e.g. conf/sweep/NAME.yaml"
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise SweepError("no such file", file=path, fix=fix) from None
    except IsADirectoryError:
        raise SweepError("is a directory, not a sweep file", file=path, fix=fix) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SweepError(f"cannot read the file: {reason}", file=path,
                         fix="check its permissions and that it is UTF-8 text") from None


def _header_lines(text: str, file: str) -> tuple[list[str], bool]:
    """The leading comment lines except the package line, and whether it was `_global_`."""
    header: list[str] = []
    has_package = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        match = _PACKAGE.match(stripped)
        if match is None:
            header.append(line.rstrip())
        elif match.group(1) != "_global_":
            raise SweepError(
                f"'# @package {match.group(1)}' cannot be migrated",
                file=file,
                fix=f"sweep files use '{_HEADER}'; move the keys to their full paths first",
            )
        else:
            has_package = True
    while header and not header[0]:
        header.pop(0)
    return header, has_package


def _report_in_place(path: str, result: Migration, out: TextIO) -> None:
    if not result.changes:
        print(f"{path}: already in the nested format", file=out)
        return
    _write_atomic(path, result.text)
    print(f"{path}: migrated ({result.kind}), {len(result.changes)} changes:", file=out)
    for change in result.changes:
        print(f"  - {change}", file=out)


def _report_printed(path: str, result: Migration, out: TextIO, err: TextIO, *, many: bool) -> None:
    if many:
        print(f"# ==> {path} <==", file=out)
    out.write(result.text if result.text.endswith("\n") else result.text + "\n")
    if not result.changes:
        print(f"{path}: already in the nested format", file=err)
        return
    print(f"{path}: {len(result.changes)} changes ({result.kind}):", file=err)
    for change in result.changes:
        print(f"  - {change}", file=err)


def _write_atomic(path: str, text: str) -> None:
    # A crash mid-write must not leave a half-migrated sweep file behind.
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".migrate-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
