"""Bad input, fuzzed: generated sweep files are accepted or refused with the one error type.

Hypothesis writes sweep files of random keys, types, nesting and numbers, W&B fields and CARBS
markers (and, now and then, text that is not valid YAML at all), then mutates their shape as a
hostile user would: a scalar or list where a mapping belongs (nested `parameters: 0.05`),
shared nodes (YAML aliases), billion-laughs alias chains, nesting deeper than any sweep,
unicode keys, 20,000-character strings, integers beyond the float range, interpolations. It
hands each to `load_spec` with the composed training config, as `nested-sweep validate` does. Each must come back as a
`SweepSpec`, or as a `SweepError` whose key path tells the user where to look; a file-level
problem (malformed YAML, not a mapping) may name only the file. Anything else is a bug.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from nested_sweeper.cli import compose_config
from nested_sweeper.errors import SweepError
from nested_sweeper.schema import DISTRIBUTION_KEYS as KNOWN_KEYS
from nested_sweeper.schema import METHODS, SETTINGS
from nested_sweeper.space import DISTRIBUTION_NAMES
from nested_sweeper.spec.spec import (
    WANDB_ONLY,
    SweepSpec,
    check_yaml_limits,
    config_paths,
    load_spec,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 2000
# Refusals that concern the whole file, so no key can be named.
FILE_LEVEL = ("malformed YAML", "cannot read the file", "a sweep file must be a mapping",
              "the file is", "the file expands", "nested more than", "a value of",
              "an alias refers")

CONFIG = compose_config(str(ROOT / "conf"), "train", [])
PATHS = sorted(config_paths(CONFIG))
LEAF_PATHS = [p for p in PATHS if "." in p]

# ---------------------------------------------------------------------------- building blocks

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=12)
names = st.one_of(words, st.sampled_from(["", " ", "x.", ".x", "a..b", "$x", "ü", "0"]))
numbers = st.one_of(
    st.integers(min_value=-10**6, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0, 1, -1, 1e-4, 1e-2, 0.5, 2**31, 1e308, -0.0, 1e-320]),
)
scalars = st.one_of(numbers, st.booleans(), st.none(), words, st.sampled_from(["nan", "inf", "1e-3"]))


@st.composite
def mostly(draw: st.DrawFn, usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """`usual`, and `odd` one time in ten, so one early error does not hide the deeper checks."""
    return draw(odd if draw(st.integers(0, 9)) == 4 else usual)


def marker(kind: str, args: list[Any], angle: bool) -> str:
    body = ", ".join(str(a) for a in args)
    return f"$<ss:{kind}, {body}>" if angle else f"${{ss:{kind}, {body}}}"


markers = st.builds(
    marker,
    st.sampled_from(["log", "linear", "pow2", "int", "logit", "exp", "", "LOG"]),
    st.lists(st.one_of(numbers, st.sampled_from(["x", "", "1e", "(1)"])), min_size=0, max_size=5),
    st.booleans(),
)
distribution_names = st.one_of(st.sampled_from(DISTRIBUTION_NAMES), names,
                               st.sampled_from(["log", "choice", "grid", "Uniform"]))
value_lists = st.lists(st.one_of(scalars, st.lists(scalars, max_size=2)), max_size=5)


# The keys each distribution takes; a template is filled with drawn numbers, then mutated.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "uniform": ("min", "max"), "int_uniform": ("min", "max"), "q_uniform": ("min", "max", "q"),
    "log_uniform": ("min", "max"), "log_uniform_values": ("min", "max"),
    "q_log_uniform": ("min", "max", "q"), "q_log_uniform_values": ("min", "max", "q"),
    "inv_log_uniform": ("min", "max"), "inv_log_uniform_values": ("min", "max"),
    "normal": ("mu", "sigma"), "q_normal": ("mu", "sigma", "q"), "q_log_normal": ("mu", "sigma", "q"),
    "log_normal": ("min", "max", "mean", "scale"), "beta": ("a", "b"), "q_beta": ("a", "b", "q"),
    "uniform_pow2": ("min", "max", "mean", "scale"), "logit_normal": ("min", "max", "mean", "scale"),
    "categorical": ("values", "probabilities"), "constant": ("value",),
}
nice = st.sampled_from([0, 1, 2, 3, 8, 16, 256, 0.001, 0.01, 0.1, 0.25, 0.5, 0.9, 0.99, 1e-4,
                        1e-8, 10.0, 1e6, -1, -0.5, -10.0])
bounds = st.one_of(nice, nice, numbers)


@st.composite
def template_blocks(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(TEMPLATES)))
    block: dict[str, Any] = {} if draw(st.integers(0, 9)) == 2 else {"distribution": name}
    for key in TEMPLATES[name]:
        if key == "values":
            block[key] = draw(st.lists(st.one_of(nice, words, st.booleans()), min_size=1, max_size=5))
        elif key == "probabilities":
            if draw(st.booleans()):
                n = len(block["values"])
                block[key] = draw(st.lists(st.one_of(nice, numbers), min_size=n, max_size=n))
        elif key == "value":
            block[key] = draw(scalars)
        else:
            block[key] = draw(bounds)
    if {"min", "max"} <= set(block) and draw(st.integers(0, 9)) != 6:
        low, high = block["min"], block["max"]  # mostly ordered, as a user would write them
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
            block["min"], block["max"] = high, low
    if draw(st.integers(0, 9)) in (3, 6):  # a mutation: one key dropped, added or given junk
        key = draw(st.sampled_from([*KNOWN_KEYS, "when", "space", "is_int"]))
        choice = draw(st.sampled_from(["drop", "junk", "marker"]))
        if choice == "drop":
            block.pop(key, None)
        else:
            block[key] = draw(markers if choice == "marker" else st.one_of(scalars, value_lists))
    if draw(st.integers(0, 9)) == 5:
        block["when"] = draw(st.one_of(
            st.dictionaries(st.sampled_from(LEAF_PATHS), st.one_of(scalars, value_lists),
                            max_size=2), scalars))
    return block


def distribution_blocks() -> st.SearchStrategy[Any]:
    """A parameter: mostly a W&B/Protein block with odd numbers, sometimes a marker or junk."""
    junk = st.dictionaries(st.sampled_from([*KNOWN_KEYS, "kind"]),
                           st.one_of(numbers, scalars, markers, distribution_names), max_size=5)
    return mostly(template_blocks(), st.one_of(markers, junk, scalars))


param_paths = mostly(st.sampled_from(LEAF_PATHS), st.one_of(
    names, st.sampled_from(["trainer.learningrate", "env.game.max_step", "trainer"])))


@st.composite
def parameter_trees(draw: st.DrawFn, depth: int = 0) -> Any:
    """Dotted paths, nested W&B `parameters:` blocks, or plain nesting by group."""
    tree: dict[str, Any] = {}
    for path in draw(st.lists(param_paths, min_size=1, max_size=4, unique=True)):
        nested = depth < 2 and draw(st.integers(0, 9)) == 3
        if nested:
            inner = draw(parameter_trees(depth + 1))
            tree[path.split(".")[0]] = {"parameters": inner} if draw(st.booleans()) else inner
        else:
            tree[path] = draw(distribution_blocks())
    return tree


@st.composite
def fixed_overrides(draw: st.DrawFn) -> dict[str, Any]:
    """`sweep.trainer:`-style fixed values, with markers among them."""
    out: dict[str, Any] = {}
    for path in draw(st.lists(st.sampled_from(LEAF_PATHS), max_size=3, unique=True)):
        node = out
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node.get(p, {}), dict) else {}
        node[leaf] = draw(st.one_of(scalars, markers, st.dictionaries(words, scalars, max_size=2)))
    return out


metrics = st.one_of(
    st.sampled_from(["reward", "loss", "sps"]), scalars,
    st.fixed_dictionaries({}, optional={"name": st.one_of(words, scalars),
                                        "goal": st.sampled_from(["maximize", "minimize", "max", 1]),
                                        "target": numbers, "junk": scalars}),
)
early_terminate = st.one_of(
    scalars,
    st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["hyperband", "median", "asha", 3]),
        "min_iter": st.one_of(st.integers(-2, 5), scalars), "max_iter": st.integers(-2, 50),
        "s": st.integers(-1, 4), "eta": st.one_of(numbers, scalars), "strict": st.booleans(),
        "min_reports": st.integers(-1, 4), "bogus": scalars}),
)
counts = st.one_of(st.integers(-2, 20), scalars)


@st.composite
def sweep_sections(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 19)) == 7:
        return draw(st.one_of(scalars, value_lists))
    section: dict[str, Any] = {}
    optional = {
        "method": mostly(st.sampled_from(METHODS), st.one_of(words, scalars)),
        "metric": mostly(st.sampled_from(["reward", "loss"]), metrics),
        "goal": mostly(st.sampled_from(["maximize", "minimize"]), scalars),
        "parameters": mostly(parameter_trees(), st.one_of(scalars, value_lists)),
        "seed": mostly(st.integers(0, 2**40), st.one_of(st.integers(-5, 5), scalars)),
        "cost": mostly(st.sampled_from(["cost", "runtime"]), scalars),
        "early_terminate": early_terminate,
        "rollout_count": mostly(st.integers(1, 20), counts),
        "num_samples": mostly(st.integers(1, 20), counts),
        "name": scalars, "description": scalars,
    }
    keys = draw(st.lists(st.sampled_from(sorted(optional)), max_size=6, unique=True))
    for key in ["parameters", *keys] if draw(st.integers(0, 9)) != 4 else keys:
        section[key] = draw(optional[key])
    section.update(draw(fixed_overrides()))
    if draw(st.integers(0, 9)) == 3:  # a W&B-only key or a typo among the settings
        key = draw(st.one_of(st.sampled_from(sorted(WANDB_ONLY)), words))
        section.setdefault(key, draw(st.one_of(scalars, st.dictionaries(words, scalars, max_size=2))))
    return section


# ---------------------------------------------------------------------------- hostile shapes

deep = {"a": {}}
_node = deep["a"]
for _ in range(60):  # deeper than any sweep file needs
    _node["a"] = {}
    _node = _node["a"]
hostile_values = st.one_of(
    scalars, value_lists,
    st.text(max_size=12),  # unicode, control characters, empty
    st.just("x" * 20_000),
    st.integers(min_value=10**300, max_value=10**400),
    st.sampled_from(["${oc.env:HOME}", "${oc.env:WANDB_API_KEY}", "${ss:log, 1e-4, 1e-2}", "${x}"]),
    st.recursive(st.none() | words, lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(words, inner, max_size=3), max_leaves=30),
    st.just(deep),
)
hostile_keys = st.one_of(st.text(min_size=1, max_size=8), st.integers(-3, 3), st.booleans(),
                         st.sampled_from(["größe", "a b", "a=b", "x,y", "~x", "+x", "a@b", "${x}"]))
LAUGHS = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10))
LAUGHS = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + LAUGHS


@st.composite
def mutate(draw: st.DrawFn, root: dict[str, Any]) -> dict[str, Any]:
    """One hostile change at a random place of the tree: a value replaced by an odd shape,
    a key renamed, or a node shared with another place (dumped as a YAML alias)."""
    node: Any = root
    while isinstance(node, dict) and node and draw(st.integers(0, 3)) != 0:
        key = draw(st.sampled_from(sorted(node, key=str)))
        if not isinstance(node[key], dict) or not node[key]:
            break
        node = node[key]
    if not isinstance(node, dict):
        return root
    keys = sorted(node, key=str)
    key = draw(st.sampled_from(keys)) if keys else "parameters"
    action = draw(st.sampled_from(["value", "value", "rename", "share", "parameters"]))
    if action == "rename" and key in node:
        node[draw(hostile_keys)] = node.pop(key)
    elif action == "share" and key in node:
        node[f"{key}_copy"] = node[key]  # one object at two places: `&id001` and `*id001`
    elif action == "parameters":
        node[key] = {"parameters": draw(hostile_values)}
    else:
        node[key] = draw(hostile_values)
    return root


@st.composite
def sweep_files(draw: st.DrawFn) -> str:
    """The text of a sweep file: usually YAML of a generated tree, sometimes broken text."""
    root: dict[str, Any] = {}
    if draw(st.integers(0, 9)) != 4:
        root["sweep"] = draw(sweep_sections())
    for key in draw(st.lists(st.sampled_from(["rollout_count", "num_samples"]), unique=True)):
        root[key] = draw(mostly(st.integers(1, 20), counts))
    if draw(st.integers(0, 9)) == 3:  # misplaced root keys: W&B files, CARBS trees, typos
        stray = st.sampled_from([*SETTINGS, *WANDB_ONLY, "trainer", "env", "defaults", "sweeps"])
        root[draw(stray)] = draw(st.one_of(scalars, parameter_trees()))
    if draw(st.integers(0, 2)) == 0:
        root = draw(mutate(root))
    shape = draw(st.integers(0, 29))
    if shape == 1:  # not a mapping at all
        body = yaml.safe_dump(draw(st.one_of(scalars, value_lists)))
    else:
        body = dump(root)
    if shape == 2:  # broken YAML: a cut, a tab indent or a stray quote somewhere
        cut = draw(st.integers(0, len(body)))
        junk = draw(st.sampled_from(["\t", "'", '"', ": :", "{", "]", "\n  -", "%", "&a *b", "!!x"]))
        body = body[:cut] + junk + body[cut:]
    if shape == 3:
        body = draw(st.text(max_size=80))
    if shape == 4:  # a billion laughs (497 bytes once hung `validate`), beside a real sweep
        body = LAUGHS + body
    if shape == 5:  # thousands of brackets: the YAML composer's recursion
        body = "sweep: " + "[" * 3000 + "]" * 3000 + "\n"
    header = "# @package _global_\n" if draw(st.booleans()) else ""
    return header + body


def dump(root: Any) -> str:
    try:
        return yaml.safe_dump(root, sort_keys=False, allow_unicode=True)
    except yaml.representer.RepresenterError:
        return yaml.safe_dump(str(root))


# ---------------------------------------------------------------------------- the property


def check_outcome(path: Path, overrides: dict[str, Any] | None = None) -> str:
    """'accepted' or 'refused'; any other outcome fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = load_spec(path, config=CONFIG, overrides=overrides)
    except SweepError as err:
        assert err.message, f"a SweepError without a message: {err!r}"
        if not err.key:
            assert err.file and err.message.startswith(FILE_LEVEL), (
                f"a SweepError that names no key: {err}")
        return "refused"
    assert isinstance(spec, SweepSpec)
    assert spec.rollout_count >= 1 and spec.num_samples >= 1
    assert spec.method in METHODS and spec.goal in ("maximize", "minimize")
    for name, param in spec.parameters.items():
        assert name in PATHS, name
        assert OverridesParser.create().parse_override(f"{name}=0").key_or_group == name
        sample = param.distribution.sample(np.random.default_rng(0))
        assert not (isinstance(sample, float) and math.isnan(sample)), (name, sample)
    return "accepted"


