"""Legacy CARBS markers: grammar, centres, the `ss` resolver, near-misses and no `eval`."""

from __future__ import annotations

import ast
import math
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from nested_sweeper.errors import SweepError
from nested_sweeper.spec import carbs as _carbs
from nested_sweeper.spec.carbs import (
    KINDS,
    CarbsMarker,
    find_markers,
    normalize_angle_markers,
    parse_marker,
    register_resolver,
)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


EPS = 1e-6
# text -> (kind, distribution, sweep bounds, expected centre). Centres follow the documented
# rule for each kind, computed here independently of the module.
MARKERS: list[tuple[str, str, str, tuple[float, float], float]] = [
    ("${ss:log, 1e-5, 1e-1}", "log", "log_normal", (1e-5, 1e-1), math.sqrt(1e-5 * 1e-1)),
    ("${ss:linear, 0.0, 6.0}", "linear", "uniform", (0.0, 6.0), 3.0),
    ("${ss:pow2, 131072, 524288, 131072}", "pow2", "uniform_pow2", (131072, 524288), 131072),
    # geometric mean 2**6.5 = 90.5: 64 is nearer than 128
    ("${ss:pow2, 32, 256}", "pow2", "uniform_pow2", (32, 256), 64),
    ("${ss:int, 1, 16}", "int", "int_uniform", (1, 16), 9),  # 8.5 rounded half up
    ("${ss:int, 2, 9, 3}", "int", "int_uniform", (2, 9), 3),
    ("${ss:logit, 0.0, 1.0}", "logit", "logit_normal", (EPS, 1 - EPS), 0.5),
    (
        "${ss:logit, 0.9, 0.999}",
        "logit",
        "logit_normal",
        (0.9, 0.999),
        _sigmoid((_logit(0.9) + _logit(0.999)) / 2),
    ),
    ("$<ss:log, 1e-4, 1e-2>", "log", "log_normal", (1e-4, 1e-2), 1e-3),
    ("$<ss:linear, -1, 1, 0.25>", "linear", "uniform", (-1.0, 1.0), 0.25),
    ("  ${ ss : linear , 2 , 4 }  ", "linear", "uniform", (2.0, 4.0), 3.0),
    ("${ss:'log', 1e-3, 1e-1}", "log", "log_normal", (1e-3, 1e-1), 1e-2),
]


@pytest.mark.parametrize(("text", "kind", "dist", "bounds", "centre"), MARKERS)
def test_marker_to_parameter(
    text: str, kind: str, dist: str, bounds: tuple[float, float], centre: float
) -> None:
    marker = parse_marker(text)
    assert marker is not None and marker.kind == kind
    param = marker.to_param()
    assert param["distribution"] == dist == KINDS[kind]
    assert (param["min"], param["max"]) == pytest.approx(bounds, rel=1e-12)
    assert param["mean"] == pytest.approx(centre, rel=1e-9)
    assert param["scale"] == 0.5
    assert marker.resolved_center() == param["mean"]
    assert param["min"] <= param["mean"] <= param["max"]
    # integer kinds give integers, so a plain run's config keeps int fields int
    if kind in ("int", "pow2"):
        assert all(type(param[k]) is int for k in ("min", "max", "mean"))
    else:
        assert all(type(param[k]) is float for k in ("min", "max", "mean"))


@pytest.mark.parametrize(("text", "kind", "dist", "bounds", "centre"), MARKERS)
def test_parameter_parses_as_its_distribution(
    text: str, kind: str, dist: str, bounds: tuple[float, float], centre: float
) -> None:
    from nested_sweeper.space import parse_distribution

    param = parse_marker(text).to_param()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # clamped logit bounds must not warn again
        d = parse_distribution(param, key="trainer.x", file="legacy.yaml")
    assert d.kind == dist
    assert (d.low, d.high) == pytest.approx(bounds, rel=1e-12)
    assert d.center == pytest.approx(centre, rel=1e-9)
    assert d.scale == param["scale"]
    assert d.contains(d.center)


def test_logit_zero_one_stays_finite() -> None:
    marker = parse_marker("${ss:logit, 0.0, 1.0}")
    assert marker.clamped
    lo, hi = marker.bounds()
    assert 0.0 < lo < hi < 1.0
    assert all(math.isfinite(_logit(x)) for x in (lo, hi, marker.resolved_center()))
    assert not parse_marker("${ss:logit, 0.1, 0.9}").clamped


