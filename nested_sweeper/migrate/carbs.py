"""CARBS, Metta and PufferLib Protein files: the steps of ``nested-sweep migrate`` for them.

* CARBS markers (``${ss:log, 1e-5, 1e-1}``, read by :mod:`nested_sweeper.spec.carbs`) and
  CARBS ``space:`` blocks become parameters with their centre (:func:`add_marker`,
  :func:`block_marker`); a one-point marker is a fixed value (:func:`pinned`).
* Metta's ``protein:`` block, its CARBS runner's keys and PufferLib's legacy settings map to
  ``sweep.method_kwargs`` or are dropped with the reason (:func:`legacy_settings`,
  :func:`runner_keys`, :func:`place_method_kwargs`).
* A distribution outside ``parameters:`` (Metta 2025) is a parameter at its path
  (:func:`loose_param`).
* Each parameter leaf is checked so the result parses: Protein's ``scale: auto``/``time``
  become numbers, logit bounds move inside (0, 1), pow2 bounds that look like exponents are
  refused (:func:`check_leaf`).

Where these parameters go (and the fixed overrides around them) is decided in
:mod:`nested_sweeper.migrate.place`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from nested_sweeper.errors import SweepError
from nested_sweeper.migrate.migrator import Migrator, setting_pos
from nested_sweeper.migrate.yaml_edit import (
    new_list,
    new_map,
    plain,
    pop,
    shift_comments,
    shift_tokens,
)
from nested_sweeper.schema import LOGIT_EPS
from nested_sweeper.spec.carbs import (
    ChoiceMarker,
    Marker,
    fixed_marker_value,
    marker_from_args,
    parse_marker,
)

CARBS_BLOCK_KEYS = frozenset(
    {"space", "min", "max", "is_int", "is_integer", "is_pow2", "rounding_factor",
     "search_center", "scale"}
)
# Metta's / PufferLib's `protein:` settings with an equivalent constructor setting of ours.
PROTEIN_KWARGS = {
    "num_random_samples": "n_init",
    "seed_with_search_center": "seed_with_search_center",
    "max_suggestion_cost": "max_cost",
}
# ... and those without one: dropped, with the reason in the list of changes.
PROTEIN_DROPPED = {
    "expansion_rate": "PufferLib's cost-target sampling; our protein trades score against "
    "cost by EI per unit of cost (method_kwargs.cost_weight)",
    "global_search_scale": "candidate widths come from each parameter's own scale",
    "random_suggestions": "our protein scores n_candidates Sobol and local candidates and "
    "polishes the best by gradient (method_kwargs.n_candidates)",
    "suggestions_per_pareto": "local candidates are drawn around the best runs and the "
    "score/cost front in every suggestion",
    "resample_frequency": "re-running a Pareto point has no equivalent; num_samples > 1 "
    "runs several points per round",
    "phase": "a label for Metta's logs, not a search setting",
    "acquisition_fn": "our protein always uses log expected improvement",
    "ucb_beta": "our protein always uses log expected improvement",
    "beta_ucb": "our protein always uses log expected improvement",
    "xi_ei": "our log expected improvement has no exploration offset; the scales set how "
    "far candidates reach",
    "randomize_acquisition": "batches are spread by the kriging believer instead",
    "min_score": "scores are warped and standardized (method_kwargs.output_warp), no bounds needed",
    "max_score": "scores are warped and standardized (method_kwargs.output_warp), no bounds needed",
}
# Legacy settings of Metta's CARBS/Protein sweep runner and PufferLib's [sweep] section, at
# the root or under `sweep:` ("" = mapped, see legacy_settings).
LEGACY_SETTINGS = {
    "protein": "",
    **{key: "" for key in PROTEIN_KWARGS},
    "resume": "resuming is automatic: rerunning the same sweep continues its stored study",
    "max_observations_to_load": "the study keeps every observation; nothing is loaded from W&B",
    "downsample": "PufferLib's sampling of the score curve; the sweeper reads each run's "
    "returned metric",
    "use_gpu": "our protein's GP is small and runs on the CPU",
    "prune_pareto": "our protein keeps every trial in its model",
}
# Metta's CARBS-era sweep runner read these beside `parameters:` (the file was its config,
# not the run's): how its evaluation step scored a run. Dropped in such files.
METTA_RUNNER = {
    "eval": "Metta's sweep-evaluation settings; here each run returns its own metric",
    "evaluator": "Metta's sweep-evaluation settings; here each run returns its own metric",
    "generation": "Metta's sweep-runner setting for regenerating runs; no equivalent",
    "test": "Metta's scoring of sweep evaluations (raw, elo, glicko); the metric is used as is",
}
CARBS_SPACES = ("linear", "log", "logit", "pow2", "int")


# -- legacy search settings (Metta's protein:/CARBS runner keys, PufferLib) ------------------------


def legacy_settings(m: Migrator) -> None:
    """``protein:``, ``num_random_samples``, ``resume`` ... at the root or under ``sweep``."""
    for place, prefix in ((m.root, ""), (m.sweep, "sweep.")):
        for key in [k for k in place if k in LEGACY_SETTINGS]:
            value, _ = pop(place, key, header=place is m.root)
            m.structural = True
            where = f"{prefix}{key}"
            if key == "protein":
                _protein_block(m, value, where)
            elif key in PROTEIN_KWARGS:
                m.legacy_kwargs.append((str(key), value, where))
            else:
                m.changes.append(
                    f"{where}: {plain(value)} dropped ({LEGACY_SETTINGS[key]})"
                )


def runner_keys(m: Migrator) -> None:
    """In a CARBS-block file, Metta's runner keys describe the runner, not the runs."""
    params = m.root.get("parameters")
    if not (isinstance(params, Mapping) and _has_carbs_block(params)):
        return
    for key in [k for k in m.root if k in METTA_RUNNER]:
        m.drop(key, f"{key}: dropped ({METTA_RUNNER[key]})")