def sweeper_overrides(path: Path) -> dict[str, Any] | None:
    """What the sweeper passes as `overrides`: the file's own keys, as Hydra composed them."""
    try:
        check_yaml_limits(path)  # Hydra itself would expand a billion laughs: never composed
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception:  # Hydra could not compose such a file; the sweeper never sees it
        return None
    if not isinstance(raw, dict):
        return None
    return {k: raw[k] for k in ("sweep", "rollout_count", "num_samples") if k in raw}


# Inputs that once crashed load_spec, kept as explicit examples.
CRASHERS = [
    # OverflowError in Categorical._check_probabilities: math.fsum overflows
    "sweep:\n  parameters:\n    trainer.optimizer:\n"
    "      {values: [adam, sgd], probabilities: [1.0e+308, 1.0e+308]}\n",
    # AttributeError in _flatten_params: a nested `parameters:` holding a scalar (issue 13)
    "# @package _global_\nsweep:\n  parameters:\n    trainer:\n      parameters: 0.05\n",
    "sweep:\n  parameters:\n    trainer:\n      parameters: [1, 2]\n",
    # hung validate for 300 s: alias expansion (issue 13)
    LAUGHS + "sweep: {parameters: {trainer.learning_rate: {values: [1, 2]}}}\n",
    # an interpolated categorical value, resolved into every run's config.yaml (issue 13)
    "sweep:\n  parameters:\n    trainer.optimizer: {values: ['${oc.env:HOME}']}\n",
]


@pytest.fixture(scope="module")
def sweep_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.yaml"


OUTCOMES: dict[str, int] = {"accepted": 0, "refused": 0}
# The outcome check reads OUTCOMES: both tests run in one process, also under pytest-xdist.
pytestmark = pytest.mark.xdist_group("fuzz")


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(text=sweep_files())
@example(text=CRASHERS[0])
@example(text=CRASHERS[1])
@example(text=CRASHERS[2])
@example(text=CRASHERS[3])
@example(text=CRASHERS[4])
def test_load_spec_accepts_or_refuses_with_a_key_path(sweep_path: Path, text: str) -> None:
    sweep_path.write_text(text, encoding="utf-8")
    OUTCOMES[check_outcome(sweep_path)] += 1
    overrides = sweeper_overrides(sweep_path)
    if overrides is not None:
        check_outcome(sweep_path, overrides)


def test_the_fuzzer_reached_both_outcomes() -> None:
    """Both branches of the property ran (the generator is not stuck on refusals)."""
    if sum(OUTCOMES.values()) < EXAMPLES:
        pytest.skip("runs after the fuzz test in the same session")
    assert OUTCOMES["accepted"] >= 20 and OUTCOMES["refused"] >= 200, OUTCOMES