def test_resolver_gives_the_centre_in_a_plain_run() -> None:
    register_resolver()
    register_resolver()  # idempotent
    cfg = OmegaConf.create(
        {
            "trainer": {
                "learning_rate": "${ss:log, 1e-5, 1e-1}",
                "clip_coef": "${ss:linear, 0.0, 6.0}",
                "batch_size": "${ss:pow2, 131072, 524288, 131072}",
                "update_epochs": "${ss:int, 1, 16}",
                "gae_lambda": "${ss:logit, 0.0, 1.0}",
            },
            "env": normalize_angle_markers({"num_envs": "$<ss:pow2, 8, 64>"}),
        }
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    expected = {
        path: marker.resolved_center()
        for path, marker in find_markers(OmegaConf.to_container(cfg, resolve=False)).items()
    }
    assert len(expected) == 6
    for path, value in expected.items():
        group, key = path.split(".")
        assert resolved[group][key] == value
    assert resolved["trainer"]["learning_rate"] == pytest.approx(1e-3)
    assert resolved["trainer"]["batch_size"] == 131072
    assert resolved["trainer"]["gae_lambda"] == pytest.approx(0.5)
    assert resolved["env"]["num_envs"] == 16  # 2**3..2**6: geometric mean 22.6 -> 16


def test_resolver_refuses_bad_markers_with_the_kinds() -> None:
    register_resolver()
    cfg = OmegaConf.create({"a": "${ss:exp, 1, 2}", "b": "${ss:log, 0.1, 0.001}"})
    with pytest.raises(Exception, match="log, linear, pow2, int, logit"):
        _ = cfg.a
    with pytest.raises(Exception, match=r"swap them: \$\{ss:log, 0\.001, 0\.1\}"):
        _ = cfg.b


# text -> text the error must show (the corrected marker, or the valid kinds)
NEAR_MISSES = [
    ("$pow2(1024, 32768)", "${ss:pow2, 1024, 32768}"),
    ("${ss:log 1e-5 1e-2}", "${ss:log, 1e-5, 1e-2}"),
    ("${ss:exp, 1, 2}", "log, linear, pow2, int, logit"),
    ("${ss:lgo, 1e-5, 1e-1}", "${ss:log, 1e-05, 0.1}"),
    ("${log:1e-5, 1e-1}", "${ss:log, 1e-5, 1e-1}"),
    ("$(ss:linear, 0, 1)", "${ss:linear, 0, 1}"),
    ("$ss:int, 1, 8", "${ss:int, 1, 8}"),
    ("$<ss:log, 0.1, 1e-5>", "swap them: ${ss:log, 1e-05, 0.1}"),
    ("${ss:int, 1.5, 8}", "${ss:int, 2, 8}"),
    ("lr=${ss:log, 1e-5, 1e-1}", "write the value as just ${ss:log, 1e-5, 1e-1}"),
    ("${ss:log, 1e-5}", "${ss:KIND, MIN, MAX[, CENTER]}"),
    ("${ss:log, 1e-5, 1e-1, 1e-2, 5}", "${ss:KIND, MIN, MAX[, CENTER]}"),
    ("${ss:pow2, 100, 120}", "no power of two"),
    ("${ss:pow2, 32, 256, 100}", "use 128"),
    ("${ss:log, 0, 1}", "use linear"),
    ("${ss:logit, 0.5, 2}", "logit bounds must lie in [0, 1]"),
    ("${ss:linear, 0, 1, 3}", "outside [0, 1]"),
]


@pytest.mark.parametrize(("text", "shown"), NEAR_MISSES)
def test_near_misses_show_the_fix(text: str, shown: str) -> None:
    with pytest.raises(SweepError) as info:
        parse_marker(text, key="trainer.learning_rate", file="old.yaml")
    message = str(info.value)
    assert shown in message
    assert message.startswith("old.yaml: trainer.learning_rate: ")
    assert "\n" not in message


@pytest.mark.parametrize(
    "text",
    [
        "${trainer.lr}",
        "${oc.env:HOME,/tmp}",
        "$HOME",
        "costs $5",
        "${log_dir}/x",
        "ss:log, 1, 2",
        "",
        "plain",
        "${ss}",
        "${ss.x}",
        "${logit_scale}",
    ],
)
def test_ordinary_values_are_not_markers(text: str) -> None:
    assert parse_marker(text) is None


@pytest.mark.parametrize("value", [None, 3, 1.5, True, ["${ss:log, 1, 2}"], {"a": 1}])
def test_non_strings_are_not_markers(value: Any) -> None:
    assert parse_marker(value) is None


def test_markers_are_parsed_never_evaluated(tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    payload = f"__import__('os').system('touch {witness}')"
    with pytest.raises(SweepError, match="must be plain numbers"):
        parse_marker(f"${{ss:log, {payload}, 1}}")
    with pytest.raises(SweepError):
        parse_marker(f"${{ss:{payload}, 1, 2}}")
    register_resolver()
    with pytest.raises(Exception):  # noqa: B017 - OmegaConf's grammar refuses the bare call
        _ = OmegaConf.create({"x": f"${{ss:log, 1e-5, {payload}}}"}).x
    # Quoted, it reaches the resolver as a string, which takes numbers only.
    quoted = OmegaConf.create({"x": f'${{ss:log, 1e-5, "{payload}"}}'})
    with pytest.raises(Exception, match="must be numbers"):
        _ = quoted.x
    assert not witness.exists()


def test_module_has_no_eval() -> None:
    tree = ast.parse(Path(_carbs.__file__).read_text())
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_find_markers_walks_nested_containers() -> None:
    tree = {
        "trainer": {"learning_rate": "${ss:log, 1e-5, 1e-1}", "gamma": 0.99, "name": "${run}"},
        "env": {"game": {"max_steps": "$<ss:int, 16, 64>"}},
        "schedule": [1, "${ss:linear, 0, 1}"],
    }
    found = find_markers(tree, file="cfg.yaml")
    assert set(found) == {"trainer.learning_rate", "env.game.max_steps", "schedule.1"}
    assert found["env.game.max_steps"] == CarbsMarker("int", 16, 64, None)
    assert set(find_markers(tree["env"], "env")) == {"env.game.max_steps"}


def test_find_markers_names_the_path_of_a_near_miss() -> None:
    tree = {"trainer": {"batch_size": "$pow2(1024, 32768)"}}
    with pytest.raises(
        SweepError, match=r"^cfg\.yaml: trainer\.batch_size: .*\$\{ss:pow2, 1024, 32768\}"
    ):
        find_markers(tree, file="cfg.yaml")


def test_normalize_angle_markers_returns_a_copy() -> None:
    tree = {
        "a": {"b": "$<ss:log, 1e-5, 1e-1>", "c": ["$<ss:int, 1, 4>", "x"]},
        "d": "${ss:int, 1, 2}",
    }
    out = normalize_angle_markers(tree)
    assert out == {
        "a": {"b": "${ss:log, 1e-5, 1e-1}", "c": ["${ss:int, 1, 4}", "x"]},
        "d": "${ss:int, 1, 2}",
    }
    assert tree["a"]["b"] == "$<ss:log, 1e-5, 1e-1>"  # input untouched
    assert parse_marker(out["a"]["b"]) == parse_marker(tree["a"]["b"])


def test_spelling_round_trips() -> None:
    for text, *_ in MARKERS:
        marker = parse_marker(text)
        assert parse_marker(marker.spelling()) == marker


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["log", "linear", "logit"]),
    a=st.floats(1e-6, 0.999, allow_nan=False),
    b=st.floats(1e-6, 0.999, allow_nan=False),
)
def test_default_centre_lies_inside_the_bounds(kind: str, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    if hi - lo < 1e-9:
        return
    marker = CarbsMarker(kind, lo, hi)
    blo, bhi = marker.bounds()
    assert blo <= marker.resolved_center() <= bhi


@settings(max_examples=40, deadline=None)
@given(lo=st.integers(0, 20), span=st.integers(1, 10))
def test_pow2_centre_is_a_power_of_two_inside(lo: int, span: int) -> None:
    marker = CarbsMarker("pow2", 2**lo, 2 ** (lo + span))
    centre = marker.resolved_center()
    assert isinstance(centre, int) and centre & (centre - 1) == 0
    assert 2**lo <= centre <= 2 ** (lo + span)


# --- issue 14: categorical markers and logit centres ------------------------------------------


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("${ss:choice, adam, muon}", ["adam", "muon"]),
        ("${ss:categorical, 16, 32, 64}", [16, 32, 64]),
        ("$<ss:choice, true, false>", [True, False]),
        ("${ss:choice, 'sgd momentum', 0.5, relu}", ["sgd momentum", 0.5, "relu"]),
    ],
)
def test_choice_markers_become_values(text: str, values: list[Any]) -> None:
    marker = parse_marker(text)
    assert marker.to_param() == {"values": values}
    assert marker.resolved_center() == values[0]


