"""Where things go in the migrated file: the steps of ``nested-sweep migrate`` every source shares.

Root-level settings move under ``sweep`` (:func:`settings_from_root`), other root keys
become fixed overrides under ``sweep.<group>`` (:func:`move_root_key`), parameter trees of
every nested form flatten to dotted paths under ``sweep.parameters`` (:func:`root_parameters`,
:func:`existing_params`), and the result is checked: each leaf parses
(:func:`check_params`), the method is one of ours (:func:`resolve_method`), and no path is
both swept and fixed (:func:`check_disjoint`). The source-specific pieces are asked of
:mod:`nested_sweeper.migrate.carbs` and :mod:`nested_sweeper.migrate.wandb`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from nested_sweeper.errors import SweepError
from nested_sweeper.migrate import carbs, wandb
from nested_sweeper.migrate.migrator import (
    CONFIG_GROUPS,
    METHOD_ALIASES,
    SPEC_KEYS,
    Migrator,
    setting_pos,
)
from nested_sweeper.migrate.yaml_edit import (
    block_comment,
    new_map,
    place_leading,
    plain,
    pop,
    shift_comments,
    shift_tokens,
    store_comment,
    take_leading,
)
from nested_sweeper.schema import METHODS, ROOT_KEYS, SETTINGS
from nested_sweeper.spec.carbs import parse_marker

# -- settings and root keys ------------------------------------------------------------------------


def settings_from_root(m: Migrator) -> None:
    """Search settings written at the root (``method``, ``metric`` ...) move under ``sweep``."""
    root = m.root
    moved = ["method", "metric", "goal", "early_terminate", "cost"]
    if "wandb" in m.found:
        moved[:0] = ["name", "description"]  # W&B's sweep name/description
    for key in moved:
        if key not in root:
            continue
        value, comment = pop(root, key, header=True)
        m.structural = True
        m.found.add("root-overrides")
        if key == "metric" and isinstance(value, Mapping):
            wandb.metric_mapping(m, value, "metric")
        else:
            m.insert_setting(key, value, comment)
            m.changes.append(f"{key}: moved under sweep.{key}")
    metric = m.sweep.get("metric")
    if "wandb" in m.found and isinstance(metric, Mapping):
        del m.sweep["metric"]
        m.structural = True
        wandb.metric_mapping(m, metric, "sweep.metric")
    early = m.sweep.get("early_terminate")
    if isinstance(early, MutableMapping) and "strict" in early:
        del early["strict"]
        m.structural = True
        m.changes.append("early_terminate.strict: dropped (W&B's strict hyperband; "
                         "Optuna's HyperbandPruner, which runs it here, has no strict mode)")


def move_root_key(m: Migrator, key: str) -> None:
    """A root key that is no setting: a parameter if it is one, else overrides under ``sweep``."""
    value, comment = pop(m.root, key, header=True)
    m.structural = True
    m.found.add("root-overrides")
    value = carbs.pinned(m, value, key)
    marker = parse_marker(value, key=key, file=m.file) if isinstance(value, str) else None
    if marker is not None:
        carbs.add_marker(m, key, marker, f"{key}: {value.strip()}", comment)
        return
    if isinstance(value, Mapping) and carbs.is_carbs_block(value):
        marker = carbs.block_marker(m, value, key)
        carbs.add_marker(m, key, marker, key, block_comment(value, comment), block=True)
        return
    if isinstance(value, Mapping) and _is_param_leaf(value):
        carbs.loose_param(m, str(key), value, str(key), comment)
        return
    if key == "seed":
        # The run's seed, not the search's: `sweep.seed` would seed the method instead.
        _add_constant_param(m, key, value, "seed: kept as the parameter seed: {value: ...}")
        return
    if isinstance(value, Mapping):
        first = len(m.params)
        _extract(m, value, key, where=key)
        if not len(value):
            _carry_lead(m, comment, first)
            return  # it held only markers, now parameters
    elif isinstance(value, list):
        carbs.refuse_list_markers(m, value, key)
    shift_comments(value, 2)  # one level deeper now, under `sweep:`
    m.merge(m.sweep, key, value, comment, where=f"sweep.{key}")
    note = f"{key}: root-level overrides moved under sweep.{key}"
    if key not in CONFIG_GROUPS:
        note += " (not a config group; validate checks the path)"
    m.changes.append(note)


def markers_in_sweep_groups(m: Migrator) -> None:
    """Markers and distributions already under ``sweep.<group>`` become parameters."""
    for key in [k for k in m.sweep if k not in SETTINGS]:
        value, here = m.sweep[key], f"sweep.{key}"
        if isinstance(value, Mapping) and _is_param_leaf(value):
            _, comment = pop(m.sweep, key)
            carbs.loose_param(m, str(key), value, here, comment)
        elif isinstance(value, Mapping):
            first = len(m.params)
            _extract(m, value, key, where=here)
            if not len(value):
                _carry_lead(m, pop(m.sweep, key)[1], first)
        elif isinstance(value, list):
            carbs.refuse_list_markers(m, value, here)
        elif (pinned := carbs.pinned(m, value, here)) is not value:
            m.sweep[key] = pinned
        elif isinstance(value, str) and (
            marker := parse_marker(value, key=here, file=m.file)
        ):
            _, comment = pop(m.sweep, key)
            carbs.add_marker(m, key, marker, f"{here}: {value.strip()}", comment)


# -- override trees --------------------------------------------------------------------------------


def _extract(m: Migrator, node: Any, prefix: str, *, where: str) -> None:
    """Turn markers and CARBS blocks inside an override tree into parameters (in place)."""
    for key in list(node):
        value = node[key]
        path, here = f"{prefix}.{key}", f"{where}.{key}"
        if isinstance(value, str) and (pinned := carbs.pinned(m, value, here)) is not value:
            node[key] = pinned
        elif isinstance(value, str):
            marker = parse_marker(value, key=here, file=m.file)
            if marker is not None:
                _, comment = pop(node, key)
                carbs.add_marker(m, path, marker, f"{here}: {value.strip()}", comment)
        elif isinstance(value, Mapping) and carbs.is_carbs_block(value):
            _, comment = pop(node, key)
            carbs.add_marker(
                m,
                path,
                carbs.block_marker(m, value, here),
                here,
                block_comment(value, comment),
                block=True,
            )
        elif isinstance(value, Mapping) and _is_param_leaf(value):
            _, comment = pop(node, key)
            carbs.loose_param(m, path, value, here, comment)
        elif isinstance(value, Mapping):
            first = len(m.params)
            _extract(m, value, path, where=here)
            if not len(value):
                _carry_lead(m, pop(node, key)[1], first)
        elif isinstance(value, list):
            carbs.refuse_list_markers(m, value, here)


def _carry_lead(m: Migrator, comment: Any, first: int) -> None:
    """The lines above a group that emptied (all its keys became parameters) go above the
    first of those parameters."""
    lead = comment[1] if comment and len(comment) > 1 else None
    if isinstance(lead, str) and lead.strip() and len(m.params) > first:
        place_leading(m.params, list(m.params)[first], lead)


# -- parameters ------------------------------------------------------------------------------------


def existing_params(m: Migrator) -> Any:
    """``sweep.parameters``, its legacy leaves converted in place (both nested forms stay)."""
    params = m.sweep.get("parameters")
    if params is None:
        return new_map()
    if not isinstance(params, Mapping):
        raise SweepError(
            "parameters must be a mapping of paths to distributions",
            file=m.file,
            key="sweep.parameters",
        )
    _convert_in_place(m, params, "", where="sweep.parameters")
    return params


def _convert_in_place(m: Migrator, node: Any, prefix: str, *, where: str) -> None:
    """Replace markers and CARBS blocks by parameters at the same place in ``node``."""
    for key in list(node):
        value, here = node[key], f"{where}.{key}"
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, str) and (pinned := carbs.pinned(m, value, here)) is not value:
            node[key] = new_map({"value": pinned}, flow=True)
        elif isinstance(value, str):
            marker = parse_marker(value, key=here, file=m.file)
            if marker is not None:
                node[key] = carbs.marker_param(m, path, marker, f"{here}: {value.strip()}")
        elif isinstance(value, Mapping) and wandb.is_nested_block(value):
            _convert_in_place(m, value["parameters"], path, where=f"{here}.parameters")
        elif isinstance(value, Mapping) and carbs.is_carbs_block(value):
            marker = carbs.block_marker(m, value, here)
            comment = block_comment(value, node.ca.items.get(key))
            node[key] = carbs.marker_param(m, path, marker, here, block=True)
            if comment:
                node.ca.items[key] = comment
        elif isinstance(value, Mapping) and not _is_spec(value):
            _convert_in_place(m, value, path, where=here)


def root_parameters(m: Migrator) -> None:
    """A root ``parameters:`` tree (CARBS's or W&B's) flattened into ``sweep.parameters``."""
    if "parameters" not in m.root:
        return
    params, comment = pop(m.root, "parameters", header=True)
    m.params_comment = comment
    m.structural = True
    m.found.add("root-overrides")
    if not isinstance(params, Mapping):
        raise SweepError(
            "parameters must be a mapping of paths to distributions",
            file=m.file,
            key="parameters",
        )
    _flatten(m, params, "", m.params, where="parameters", depth=2)
    m.changes.append("parameters: moved under sweep.parameters")


def _flatten(
    m: Migrator, node: Mapping[str, Any], prefix: str, dst: Any, *, where: str, depth: int
) -> None:
    """Copy a parameters tree into ``dst`` with dotted keys, converting legacy leaves.

    ``depth`` is the nesting level of ``node``'s keys in the file (comments re-indent by it).
    """
    first = len(dst)
    lead = take_leading(node, list(node), 0) if len(node) else ""
    _flatten_items(m, node, prefix, dst, where=where, depth=depth)
    if lead and len(dst) > first:
        place_leading(dst, list(dst)[first], lead)


def _flatten_items(
    m: Migrator, node: Mapping[str, Any], prefix: str, dst: Any, *, where: str, depth: int
) -> None:
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        comment = node.ca.items.get(key) if hasattr(node, "ca") else None
        here = f"{where}.{key}"
        if isinstance(value, Mapping):
            _flatten_mapping(m, value, path, dst, here, comment, depth=depth)
        elif (pinned := carbs.pinned(m, value, here)) is not value:
            _add_constant(m, path, pinned, f"{here}: constant {pinned!r}", comment)
        elif isinstance(value, str) and (
            marker := parse_marker(value, key=here, file=m.file)
        ):
            carbs.add_marker(m, path, marker, f"{here}: {value.strip()}", comment, dst)
        elif isinstance(value, list):
            raise SweepError(
                "a parameter needs a distribution, not a bare list",
                file=m.file,
                key=here,
                fix=f"write {{values: {plain(value)}}} to sweep over these values",
            )
        else:
            _add_constant(m, path, value, f"{here}: constant {plain(value)!r}", comment)


def _flatten_mapping(
    m: Migrator, value: Any, path: str, dst: Any, here: str, comment: Any, *, depth: int
) -> None:
    if wandb.is_nested_block(value):
        m.found.add("wandb")
        _note_flatten(m, here, path)
        _flatten(
            m, value["parameters"], path, dst, where=f"{here}.parameters", depth=depth + 2
        )
    elif carbs.is_carbs_block(value):
        marker = carbs.block_marker(m, value, here)
        carbs.add_marker(m, path, marker, here, block_comment(value, comment), dst, block=True)
    elif _is_constant(value):
        inner = value.ca.items.get("value") if hasattr(value, "ca") else None
        _add_constant(m, path, value["value"], f"{here}: constant", inner or comment, dst)
    elif _is_spec(value) or not len(value):
        if depth != 3:
            m.structural = True
        # Now at sweep.parameters.PATH: two spaces per level it moved (2-space indents).
        by = 2 * (3 - depth)
        shift_comments(value, by)
        m.put_param(dst, path, value, shift_tokens(comment, by), where=here)
    else:
        _note_flatten(m, here, path)
        _flatten(m, value, path, dst, where=here, depth=depth + 1)


def _note_flatten(m: Migrator, where: str, path: str) -> None:
    m.structural = True
    note = f"{where}: nested parameters flattened to dotted paths ({path}.*)"
    if note not in m.changes:
        m.changes.append(note)


def _add_constant(
    m: Migrator, path: str, value: Any, note: str, comment: Any, dst: Any = None
) -> None:
    """A constant from a parameters tree: a fixed override under ``sweep.<group>``."""
    parts = path.split(".")
    if parts[0] in SETTINGS or parts[0] in ROOT_KEYS:
        # `sweep.seed` etc. are settings of the search, so the run's value stays a parameter.
        _add_constant_param(m, path, value, f"{note} -> kept as {{value: ...}}", dst)
        return
    m.structural = True
    node = m.sweep
    for i in range(len(parts) - 1):
        node = m.child_map(node, parts[i], where="sweep." + ".".join(parts[: i + 1]))
    m.merge(node, parts[-1], value, comment, where=f"sweep.{path}")
    m.changes.append(f"{note} -> fixed override sweep.{path}")


def _add_constant_param(m: Migrator, path: str, value: Any, note: str, dst: Any = None) -> None:
    m.structural = True
    param = new_map({"value": value}, flow=True)
    m.put_param(m.params if dst is None else dst, path, param, None, where=path)
    m.changes.append(note)


def place_params(m: Migrator) -> None:
    """Put the new ``sweep.parameters`` among the settings, with the root key's comment."""
    if not len(m.params) or "parameters" in m.sweep:
        return  # none, or the existing node (edited in place)
    m.sweep.insert(setting_pos(m.sweep, "parameters"), "parameters", m.params)
    store_comment(m.sweep, "parameters", m.params_comment)