def _protein_block(m: Migrator, block: Any, where: str) -> None:
    """Metta's ``protein:`` settings: each collected for method_kwargs or dropped."""
    if not isinstance(block, Mapping):
        raise SweepError(
            f"must be a mapping of Protein settings, got {plain(block)!r}",
            file=m.file,
            key=where,
            fix="e.g. protein: {num_random_samples: 10}",
        )
    for key, value in block.items():
        here = f"{where}.{key}"
        if key in PROTEIN_KWARGS:
            m.legacy_kwargs.append((str(key), value, here))
        elif key in PROTEIN_DROPPED:
            m.changes.append(
                f"{here}: {plain(value)} dropped (no equivalent: {PROTEIN_DROPPED[key]})"
            )
        else:
            known = sorted([*PROTEIN_KWARGS, *PROTEIN_DROPPED])
            raise SweepError(
                f"unknown Protein setting {key!r}",
                file=m.file,
                key=here,
                fix=f"remove it (known: {', '.join(known)})",
            )


def place_method_kwargs(m: Migrator) -> None:
    """The legacy settings collected so far as ``sweep.method_kwargs`` of the file's method."""
    method = str(m.sweep.get("method", "protein"))
    kwargs: dict[str, Any] = {}
    for key, value, where in m.legacy_kwargs:
        mapped = _method_kwarg(m, method, key, value, where)
        if mapped is not None:
            kwargs[mapped[0]] = mapped[1]
    if not kwargs:
        return
    node = m.sweep.get("method_kwargs")
    if node is None:
        node = new_map(flow=True)
        m.sweep.insert(setting_pos(m.sweep, "method_kwargs"), "method_kwargs", node)
    elif not isinstance(node, Mapping):
        raise SweepError("must be a mapping", file=m.file, key="sweep.method_kwargs",
                         fix="e.g. method_kwargs: {n_init: 5}")
    for key, value in kwargs.items():
        m.merge(node, key, value, None, where=f"sweep.method_kwargs.{key}")
    m.structural = True


def _method_kwarg(
    m: Migrator, method: str, key: str, value: Any, where: str
) -> tuple[str, Any] | None:
    """(our setting, value) for one legacy setting, or None (dropped with a note)."""
    if key == "num_random_samples" and method in ("protein", "bayes"):
        target = "n_init" if method == "protein" else "n_startup_trials"
        count = _count_setting(m, value, where)
        if method == "protein" and count < 1:
            # our protein's first trial is always part of the warm-up (the centre)
            m.changes.append(f"{where}: {count} -> sweep.method_kwargs.n_init: 1 (min)")
            return target, 1
        m.changes.append(f"{where}: {count} -> sweep.method_kwargs.{target}: {count}")
        return target, count
    if method != "protein":
        reason = "no model to warm up" if key == "num_random_samples" else \
            "it applies to method protein only"
        m.changes.append(
            f"{where}: {plain(value)} dropped (the file's method is {method}: {reason})"
        )
        return None
    target = PROTEIN_KWARGS[key]
    checked = _protein_value(m, target, value, where)
    if checked is None:
        m.changes.append(f"{where}: null dropped (no cap)")
        return None
    m.changes.append(f"{where}: {plain(value)} -> sweep.method_kwargs.{target}: {checked}")
    return target, checked


