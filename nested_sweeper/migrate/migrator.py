"""The state of one file's migration, and the edits every source's steps share.

A :class:`Migrator` holds the ruamel document being edited, the list of changes and what
legacy shapes were found; the steps that read each source are plain functions taking it, in
:mod:`~nested_sweeper.migrate.wandb` (W&B sweep files), :mod:`~nested_sweeper.migrate.carbs`
(CARBS markers and blocks, Metta and PufferLib Protein files) and
:mod:`~nested_sweeper.migrate.place` (moving keys under ``sweep``, flattening parameters, the
checks). :func:`nested_sweeper.migrate.migrate.migrate_text` runs them in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nested_sweeper.errors import SweepError
from nested_sweeper.migrate.yaml_edit import new_map, place_leading, plain, store_comment
from nested_sweeper.schema import PARAM_KEYS, SETTINGS

# Config groups of conf/train.yaml: a root key outside these is moved too, with a note.
CONFIG_GROUPS = ("trainer", "env", "hardware", "wandb", "user")
# Keys that make a mapping a parameter specification rather than a nested config group: a
# distribution's keys, and those of a CARBS `space:` block.
SPEC_KEYS = PARAM_KEYS | {"space", "is_int", "is_integer", "is_pow2", "rounding_factor", "search_center"}
# Methods of other tools that have a faithful equivalent here.
METHOD_ALIASES = {"carbs": "protein"}


@dataclass
class Migrator:
    """One file's migration: the steps edit ``root`` (a ruamel CommentedMap) in place."""

    file: str
    root: Any
    changes: list[str] = field(default_factory=list)
    structural: bool = False  # the YAML tree changed (else only the header line is added)
    found: set[str] = field(default_factory=set)
    # (legacy key, value, where) of search settings that become method_kwargs (or notes)
    legacy_kwargs: list[tuple[str, Any, str]] = field(default_factory=list)
    params_comment: Any = None  # the comment of a root `parameters:` key, for sweep.parameters
    command: Any = None  # a W&B `command:` list, read once `sweep` exists
    sweep: Any = None  # the `sweep:` mapping being filled (attached to root at the end)
    params: Any = None  # the mapping that becomes sweep.parameters

    def kind(self) -> str:
        """The legacy shape for :attr:`Migration.kind`: the first found, W&B first."""
        for kind in ("wandb", "carbs", "carbs-params", "root-overrides"):
            if kind in self.found:
                return kind
        return "none"

    def drop(self, key: str, note: str) -> None:
        """Delete root key ``key``, noting ``note`` (none if empty)."""
        del self.root[key]
        self.structural = True
        if note:
            self.changes.append(note)

    def insert_setting(self, key: str, value: Any, comment: Any = None) -> None:
        """Write search setting ``key`` under ``sweep`` in SETTINGS order; a different value
        already there is refused."""
        sweep = self.sweep
        if key in sweep:
            if plain(sweep[key]) != plain(value):
                raise SweepError(
                    f"{key} is given both at the root ({plain(value)!r}) and under sweep "
                    f"({plain(sweep[key])!r})",
                    file=self.file,
                    key=key,
                    fix=f"keep only sweep.{key}",
                )
            return
        sweep.insert(setting_pos(sweep, key), key, value)
        store_comment(sweep, key, comment)

    def put_param(self, dst: Any, path: str, value: Any, comment: Any, *, where: str) -> None:
        """Add parameter ``path`` to ``dst``; the same one twice is fine, a different one not."""
        if path in dst:
            if plain(dst[path]) == plain(value):
                return
            raise SweepError(
                f"parameter {path} is defined twice with different distributions",
                file=self.file,
                key=where,
                fix="keep one of them",
            )
        dst[path] = value
        store_comment(dst, path, comment)

    def child_map(self, node: Any, key: str, *, where: str) -> Any:
        """``node[key]`` as a mapping of fixed overrides, created if missing."""
        if key not in node:
            node.insert(len(node), key, new_map())
        if not isinstance(node[key], Mapping):
            raise SweepError(
                "is both a fixed value and a group of fixed values", file=self.file, key=where
            )
        return node[key]

    def merge(self, dst: Any, key: str, value: Any, comment: Any, *, where: str) -> None:
        """Merge fixed override ``value`` into ``dst[key]``: mappings key by key, and a
        different value for the same path refused."""
        if key not in dst:
            dst.insert(len(dst), key, value)
            store_comment(dst, key, comment)
            return
        old = dst[key]
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            subs = list(value)
            for sub in subs:
                sub_comment = value.ca.items.get(sub) if hasattr(value, "ca") else None
                self.merge(old, sub, value[sub], sub_comment, where=f"{where}.{sub}")
            lead = comment[1] if comment and len(comment) > 1 else None
            if isinstance(lead, str) and lead.strip() and subs and subs[0] in old:
                place_leading(old, subs[0], lead)  # the lines above the merged group
            return
        if plain(old) != plain(value):
            raise SweepError(
                f"set twice, to {plain(old)!r} and to {plain(value)!r}",
                file=self.file,
                key=where,
                fix="keep one value",
            )


def setting_pos(sweep: Any, key: str) -> int:
    """Where ``key`` goes among the settings at the top of ``sweep`` (in SETTINGS order)."""
    order = SETTINGS.index(key)
    return sum(1 for k in sweep if k in SETTINGS and SETTINGS.index(k) < order)