# -- checks ----------------------------------------------------------------------------------------


def check_params(m: Migrator, node: Any, prefix: str, *, where: str) -> None:
    """Walk every parameter (both nested forms) and make its leaf parse as written."""
    for key in list(node):
        value, here = node[key], f"{where}.{key}"
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and wandb.is_nested_block(value):
            check_params(m, value["parameters"], path, where=f"{here}.parameters")
        elif isinstance(value, Mapping) and _is_spec(value):
            carbs.check_leaf(m, value, here)
        elif isinstance(value, Mapping) and len(value):
            check_params(m, value, path, where=here)


def resolve_method(m: Migrator) -> None:
    """A method we have, written out when the file's parameters imply one."""
    method = m.sweep.get("method")
    if method is None:
        # Without a method a file gets protein (the spec's default, as in Metta); CARBS
        # files say so explicitly, as CARBS's successor that uses their centres.
        if m.found & {"carbs", "carbs-params"}:
            m.insert_setting("method", "protein")
            m.changes.append("sweep.method: protein (CARBS's successor; it uses the centres)")
        return
    name = str(method)
    if name.lower() != name and name.lower() in (*METHODS, *METHOD_ALIASES):
        m.sweep["method"] = name = METHOD_ALIASES.get(name.lower(), name.lower())
        m.structural = True
        m.changes.append(f"sweep.method: {method} -> {name} (our names are lower case)")
    if name in METHOD_ALIASES:
        m.sweep["method"] = METHOD_ALIASES[name]
        m.structural = True
        m.changes.append(f"sweep.method: {name} -> {METHOD_ALIASES[name]} (its successor)")
    elif name not in METHODS:
        raise SweepError(
            f"method {name!r} is not one of ours",
            file=m.file,
            key="sweep.method",
            fix=f"use one of {', '.join(METHODS)} (bayes or protein for a model-based search)",
        )
    elif name != "protein" and "protein" in m.found and m.changes:
        # a note for legacy files only: a nested file saying bayes means it
        m.changes.append(
            f"sweep.method: {name} kept as the file says; its parameters' mean/scale shape "
            "only method: protein's search (Metta ran Protein for such files): set "
            "method: protein to use them"
        )