def _count_setting(m: Migrator, value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SweepError(f"must be a whole number >= 0, got {plain(value)!r}",
                         file=m.file, key=where, fix="e.g. num_random_samples: 10")
    return int(value)


def _protein_value(m: Migrator, target: str, value: Any, where: str) -> Any:
    if target == "seed_with_search_center":
        if not isinstance(value, bool):
            raise SweepError(f"must be true or false, got {plain(value)!r}",
                             file=m.file, key=where, fix="write true or false")
        return value
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise SweepError(f"must be a positive number, got {plain(value)!r}",
                         file=m.file, key=where, fix="e.g. max_suggestion_cost: 3600")
    return value


# -- markers and CARBS blocks ----------------------------------------------------------------------


def add_marker(
    m: Migrator,
    path: str,
    marker: Marker,
    source: str,
    comment: Any,
    dst: Any = None,
    *,
    block: bool = False,
) -> None:
    """Add the parameter for ``marker`` at ``path`` (to ``dst``, else ``sweep.parameters``)."""
    param = marker_param(m, path, marker, source, block=block)
    m.put_param(m.params if dst is None else dst, path, param, comment, where=source)


def marker_param(
    m: Migrator, path: str, marker: Marker, source: str, *, block: bool = False
) -> Any:
    """The flow-style parameter for ``marker``, with its line in the list of changes."""
    param = new_map(marker.to_param(), flow=True)
    m.found.add("carbs-params" if block else "carbs")
    m.structural = True
    what = f"{source}: CARBS block" if block else source
    if isinstance(marker, ChoiceMarker):
        param["values"] = new_list(param["values"])
        m.changes.append(f"{what} -> sweep.parameters.{path}: values {list(marker.values)}")
        return param
    note = (
        f"{what} -> sweep.parameters.{path}: {param['distribution']} "
        f"[{param['min']}, {param['max']}], mean {param['mean']}, scale {param['scale']}"
    )
    if marker.clamped:
        note += f" (logit bounds [{marker.min}, {marker.max}] moved inside (0, 1))"
    m.changes.append(note)
    return param


def block_marker(m: Migrator, block: Mapping[str, Any], where: str) -> Marker:
    """The marker equivalent to a CARBS ``space:`` block; keys with no equivalent are refused."""
    unknown = sorted(str(k) for k in set(block) - CARBS_BLOCK_KEYS)
    if unknown:
        raise SweepError(
            f"unknown keys {unknown} in a CARBS parameter block",
            file=m.file,
            key=where,
            fix=f"a CARBS block holds {', '.join(sorted(CARBS_BLOCK_KEYS))}",
        )
    if "is_integer" in block:  # CARBS's own spelling (LinearSpace(is_integer=True))
        block = {**block, "is_int": block["is_integer"]}
    rounding = block.get("rounding_factor", 1)
    if rounding != 1:
        raise SweepError(
            f"rounding_factor {plain(rounding)} (multiples of it) has no centred "
            "nested-sweeper equivalent",
            file=m.file,
            key=f"{where}.rounding_factor",
            fix=f"write {{distribution: q_uniform, min: MIN, max: MAX, q: {plain(rounding)}}}"
            " (no centre), or drop rounding_factor",
        )
    space = _block_space(m, block, where)
    args = [space, block["min"], block["max"]]
    if block.get("search_center") is not None:
        args.append(block["search_center"])
    marker = marker_from_args(*args, key=where, file=m.file)
    if block.get("scale") is not None:
        try:
            marker = replace(marker, scale=block["scale"])
        except SweepError as error:
            raise error.located(file=m.file, key_prefix=f"{where}.scale") from None
    return marker


def _block_space(m: Migrator, block: Mapping[str, Any], where: str) -> str:
    """The marker kind of a CARBS block: its ``space`` with ``is_pow2``/``is_int`` applied."""
    space = str(block["space"])
    if space not in CARBS_SPACES:
        raise SweepError(
            f"unknown CARBS space {space!r}",
            file=m.file,
            key=f"{where}.space",
            fix=f"space is one of {', '.join(CARBS_SPACES)}",
        )
    if block.get("is_pow2") and space in ("linear", "log", "pow2"):
        space = "pow2"  # CARBS rounds to powers of two: the pow2 kind, on a log scale
    elif block.get("is_pow2"):
        raise SweepError(
            f"is_pow2 with space {space} has no nested-sweeper equivalent",
            file=m.file,
            key=f"{where}.is_pow2",
            fix="use space: pow2 (or log with is_pow2) and power-of-two bounds",
        )
    if block.get("is_int") and space == "linear":
        space = "int"
    elif block.get("is_int") and space not in ("int", "pow2"):
        raise SweepError(
            f"is_int with space {space} has no nested-sweeper equivalent",
            file=m.file,
            key=f"{where}.is_int",
            fix="drop is_int to search it as floats (log_normal, centre kept), write "
            "{distribution: q_log_uniform_values, min: MIN, max: MAX, q: 1} for integers "
            "(no centre), or space: pow2 for powers of two",
        )
    return space


# -- parameter leaves: Protein spellings, and refusals of what would not parse ---------------------


def check_leaf(m: Migrator, leaf: Any, where: str) -> None:
    """Refuse a leaf that would not parse (with the fix) and rewrite Protein's spellings."""
    if "search_center" in leaf or "space" in leaf:
        raise SweepError(
            "a CARBS block needs space, min and max (it has "
            f"{', '.join(sorted(str(k) for k in leaf))})",
            file=m.file,
            key=where,
            fix="add space: linear|log|logit|pow2 and min/max, or write a Protein "
            "parameter {distribution: ..., min, max, mean: CENTRE}",
        )
    if isinstance(leaf.get("values"), str):
        raise SweepError(
            f"values must be a list, got the string {leaf['values']!r}",
            file=m.file,
            key=f"{where}.values",
            fix=f"write values: [{leaf['values']}] (or value: {leaf['values']} for a constant)",
        )
    kind = leaf.get("distribution")
    if kind == "normal" and ("min" in leaf or "max" in leaf):
        raise SweepError(
            "normal takes mu and sigma, not min/max",
            file=m.file,
            key=f"{where}.distribution",
            fix="use {distribution: normal, mu: M, sigma: S}, or uniform with mean: and "
            "scale: for a bell between min and max",
        )
    if "mean" in leaf or "scale" in leaf:
        m.found.add("protein")
    _protein_scale(m, leaf, where)
    _snap_mean(m, leaf, where)
    if kind == "logit_normal":
        _clamp_logit(m, leaf, where)
    if kind == "uniform_pow2":
        _check_pow2(m, leaf, where)


def _protein_scale(m: Migrator, leaf: Any, where: str) -> None:
    """Protein's ``scale: auto`` (0.5) and ``scale: time`` (log_normal only) as numbers."""
    scale = leaf.get("scale")
    if not isinstance(scale, str):
        return
    if scale == "auto":
        value = 0.5
    elif scale == "time" and leaf.get("distribution") == "log_normal" and \
            _positive_pair(leaf.get("min"), leaf.get("max")):
        # PufferLib's Log space: one unit per doubling from min to max
        value = float(f"{1.0 / math.log2(leaf['max'] / leaf['min']):.10g}")
    else:
        raise SweepError(
            f"scale {scale!r} is not a number",
            file=m.file,
            key=f"{where}.scale",
            fix="write a width > 0 such as scale: 0.5 (Protein reads 'auto' as 0.5, and "
            "'time' only for log_normal with positive min/max)",
        )
    leaf["scale"] = value
    m.structural = True
    m.changes.append(f"{where}.scale: {scale} -> {value} (Protein's value for {scale!r})")


def _snap_mean(m: Migrator, leaf: Any, where: str) -> None:
    """A mean outside its bounds by float noise only (PufferLib writes 0.5999999999999999
    for a min of 0.6) is the bound itself; a real miss is left to the parser's error."""
    lo, hi, mean = leaf.get("min"), leaf.get("max"), leaf.get("mean")
    if not (_number_pair(lo, hi) and _number_pair(mean, mean)) or lo <= mean <= hi:
        return
    tol = 1e-9 * max(abs(lo), abs(hi), abs(hi - lo))
    bound = lo if mean < lo else hi
    if abs(mean - bound) <= tol:
        leaf["mean"] = bound
        m.structural = True
        m.changes.append(f"{where}.mean: {mean!r} -> {bound} (float noise past the bound)")


def _clamp_logit(m: Migrator, leaf: Any, where: str) -> None:
    """Bounds on 0 or 1 are pulled inside, written out so the file parses cleanly."""
    lo, hi = leaf.get("min"), leaf.get("max")
    if not _number_pair(lo, hi) or not 0.0 <= lo < hi <= 1.0:
        return  # the parser's own error names it
    clo, chi = max(float(lo), LOGIT_EPS), min(float(hi), 1.0 - LOGIT_EPS)
    if (clo, chi) == (lo, hi):
        return
    leaf["min"], leaf["max"] = (lo if clo == lo else clo), (hi if chi == hi else chi)
    mean = leaf.get("mean")
    if _number_pair(mean, mean) and not clo <= mean <= chi:
        leaf["mean"] = min(max(float(mean), clo), chi)
    m.structural = True
    m.changes.append(
        f"{where}: logit bounds [{lo}, {hi}] -> [{leaf['min']}, {leaf['max']}] "
        "(logit is infinite at 0 and 1)"
    )


def _check_pow2(m: Migrator, leaf: Any, where: str) -> None:
    """Bounds that look like exponents (``min: 0``, or ``15..19``: no power of two at either
    end of a small range) are refused; other bounds round inward as Protein rounds them,
    and a mean between powers of two is a centre in log2 space, as in Protein."""
    lo, hi, mean = leaf.get("min"), leaf.get("max"), leaf.get("mean")
    if not _number_pair(lo, hi):
        return
    exponent_like = hi <= 64 and not (_is_pow2(lo) or _is_pow2(hi))
    if lo > 0 and not exponent_like:
        return
    if 0 <= lo < hi <= 62 and all(float(v).is_integer() for v in (lo, hi)):
        centre = f", mean: {2 ** int(mean)}" if _number_pair(mean, mean) and \
            float(mean).is_integer() else ""
        fix = f"if these are exponents write min: {2 ** int(lo)}, max: {2 ** int(hi)}{centre}"
    else:
        fix = "use powers of two for min and max"
    raise SweepError(
        f"uniform_pow2 bounds [{lo}, {hi}] look like exponents, not powers of two",
        file=m.file,
        key=where,
        fix=fix,
    )


# -- markers in override trees ---------------------------------------------------------------------


def pinned(m: Migrator, value: Any, where: str) -> Any:
    """A one-point marker's value (a fixed value, noted), else ``value`` itself."""
    number = fixed_marker_value(value)
    if number is None:
        return value
    m.structural = True
    m.changes.append(
        f"{where}: {value.strip()} has min == max: the fixed value {number}, not a search"
    )
    return number


def loose_param(m: Migrator, path: str, value: Any, where: str, comment: Any) -> None:
    """A distribution outside ``parameters:`` (Metta 2025): a parameter at its path."""
    # its keys sat one level below `where`; under sweep.parameters.PATH they sit at 6
    by = 6 - 2 * len(where.split("."))
    shift_comments(value, by)
    m.put_param(m.params, path, value, shift_tokens(comment, by), where=where)
    m.structural = True
    m.changes.append(
        f"{where}: a distribution outside parameters: -> sweep.parameters.{path}"
    )


def refuse_list_markers(m: Migrator, items: list[Any], where: str) -> None:
    """A marker inside a list has no path of its own to become a parameter at."""
    for i, item in enumerate(items):
        if isinstance(item, str) and parse_marker(item, key=f"{where}.{i}", file=m.file):
            raise SweepError(
                "a CARBS marker inside a list cannot become a parameter",
                file=m.file,
                key=f"{where}.{i}",
                fix="sweep the whole list with {values: [[...], [...]]}",
            )


# -- predicates ------------------------------------------------------------------------------------


def _number_pair(a: Any, b: Any) -> bool:
    return all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in (a, b)
    )


def _is_pow2(v: Any) -> bool:
    return v > 0 and float(v).is_integer() and (int(v) & (int(v) - 1)) == 0


def _positive_pair(a: Any, b: Any) -> bool:
    return _number_pair(a, b) and 0 < a < b


def _has_carbs_block(node: Mapping[str, Any]) -> bool:
    return any(
        isinstance(v, Mapping) and (is_carbs_block(v) or _has_carbs_block(v))
        for v in node.values()
    )


def is_carbs_block(value: Mapping[str, Any]) -> bool:
    """A CARBS parameter block: ``space``, ``min`` and ``max`` (and optional keys)."""
    return "space" in value and "min" in value and "max" in value
