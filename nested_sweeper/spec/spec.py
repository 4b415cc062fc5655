"""Sweep files: load, check placement and paths, and build the immutable ``SweepSpec``.

A sweep file has only ``sweep``, ``rollout_count``, ``num_samples`` and
``defaults`` at its root. Under ``sweep:`` sit the search settings (``method``, ``metric``,
``goal``, ``parameters``, ``early_terminate``, ``seed``, ``cost``) and fixed overrides per
top-level config group (``trainer:``, ``env:``, ...). Parameters are dotted paths or nested
W&B-style ``parameters:`` blocks; both flatten to dotted paths.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from nested_sweeper.errors import SweepError
from nested_sweeper.schema import (
    DEFAULT_GOAL,
    DEFAULT_METHOD,
    DEFAULT_NUM_SAMPLES,
    DEFAULT_ROLLOUT_COUNT,
    EARLY_TERMINATE_TYPES,
    GOALS,
    METHODS,
    PARAM_KEYS,
    ROOT_KEYS,
    SETTINGS,
)

# Keys of W&B sweep files that have no place in ours, and what to do instead.
WANDB_ONLY = {
    "program": "not needed: the sweeper runs this Hydra app; delete it",
    "command": "not needed: the sweeper runs this Hydra app; delete it",
    "run_cap": "use rollout_count × num_samples instead (`nested-sweep migrate` converts it)",
    "project": "set the W&B project in conf/wandb instead",
    "entity": "set the W&B entity in conf/user or conf/wandb instead",
}
# Root keys that only a W&B sweep file has.
WANDB_MARKERS = frozenset(("parameters", "program", "command"))
# Limits of a sweep file: far above any real one, far below what hangs the YAML loader.
MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 40
MAX_STRING_CHARS = 10_000


@dataclass(frozen=True)
class Parameter:
    """A searched parameter: its dotted path, distribution and optional condition."""

    path: str
    distribution: Any  # space.Distribution (kept loose: imported lazily)
    # Searched only in runs where every path holds one of the listed values.
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def active(self, values: Mapping[str, Any]) -> bool:
        return all(values.get(path) in allowed for path, allowed in self.when.items())


@dataclass(frozen=True)
class EarlyTerminate:
    """W&B's hyperband (``min_iter``, ``max_iter`` or ``s``, ``eta``) or a median rule."""

    type: str
    min_iter: int = 1
    max_iter: int | None = None
    s: int | None = None
    eta: float = 3.0
    # median rule: finished runs to see before stopping any run
    min_runs: int = 2


@dataclass(frozen=True)
class SweepSpec:
    file: str
    method: str
    metric: str
    goal: str
    rollout_count: int
    num_samples: int
    parameters: Mapping[str, Parameter]
    fixed: Mapping[str, Any]
    early_terminate: EarlyTerminate | None = None
    seed: int | None = None
    cost: str | None = "cost"
    # Settings of the search method (e.g. protein's n_startup_trials); the sweeper's
    # hydra.sweeper.method_kwargs wins per key.
    method_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def space(self) -> dict[str, Any]:
        return {path: p.distribution for path, p in self.parameters.items()}

    def active_params(self, suggestion: Mapping[str, Any]) -> dict[str, Any]:
        """The suggestion without parameters whose ``when`` condition does not hold."""
        values = {**self.fixed, **suggestion}
        return {k: v for k, v in suggestion.items()
                if k not in self.parameters or self.parameters[k].active(values)}

    def to_dict(self) -> dict[str, Any]:
        """Plain form stored in the study (the summary reads it back)."""
        return {
            "file": self.file,
            "method": self.method,
            "metric": self.metric,
            "goal": self.goal,
            "rollout_count": self.rollout_count,
            "num_samples": self.num_samples,
            "parameters": {k: p.distribution.to_config() for k, p in self.parameters.items()},
            "conditions": {k: {c: list(v) for c, v in p.when.items()} for k, p in self.parameters.items() if p.when},
            "fixed": dict(self.fixed),
            "seed": self.seed,
            "cost": self.cost,
            "early_terminate": None if self.early_terminate is None else vars(self.early_terminate),
            "method_kwargs": dict(self.method_kwargs),
        }