def check_disjoint(m: Migrator) -> None:
    """A path cannot be both swept and fixed: the fixed override would hide the search."""
    fixed: set[str] = set()
    for key in m.sweep:
        if key not in SETTINGS:
            fixed.update(_paths(m.sweep[key], str(key)))
    for path in _param_paths(m.params, ""):
        for other in sorted(fixed):
            if other == path or other.startswith(f"{path}.") or path.startswith(f"{other}."):
                raise SweepError(
                    f"{path} is both a parameter and a fixed override (sweep.{other})",
                    file=m.file,
                    key=f"sweep.parameters.{path}",
                    fix="remove one of them",
                )


# -- predicates ------------------------------------------------------------------------------------


def _is_spec(value: Mapping[str, Any]) -> bool:
    # `when: {path: value}` (a condition) is the one mapping a parameter may hold.
    nested = any(isinstance(v, Mapping) for k, v in value.items() if k != "when")
    return bool(set(value) & SPEC_KEYS) and not nested


def _is_param_leaf(value: Mapping[str, Any]) -> bool:
    """A distribution wherever it sits: ``distribution``, ``min`` + ``max`` or ``values``.

    ``values`` counts only as a list or a bare string (refused later with the fix), and
    nothing nested but a ``when`` condition: a config group never looks like this.
    """
    if any(isinstance(v, Mapping) for k, v in value.items() if k != "when"):
        return False
    if "distribution" in value:
        return True
    # min/max or values alone: only with nothing but parameter keys beside them, so a config
    # group such as {min: 0, max: 10, width: 5} stays a fixed override
    if not set(value) <= SPEC_KEYS:
        return False
    return ("min" in value and "max" in value) or isinstance(value.get("values"), (list, str))


def _is_constant(value: Mapping[str, Any]) -> bool:
    if "value" not in value:
        return False
    return (
        set(value) <= {"value", "distribution"}
        and value.get("distribution", "constant") == "constant"
    )


def _param_paths(node: Mapping[str, Any], prefix: str) -> list[str]:
    """Dotted paths of a parameters mapping, through both nested forms."""
    paths = []
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and wandb.is_nested_block(value):
            paths.extend(_param_paths(value["parameters"], path))
        elif isinstance(value, Mapping) and len(value) and not _is_spec(value):
            paths.extend(_param_paths(value, path))
        else:
            paths.append(path)
    return paths


def _paths(node: Any, prefix: str) -> list[str]:
    if isinstance(node, Mapping) and len(node):
        return [p for k, v in node.items() for p in _paths(v, f"{prefix}.{k}")]
    return [prefix]