@pytest.mark.parametrize(
    "text", ["${ss:choice}", "${ss:choice, a, a}", "${ss:choice, os.system(1), b}"]
)
def test_bad_choice_markers_are_refused(text: str) -> None:
    with pytest.raises(SweepError):
        parse_marker(text)


def test_the_resolver_gives_a_choice_its_first_value() -> None:
    register_resolver()
    cfg = OmegaConf.create({"opt": "${ss:choice, adam, sgd}", "n": "${ss:choice, 4, 8}"})
    assert (cfg.opt, cfg.n) == ("adam", 4)


@pytest.mark.parametrize(
    ("lo", "hi", "centre"),
    [(0.05, 1.0, 0.525), (0.0, 0.3, 0.15), (0.0, 1.0, 0.5), (0.2, 1.0, 0.6)],
)
def test_a_logit_range_on_zero_or_one_is_centred_between_its_stated_bounds(
    lo: float, hi: float, centre: float
) -> None:
    marker = parse_marker(f"${{ss:logit, {lo}, {hi}}}")
    assert marker.clamped
    assert math.isclose(marker.resolved_center(), centre, rel_tol=1e-9)
    lo_c, hi_c = marker.bounds()
    assert lo_c == max(lo, EPS) and hi_c == min(hi, 1 - EPS)  # only the bound on 0/1 moves