# ---------------------------------------------------------------------------- loading


def load_spec(
    path: str | Path,
    *,
    config: Mapping[str, Any] | None = None,
    file: str | None = None,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SweepSpec:
    """Load and validate a sweep file.

    ``config`` is the composed config without the sweep (plain containers, unresolved):
    paths are checked against it and its CARBS markers become parameters. ``extra`` holds
    parameter blocks from the command line; they join the file's and win over them.
    ``overrides`` holds the composed config's ``sweep``/``rollout_count``/``num_samples``
    (the file as Hydra composed it, plus command-line overrides such as ``rollout_count=1``).
    """
    file = file or str(path)
    raw = read_sweep_file(path, file=file)
    if raw is None or raw == {}:  # OmegaConf reads an empty file as {}
        raise SweepError("the sweep file is empty", file=file, key="sweep",
                         fix="start from conf/sweep/empty.yaml or conf/sweep/my_sweep.yaml")
    composed = (overrides or {}).get("sweep")
    if isinstance(composed, Mapping) and "sweep" in composed:
        # A file without `# @package _global_` (the guides' files): Hydra composed it under
        # `sweep.`, so that node is the file. Root-level keys Hydra merged stay on top.
        overrides = {**composed, **{k: v for k, v in (overrides or {}).items() if k != "sweep"}}
    if overrides and isinstance(raw, Mapping):
        if "sweep" in overrides:  # composed by +sweep=NAME: Hydra's view wins, deletions too
            raw = {**raw, **overrides}
        else:  # the wrapper's sweep_params form: command-line values on top of the file
            from omegaconf import OmegaConf

            merged = OmegaConf.merge(OmegaConf.create(dict(raw)), OmegaConf.create(dict(overrides)))
            raw = OmegaConf.to_container(merged, resolve=False)
    spec = parse_spec(raw, file=file)
    params = dict(spec.parameters)
    if config is not None:
        from nested_sweeper.spec.carbs import find_markers

        for cpath, marker in find_markers(config, file=file).items():
            if cpath not in spec.fixed and cpath not in params:
                params[cpath] = _parameter(cpath, marker.to_param(), file, cpath)
    for ppath, block in (extra or {}).items():
        params[ppath] = _parameter(ppath, block, "command line", ppath)
    spec = replace(spec, parameters=MappingProxyType(params))
    if config is not None:
        check_sweep_keys(raw.get("sweep") or {}, file=file, groups=set(config))
        check_paths(spec, config)
    return spec


def read_sweep_file(path: str | Path, *, file: str) -> Any:
    """The file's content, its YAML and root keys checked (errors Hydra would report worse)."""
    try:
        raw = load_yaml(path)
    except SweepError as err:
        raise err.located(file=file) from None
    if isinstance(raw, Mapping):
        check_root(raw, file=file)
    return raw


def _parameter(path: str, block: Mapping[str, Any], file: str, key: str) -> Parameter:
    from nested_sweeper.space import parse_distribution

    check_override_key(path, file=file, key=key)

    dist = parse_distribution(dict(block), key=key, file=file)
    return Parameter(path=path, distribution=dist, when=MappingProxyType({}))


def load_yaml(path: str | Path) -> Any:
    """A YAML file as plain containers, interpolations (``${ss:...}``) left as strings."""
    from omegaconf import OmegaConf
    from yaml import YAMLError

    path = Path(path)
    if not path.is_file():
        raise SweepError("no such sweep file", file=str(path), fix="check the name or path")
    check_yaml_limits(path)
    try:
        node = OmegaConf.load(path)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SweepError(f"malformed YAML{where}: {problem}", file=str(path),
                         fix="fix the YAML syntax (indentation, quotes, colons)") from None
    except Exception as err:  # omegaconf grammar errors carry no YAML mark
        raise SweepError(f"cannot read the file: {err}", file=str(path),
                         fix="fix the YAML syntax") from None
    return OmegaConf.to_container(node, resolve=False)


def check_yaml_limits(path: Path) -> None:
    """Refuse what would hang or exhaust the loader: a huge file, aliases that expand
    exponentially (billion laughs), nesting deeper than any sweep needs, giant strings."""
    import yaml
    from omegaconf._utils import get_yaml_loader

    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SweepError(f"the file is {size:,} bytes, more than the {MAX_FILE_BYTES:,} a sweep file may have",
                         file=str(path), fix="a sweep file holds settings and parameter ranges, not data")
    text = path.read_text(encoding="utf-8", errors="replace")
    if _flow_depth(text) > MAX_DEPTH:  # PyYAML's scanner is quadratic in bracket nesting
        raise SweepError(f"nested more than {MAX_DEPTH} levels deep", file=str(path),
                         fix="parameters are config paths: use dotted keys (trainer.lr)")
    try:
        root = yaml.compose(text, Loader=get_yaml_loader())
    except RecursionError:  # thousands of nested brackets exhaust the composer's stack
        raise SweepError(f"nested more than {MAX_DEPTH} levels deep", file=str(path),
                         fix="parameters are config paths: use dotted keys (trainer.lr)") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        return  # reported with its position by the real load below
    if root is not None:
        _check_node(root, file=str(path))


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ and { brackets (brackets inside quotes counted too: no
    sweep value holds 40 of them)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _check_node(root: Any, *, file: str) -> None:
    """Expanded size and depth of a YAML node graph, each shared (aliased) node counted at
    every place it appears, computed once per node (linear in the file, not in the expansion)."""
    import yaml

    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    stack: list[tuple[Any, bool]] = [(root, False)]
    active: set[int] = set()
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not done:
            if id(node) in active:
                raise SweepError("an alias refers to a node that contains it", file=file,
                                 fix="remove the recursive YAML alias (*name inside &name)")
            if isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_STRING_CHARS:
                raise SweepError(f"a value of {len(node.value):,} characters at line {node.start_mark.line + 1}, "
                                 f"more than the {MAX_STRING_CHARS:,} allowed", file=file,
                                 fix="sweep values are short settings; keep data in files")
            active.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        active.discard(id(node))
        total = 1 + sum(sizes[id(c)][0] for c in children)
        depth = 1 + max((sizes[id(c)][1] for c in children), default=0)
        if total > MAX_NODES:
            raise SweepError(f"the file expands to more than {MAX_NODES:,} values (YAML aliases)",
                             file=file, fix="write the values out instead of nesting aliases")
        if depth > MAX_DEPTH:
            raise SweepError(f"nested more than {MAX_DEPTH} levels deep", file=file,
                             fix="parameters are config paths: use dotted keys (trainer.lr)")
        sizes[id(node)] = (total, depth)


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def find_sweep_file(name: str, search_dirs: Iterable[str | Path]) -> Path:
    """``NAME``, ``sweep/NAME`` or a path to a YAML file, looked up in the config dirs."""
    direct = Path(name)
    if direct.suffix in (".yaml", ".yml") and direct.is_file():
        return direct
    rel = name if name.startswith("sweep/") else f"sweep/{name}"
    rel = rel if rel.endswith((".yaml", ".yml")) else f"{rel}.yaml"
    dirs = [Path(d) for d in search_dirs]
    for d in dirs:
        if (d / rel).is_file():
            return d / rel
    known = sorted({p.stem for d in dirs for p in (d / "sweep").glob("*.yaml")})
    if direct.exists() or (_has_separator(name) and not name.startswith("sweep/")):
        raise _not_a_sweep_file(direct, known)  # a path was meant: say what is wrong with it
    close = difflib.get_close_matches(Path(rel).stem, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise SweepError(
        f"sweep file '{rel}' not found in {', '.join(map(str, dirs)) or 'the config path'}",
        key="sweep",
        fix=f"{hint}known sweeps: {', '.join(known) or 'none'}",
    )


def _has_separator(name: str) -> bool:
    return "/" in name or os.sep in name or bool(os.altsep and os.altsep in name)


def _not_a_sweep_file(path: Path, known: list[str]) -> SweepError:
    """The plain reason a path given as the sweep is not a readable .yaml file."""
    names = f"or give a sweep name ({', '.join(known) or 'none in conf/sweep'})"
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.yaml"))[:3]
        example = f"e.g. {path / inside[0]}" if inside else "a file ending in .yaml"
        return SweepError(f"{path} is a directory, not a .yaml file", key="sweep",
                          fix=f"give a sweep file inside it ({example}) {names}")
    if path.exists():
        return SweepError(f"{path} is not a .yaml file", key="sweep",
                          fix=f"sweep files end in .yaml: rename it {names}")
    with_ext = path.with_name(path.name + ".yaml")
    hint = f"did you mean {with_ext}?" if with_ext.is_file() else f"check the path {names}"
    return SweepError(f"no such file {path}", key="sweep", fix=hint)


def parse_spec(raw: Any, *, file: str) -> SweepSpec:
    """Build a ``SweepSpec`` from a sweep file's content (paths are checked by ``load_spec``)."""
    if raw is None:
        raise SweepError("the sweep file is empty", file=file, key="sweep",
                         fix="start from conf/sweep/empty.yaml or conf/sweep/my_sweep.yaml")
    if not isinstance(raw, Mapping):
        raise SweepError(f"a sweep file must be a mapping, not {type(raw).__name__}",
                         file=file, fix="start from conf/sweep/my_sweep.yaml")
    check_root(raw, file=file)
    sweep = raw.get("sweep") or {}
    if not isinstance(sweep, Mapping):
        raise SweepError("must be a mapping", file=file, key="sweep",
                         fix="put method, metric, parameters and overrides under 'sweep:'")
    check_sweep_keys(sweep, file=file, groups=None)
    metric, goal = _metric_and_goal(sweep, file)
    params = _parameters(sweep.get("parameters") or {}, file)
    fixed = _fixed_overrides(sweep, file)
    _carbs_markers(fixed, params, file)
    check_fixed(fixed, file=file)
    _check_overlap(params, fixed, file)
    return SweepSpec(
        file=file,
        # No method: protein, the default of the Protein sweep guides (and what migrate writes).
        method=_choice(sweep.get("method", DEFAULT_METHOD), METHODS, file, "sweep.method"),
        metric=metric,
        goal=goal,
        rollout_count=_count(raw, sweep, "rollout_count", DEFAULT_ROLLOUT_COUNT, file),
        num_samples=_count(raw, sweep, "num_samples", DEFAULT_NUM_SAMPLES, file),
        parameters=MappingProxyType(params),
        fixed=MappingProxyType(fixed),
        early_terminate=_early_terminate(sweep.get("early_terminate"), file),
        seed=_optional_int(sweep.get("seed"), file, "sweep.seed"),
        cost=_cost(sweep.get("cost", "cost"), file),
        method_kwargs=MappingProxyType(_method_kwargs(sweep.get("method_kwargs"), file)),
    )


def check_root(raw: Mapping[str, Any], *, file: str) -> None:
    if "sweep" not in raw and set(raw) & WANDB_MARKERS:
        raise SweepError("this is a W&B sweep file (parameters at the root)", file=file,
                         key=str(sorted(set(raw) & WANDB_MARKERS)[0]),
                         fix=f"convert it with `nested-sweep migrate {file}` (add --in-place "
                             "to rewrite it)")
    for key in raw:
        if key in ROOT_KEYS:
            continue
        if key in WANDB_ONLY:
            raise SweepError(f"'{key}' is a W&B sweep key", file=file, key=key, fix=WANDB_ONLY[key])
        if key in SETTINGS:
            fix = f"move it under 'sweep.{key}'"
            msg = f"'{key}' at the root of a sweep file is ignored"
        else:
            fix = f"move it under 'sweep.{key}' (or run `nested-sweep migrate {file}`)"
            msg = f"'{key}' at the root of a sweep file is not applied to sweep runs"
        raise SweepError(msg, file=file, key=str(key), fix=fix)


def check_sweep_keys(sweep: Mapping[str, Any], *, file: str, groups: set[str] | None) -> None:
    for key in sweep:
        if key in SETTINGS or (groups is not None and key in groups):
            continue
        if key in WANDB_ONLY:
            raise SweepError(f"'{key}' is a W&B sweep key", file=file, key=f"sweep.{key}",
                             fix=WANDB_ONLY[key])
        if groups is None:
            continue  # fixed overrides; checked once the composed config is known
        known = [*SETTINGS, *sorted(groups or ())]
        raise SweepError(f"unknown key '{key}'", file=file, key=f"sweep.{key}",
                         fix=_suggest(str(key), known, "use one of: " + ", ".join(known)))


# ---------------------------------------------------------------------------- pieces


def _metric_and_goal(sweep: Mapping[str, Any], file: str) -> tuple[str, str]:
    metric = sweep.get("metric", "reward")
    goal = sweep.get("goal")
    if isinstance(metric, Mapping):  # W&B: metric: {name: reward, goal: maximize}
        unknown = set(metric) - {"name", "goal", "target"}
        if unknown:
            raise SweepError(f"unknown keys {sorted(unknown)}", file=file, key="sweep.metric",
                             fix="use metric: {name: NAME, goal: maximize|minimize}")
        inner = metric.get("goal")
        if goal is not None and inner is not None and goal != inner:
            raise SweepError(f"'{goal}' contradicts metric.goal '{inner}'", file=file,
                             key="sweep.goal", fix="keep one goal: drop sweep.goal or metric.goal")
        goal = goal or inner
        metric = metric.get("name")
    if not isinstance(metric, str) or not metric:
        raise SweepError("the metric must be a name", file=file, key="sweep.metric",
                         fix="e.g. metric: reward (a key of the mapping the run returns)")
    return metric, _choice(goal or DEFAULT_GOAL, GOALS, file, "sweep.goal")


def _choice(value: Any, allowed: tuple[str, ...], file: str, key: str) -> str:
    if value in allowed:
        return str(value)
    raise SweepError(f"'{value}' is not one of {', '.join(allowed)}", file=file, key=key,
                     fix=_suggest(str(value), allowed, f"use one of: {', '.join(allowed)}"))


def _count(raw: Mapping[str, Any], sweep: Mapping[str, Any], key: str, default: int, file: str) -> int:
    if key in raw and key in sweep and raw[key] != sweep[key]:
        raise SweepError(f"set twice ({raw[key]} at the root, {sweep[key]} under sweep)",
                         file=file, key=key, fix="keep one of them")
    value = raw.get(key, sweep.get(key, default))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SweepError(f"must be a positive integer, got {value!r}", file=file, key=key,
                         fix=f"e.g. {key}: {default}")
    return value


def _cost(value: Any, file: str) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    raise SweepError(f"must be a metric name, got {value!r}", file=file, key="sweep.cost",
                     fix="e.g. cost: cost (a number the run returns), or null to use runtime")


def _method_kwargs(value: Any, file: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return dict(value)
    raise SweepError(f"must be a mapping of setting names, got {value!r}", file=file,
                     key="sweep.method_kwargs", fix="e.g. method_kwargs: {n_startup_trials: 5}")


def _optional_int(value: Any, file: str, key: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise SweepError(f"must be an integer, got {value!r}", file=file, key=key, fix="e.g. seed: 0")


def _is_block(node: Any) -> bool:
    """A nested group of parameters rather than one parameter."""
    if not isinstance(node, Mapping) or not node:
        return False
    if "parameters" in node:
        return True
    return not (set(node) & PARAM_KEYS) and all(
        isinstance(v, Mapping) for v in node.values()
    )


def _flatten_params(node: Mapping[str, Any], prefix: str, file: str) -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        if not isinstance(key, str) or not key:
            where = f"sweep.parameters.{prefix}" if prefix else "sweep.parameters"
            raise SweepError(f"the key {key!r} is not a config path", file=file, key=where,
                             fix="parameter keys are config paths such as trainer.learning_rate")
        path = f"{prefix}.{key}" if prefix else key
        if _is_block(value):
            inner = value.get("parameters", value)
            if "parameters" in value and set(value) != {"parameters"}:
                extra = sorted(map(str, set(value) - {"parameters"}))
                raise SweepError(f"unexpected keys {extra} beside 'parameters'", file=file,
                                 key=f"sweep.parameters.{path}", fix="move them into a parameter")
            if not isinstance(inner, Mapping) or not inner:
                raise SweepError(f"a nested 'parameters:' must map names to parameters, got {inner!r}"[:200],
                                 file=file, key=f"sweep.parameters.{path}.parameters",
                                 fix="e.g. parameters: {learning_rate: {min: 1e-4, max: 1e-2}}")
            yield from _flatten_params(inner, path, file)
        else:
            yield path, value


def _parameters(node: Any, file: str) -> dict[str, Parameter]:
    from nested_sweeper.space import parse_distribution

    if not isinstance(node, Mapping):
        raise SweepError("must be a mapping of parameter paths", file=file,
                         key="sweep.parameters", fix="e.g. trainer.learning_rate: {min: 1e-4, max: 1e-2}")
    params: dict[str, Parameter] = {}
    for path, block in _flatten_params(node, "", file):
        key = f"sweep.parameters.{path}"
        check_override_key(path, file=file, key=key)
        if path in params:
            raise SweepError("parameter defined twice", file=file, key=key,
                             fix="keep one definition (dotted and nested forms flatten to the same path)")
        if not isinstance(block, Mapping):
            block = _marker_or_value(block, path, file)
        when = block.get("when") or {}
        if not isinstance(when, Mapping):
            raise SweepError("must map config paths to values", file=file, key=f"{key}.when",
                             fix="e.g. when: {trainer.use_lstm: true}")
        body = {k: v for k, v in block.items() if k != "when"}
        dist = parse_distribution(body, key=key, file=file)
        conds = {str(p): tuple(v) if isinstance(v, list) else (v,) for p, v in when.items()}
        params[path] = Parameter(path=path, distribution=dist, when=MappingProxyType(conds))
    return params


def check_override_key(path: str, *, file: str, key: str) -> None:
    """Every searched or fixed path becomes ``path=value`` on Hydra's command line: refuse,
    before the first launch, a path Hydra's override grammar cannot read back as itself."""
    if not _override_key_ok(path):
        raise SweepError(f"'{path}' cannot be a Hydra override key", file=file, key=key,
                         fix="config keys in sweeps must be ASCII letters, digits, _ and -, joined by dots")


@functools.lru_cache(maxsize=4096)
def _override_key_ok(path: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_override(f"{path}=0")
    except Exception:  # OverrideParseException and the lexer's errors
        return False
    # `+x` / `++x` (append, force) come from Hydra's own command line: `-m +x=1,2`.
    return parsed.key_or_group == path.removeprefix("+").removeprefix("+") and parsed.package is None


def check_fixed(fixed: Mapping[str, Any], *, file: str) -> None:
    """Fixed overrides: launchable keys, and values that are data (no interpolations)."""
    from nested_sweeper.space import refuse_interpolations

    for path, value in fixed.items():
        check_override_key(path, file=file, key=f"sweep.{path}")
        refuse_interpolations(value, key=f"sweep.{path}", file=file)


def _marker_or_value(value: Any, path: str, file: str) -> dict[str, Any]:
    """A bare value in `parameters:`: a CARBS marker, or W&B shorthand for a constant."""
    from nested_sweeper.spec.carbs import parse_marker

    marker = parse_marker(value, key=f"sweep.parameters.{path}", file=file) if isinstance(value, str) else None
    if marker is not None:
        return marker.to_param()
    raise SweepError(f"expected a distribution, got {value!r}", file=file,
                     key=f"sweep.parameters.{path}",
                     fix=f"write {{value: {value!r}}} for a constant or {{values: [...]}} for a choice")


def _flatten(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        path = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, path)
        else:
            yield path, value


def _fixed_overrides(sweep: Mapping[str, Any], file: str) -> dict[str, Any]:
    fixed: dict[str, Any] = {}
    for group, node in sweep.items():
        if group in SETTINGS:
            continue
        if isinstance(node, Mapping):
            fixed.update(_flatten(node, str(group)))
        else:
            fixed[str(group)] = node
    return fixed


def _carbs_markers(fixed: dict[str, Any], params: dict[str, Parameter], file: str) -> None:
    """CARBS markers among the fixed overrides become parameters at their path."""
    from nested_sweeper.spec.carbs import find_markers

    try:
        markers = find_markers(fixed, file=file)
    except SweepError as err:  # its key is the config path; in this file it sits under sweep.
        raise err.located(key_prefix="sweep") from None
    for path, marker in markers.items():
        key = f"sweep.{path}"
        if path in params:
            raise SweepError("searched twice (a CARBS marker and a parameter)", file=file,
                             key=key, fix="keep one of them")
        params[path] = _parameter(path, marker.to_param(), file, key)
        del fixed[path]


def _check_overlap(params: Mapping[str, Parameter], fixed: Mapping[str, Any], file: str) -> None:
    for path in params:
        if path in fixed:
            raise SweepError("both searched and fixed", file=file, key=f"sweep.{path}",
                             fix=f"remove it from sweep.parameters or from sweep.{path.split('.')[0]}")
        for cond in params[path].when:
            if cond == path:
                raise SweepError("a parameter cannot be conditioned on itself", file=file,
                                 key=f"sweep.parameters.{path}.when", fix="condition on another path")


def _early_terminate(node: Any, file: str) -> EarlyTerminate | None:
    if node is None:
        return None
    key = "sweep.early_terminate"
    if not isinstance(node, Mapping) or node.get("type") not in EARLY_TERMINATE_TYPES:
        got = node.get("type") if isinstance(node, Mapping) else node
        raise SweepError(f"unknown early termination {got!r}", file=file, key=f"{key}.type",
                         fix="use {type: hyperband, min_iter: 1, eta: 3} or {type: median}")
    if "strict" in node:  # W&B's strict hyperband; Optuna's HyperbandPruner has no such mode
        raise SweepError("W&B's hyperband 'strict' has no equivalent here", file=file,
                         key=f"{key}.strict", fix="remove it (`nested-sweep migrate` does)")
    allowed = {"type", "min_iter", "max_iter", "s", "eta", "min_runs"}
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise SweepError(f"unknown keys {unknown}", file=file, key=key,
                         fix=f"use only {', '.join(sorted(allowed))}")
    args = dict(node)
    for name in ("min_iter", "max_iter", "s", "min_runs"):
        value = args.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise SweepError(f"must be a positive integer, got {value!r}", file=file,
                             key=f"{key}.{name}", fix=f"e.g. {name}: 3")
    eta = args.get("eta", 3.0)
    if not isinstance(eta, (int, float)) or eta <= 1:
        raise SweepError(f"eta must be > 1, got {eta!r}", file=file, key=f"{key}.eta", fix="e.g. eta: 3")
    return EarlyTerminate(**{**args, "eta": float(eta)})


# ---------------------------------------------------------------------------- paths


def config_paths(config: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every dotted path of a composed config (inner nodes and leaves)."""
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        yield path
        if isinstance(value, Mapping):
            yield from config_paths(value, path)


def check_paths(spec: SweepSpec, config: Mapping[str, Any]) -> None:
    """Every searched path, fixed override and condition must exist in the composed config."""
    known = set(config_paths(config))
    searched = set(spec.parameters)
    for path, param in spec.parameters.items():
        key = f"sweep.parameters.{path}"
        _check_path(path, known, spec.file, key)
        _check_leaf(path, config, _gives_scalar(param.distribution), spec.file, key)
    for path, value in spec.fixed.items():
        _check_path(path, known, spec.file, f"sweep.{path}")
        scalar = not isinstance(value, (Mapping, list))
        _check_leaf(path, config, scalar, spec.file, f"sweep.{path}")
    for param in spec.parameters.values():
        for cond in param.when:
            if cond not in searched:
                _check_path(cond, known, spec.file, f"sweep.parameters.{param.path}.when")


def _check_path(path: str, known: set[str], file: str, key: str) -> None:
    if path in known:
        return
    close = difflib.get_close_matches(path, sorted(known), n=1, cutoff=0.5)
    parent = path.rsplit(".", 1)[0]
    if close:
        fix = f"did you mean '{close[0]}'?"
    elif parent in known:
        fix = f"'{parent}' has no key '{path.rsplit('.', 1)[1]}'"
    else:
        fix = "check the path against `python train.py --cfg job`"
    raise SweepError(f"'{path}' does not exist in the composed config", file=file, key=key, fix=fix)


def _gives_scalar(dist: Any) -> bool:
    """Whether a distribution can yield a plain value (every kind but all-container choices)."""
    values = getattr(dist, "values", None)
    if values is None and hasattr(dist, "value"):
        values = (dist.value,)
    if values is None:
        return True  # numeric distributions
    return any(not isinstance(v, (Mapping, list, tuple)) for v in values)


def _node(config: Mapping[str, Any], path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _check_leaf(path: str, config: Mapping[str, Any], scalar: bool, file: str, key: str) -> None:
    """A plain value must not replace a whole config node (`env.game: 5` drops every key in it)."""
    node = _node(config, path)
    if not scalar or not isinstance(node, (Mapping, list)):
        return
    if isinstance(node, list):
        raise SweepError(f"'{path}' is a list in the composed config, not a single value",
                         file=file, key=key, fix="give whole lists, e.g. values: [[1, 2], [3, 4]]")
    leaves = [p for p in config_paths(node, path) if not isinstance(_node(config, p), Mapping)]
    example = ", ".join(leaves[:3]) or f"{path}.KEY"
    raise SweepError(f"'{path}' is a whole config node (a mapping), not one value",
                     file=file, key=key, fix=f"set or search its leaves instead, e.g. {example}")


def _suggest(word: str, options: Iterable[str], default: str) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean '{close[0]}'?" if close else default

SWEEP_KEYS = ("hydra", "sweep", "rollout_count", "num_samples")  # a composed config's keys that belong to the sweep


def split_sweep_keys(plain: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the config the runs see, the sweep's own keys as Hydra composed them)."""
    config = {k: v for k, v in plain.items() if k not in SWEEP_KEYS}
    # None is the app config's placeholder (train.yaml), not a value: the file's wins.
    own = {k: plain[k] for k in ("sweep", "rollout_count", "num_samples")
           if plain.get(k) is not None}
    return config, own
