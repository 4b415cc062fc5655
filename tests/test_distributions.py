"""Tests of the sweep-parameter distributions: parsing, priors, unit maps, grids, errors, Optuna."""

from __future__ import annotations

import doctest
import json
import math
import pickle
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from scipy import stats

from nested_sweeper.errors import SweepError, SweepWarning
from nested_sweeper.schema import LOGIT_EPS
from nested_sweeper.space import (
    DISTRIBUTION_NAMES,
    TAIL,
    Beta,
    Categorical,
    Constant,
    Distribution,
    IntUniform,
    InvLogUniform,
    InvLogUniformValues,
    LogitNormal,
    LogUniform,
    LogUniformValues,
    Normal,
    ProteinLogNormal,
    QBeta,
    QLogNormal,
    QLogUniform,
    QLogUniformValues,
    QNormal,
    QUniform,
    Uniform,
    UniformPow2,
    WandbLogNormal,
    parse_distribution,
)

N_DRAWS = 3000
P_MIN = 0.001
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# One representative of every kind (and of the Protein prior with and without mean).
EXAMPLES: dict[str, dict[str, Any]] = {
    "constant": {"value": 3},
    "categorical": {"values": ["adam", "sgd", "rmsprop"]},
    "categorical_p": {"values": [16, 32, 64], "probabilities": [0.2, 0.3, 0.5]},
    "int_uniform": {"min": -2, "max": 7},
    "int_uniform_mean": {
        "distribution": "int_uniform",
        "min": 1,
        "max": 9,
        "mean": 3,
        "scale": 0.4,
    },
    "uniform": {"min": -1.0, "max": 3.0},
    "uniform_mean": {"min": 0.0, "max": 1.0, "mean": 0.2, "scale": 0.3},
    "q_uniform": {"distribution": "q_uniform", "min": 0.0, "max": 2.0, "q": 0.25},
    "q_uniform_int": {"distribution": "q_uniform", "min": 0.3, "max": 9.6},
    "log_uniform": {"distribution": "log_uniform", "min": -9.2, "max": -2.3},
    "log_uniform_values": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    "q_log_uniform": {"distribution": "q_log_uniform", "min": 0.0, "max": 5.0, "q": 2},
    "q_log_uniform_values": {"distribution": "q_log_uniform_values", "min": 1, "max": 500, "q": 5},
    "inv_log_uniform": {"distribution": "inv_log_uniform", "min": 1.0, "max": 6.0},
    "inv_log_uniform_values": {"distribution": "inv_log_uniform_values", "min": 0.01, "max": 2.0},
    "normal": {"mu": 1.5, "sigma": 0.5},
    "q_normal": {"distribution": "q_normal", "mu": 0.0, "sigma": 2.0, "q": 0.5},
    "log_normal_wandb": {"distribution": "log_normal", "mu": -2.0, "sigma": 0.7},
    "q_log_normal": {"distribution": "q_log_normal", "mu": 2.0, "sigma": 0.5, "q": 1},
    "beta": {"distribution": "beta", "a": 2.0, "b": 5.0},
    "q_beta": {"distribution": "q_beta", "a": 0.5, "b": 0.5, "q": 0.1},
    "log_normal_protein": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1},
    "log_normal_protein_mean": {
        "distribution": "log_normal",
        "min": 1e-4,
        "max": 1e-2,
        "mean": 3e-3,
        "scale": 0.5,
    },
    "logit_normal": {"distribution": "logit_normal", "min": 0.8, "max": 0.9999},
    "logit_normal_mean": {"distribution": "logit_normal", "min": 0.5, "max": 0.999, "mean": 0.95},
    "uniform_pow2": {"distribution": "uniform_pow2", "min": 4, "max": 512},
    "uniform_pow2_mean": {
        "distribution": "uniform_pow2",
        "min": 8,
        "max": 1024,
        "mean": 64,
        "scale": 0.3,
    },
}
DISTS: dict[str, Distribution] = {name: parse_distribution(cfg) for name, cfg in EXAMPLES.items()}
ORDERED = [n for n, d in DISTS.items() if not d.is_categorical and not isinstance(d, Constant)]


def _legal(d: Distribution, v: Any) -> None:
    """Every property a legal value must have, checked independently of ``contains``."""
    assert d.contains(v), (d, v)
    if d.is_categorical or isinstance(d, Constant):
        return
    assert isinstance(v, (int, float)) and not isinstance(v, bool)
    assert math.isfinite(v)
    assert d.low <= v <= d.high  # type: ignore[attr-defined]
    if d.is_int:
        assert isinstance(v, int), (d, v)
    if isinstance(d, UniformPow2):
        assert v & (v - 1) == 0
    q = getattr(d, "q", None)
    if q is not None:
        assert abs(v / q - round(v / q)) < 1e-9 * max(1.0, abs(v / q))


# --- parsing: config -> class and fields ---------------------------------------------------------

PARSE_TABLE: list[tuple[dict[str, Any], type, dict[str, Any]]] = [
    ({"value": "relu"}, Constant, {"value": "relu"}),
    ({"value": [1, 2]}, Constant, {"value": [1, 2]}),
    ({"values": [1, "a"]}, Categorical, {"values": (1, "a"), "probabilities": None}),
    (
        {"values": [1, 2], "probabilities": [0.25, 0.75]},
        Categorical,
        {"probabilities": (0.25, 0.75)},
    ),
    ({"min": 1, "max": 10}, IntUniform, {"min": 1, "max": 10, "mean": None, "scale": 0.5}),
    ({"min": 1, "max": 10.0}, Uniform, {"min": 1.0, "max": 10.0}),
    ({"min": 0.0, "max": 1.0}, Uniform, {"min": 0.0, "max": 1.0}),
    ({"min": "1e-3", "max": "1e-1"}, Uniform, {"min": 1e-3, "max": 1e-1}),
    ({"distribution": "uniform", "min": 0, "max": 2}, Uniform, {"min": 0.0, "max": 2.0}),
    ({"mu": 2.0, "sigma": 3.0}, Normal, {"mu": 2.0, "sigma": 3.0}),
    ({"sigma": 3}, Normal, {"mu": 0.0, "sigma": 3.0}),
    ({"distribution": "normal"}, Normal, {"mu": 0.0, "sigma": 1.0}),
    ({"distribution": "log_normal", "mu": 1.0}, WandbLogNormal, {"mu": 1.0, "sigma": 1.0}),
    (
        {"distribution": "log_normal", "min": 1e-4, "max": 1e-2, "mean": 1e-3, "scale": 1},
        ProteinLogNormal,
        {"min": 1e-4, "max": 1e-2, "mean": 1e-3, "scale": 1.0},
    ),
    ({"distribution": "log_normal", "min": 1, "max": 8}, ProteinLogNormal, {"mean": None}),
    ({"distribution": "q_uniform", "min": 0, "max": 4}, QUniform, {"q": 1.0}),
    ({"distribution": "q_normal", "q": "0.5"}, QNormal, {"mu": 0.0, "sigma": 1.0, "q": 0.5}),
    ({"distribution": "q_log_normal", "mu": 1}, QLogNormal, {"mu": 1.0, "q": 1.0}),
    ({"distribution": "beta"}, Beta, {"a": 1.0, "b": 1.0}),
    ({"distribution": "q_beta", "q": 0.2}, QBeta, {"a": 1.0, "b": 1.0, "q": 0.2}),
    ({"distribution": "log_uniform", "min": -5, "max": 0}, LogUniform, {"min": -5.0}),
    ({"distribution": "log_uniform_values", "min": 1, "max": 9}, LogUniformValues, {"max": 9.0}),
    ({"distribution": "q_log_uniform", "min": 0, "max": 3}, QLogUniform, {"q": 1.0}),
    (
        {"distribution": "q_log_uniform_values", "min": 2, "max": 64, "q": 2},
        QLogUniformValues,
        {"q": 2.0},
    ),
    ({"distribution": "inv_log_uniform", "min": 0, "max": 3}, InvLogUniform, {"max": 3.0}),
    (
        {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 1},
        InvLogUniformValues,
        {"min": 0.1},
    ),
    (
        {"distribution": "uniform_pow2", "min": 32, "max": 256, "mean": 64, "scale": 1},
        UniformPow2,
        {"min": 32, "max": 256, "mean": 64.0, "scale": 1.0},
    ),
    (
        {"distribution": "logit_normal", "min": 0.9, "max": 0.999, "mean": 0.99},
        LogitNormal,
        {"min": 0.9, "max": 0.999, "mean": 0.99},
    ),
    (
        {"distribution": "int_uniform", "min": 1.0, "max": "8", "mean": 2, "grid_points": 3},
        IntUniform,
        {"min": 1, "max": 8, "mean": 2.0, "grid_points": 3},
    ),
]


@pytest.mark.parametrize(("cfg", "cls", "expected"), PARSE_TABLE)
def test_parse_table(cfg: dict[str, Any], cls: type, expected: dict[str, Any]) -> None:
    d = parse_distribution(cfg, key="p")
    assert type(d) is cls
    for name, value in expected.items():
        got = getattr(d, name)
        assert got == value and type(got) is type(value), (name, got, value)


def test_module_docstring_example() -> None:
    import nested_sweeper.space as module

    result = doctest.testmod(module)
    assert result.attempted >= 3 and result.failed == 0


def test_every_name_is_parsed_by_an_example() -> None:
    assert {d.kind for d in DISTS.values()} == set(DISTRIBUTION_NAMES)


def test_parse_accepts_omegaconf_and_direct_construction_agrees() -> None:
    cfg = OmegaConf.create({"values": [[1, 2], [3]], "probabilities": [0.5, 0.5]})
    d = parse_distribution(cfg)
    assert d == Categorical(values=([1, 2], [3]), probabilities=(0.5, 0.5))
    assert d.from_unit(0.1) == [1, 2] and isinstance(d.from_unit(0.1), list)
    assert hash(d) == hash(parse_distribution(d.to_config()))  # list values still hash
    d.from_unit(0.1).append(9)  # callers get copies
    assert d.from_unit(0.1) == [1, 2]
    assert parse_distribution(OmegaConf.create({"min": 1e-4, "max": 1e-2})) == Uniform(1e-4, 1e-2)
    assert parse_distribution({"distribution": "uniform_pow2", "min": 2, "max": 8}) == (
        UniformPow2(min=2, max=8)
    )


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_config_round_trip_and_value_semantics(name: str) -> None:
    d = DISTS[name]
    cfg = d.to_config()
    assert cfg["distribution"] == d.kind
    again = parse_distribution(json.loads(json.dumps(cfg)))
    assert again == d and hash(again) == hash(d)
    assert pickle.loads(pickle.dumps(d)) == d
    assert len({d, again}) == 1
    desc = d.describe()
    assert set(desc) == {"distribution", "range", "center", "scale"}
    assert all(isinstance(v, str) and v for v in desc.values())


def test_distributions_differ_by_value() -> None:
    assert Uniform(0, 1) != Uniform(0, 2)
    assert LogUniformValues(1, 2) != InvLogUniformValues(1, 2)
    assert Categorical(values=(1, 2)) != Categorical(values=(1, 2), probabilities=(0.5, 0.5))
    with pytest.raises(AttributeError):
        Uniform(0, 1).min = 3  # type: ignore[misc]


# --- priors: KS (continuous) and chi-square (discrete) -------------------------------------------


def _draws(d: Distribution, seed: int = 0, n: int = N_DRAWS) -> list[Any]:
    rng = np.random.default_rng(seed)
    out = [d.sample(rng) for _ in range(n)]
    for v in out[:200]:
        _legal(d, v)
    return out


def _truncnorm_z(lo: float, hi: float, mean: float, scale: float) -> Any:
    s = scale * (hi - lo) / 2
    return stats.truncnorm((lo - mean) / s, (hi - mean) / s, loc=mean, scale=s)


def _logit(x: np.ndarray) -> np.ndarray:
    return np.log(x) - np.log1p(-x)


# name -> (transform of the draws, scipy reference for the transformed draws)
CONTINUOUS_REFS: dict[str, tuple[Any, Any]] = {
    "uniform": (None, stats.uniform(-1.0, 4.0)),
    "uniform_mean": (None, _truncnorm_z(0.0, 1.0, 0.2, 0.3)),
    "log_uniform": (None, stats.loguniform(math.exp(-9.2), math.exp(-2.3))),
    "log_uniform_values": (None, stats.loguniform(1e-4, 1e-1)),
    "inv_log_uniform": (None, stats.loguniform(math.exp(-6.0), math.exp(-1.0))),
    "inv_log_uniform_values": (None, stats.loguniform(0.01, 2.0)),
    "normal": (None, stats.norm(1.5, 0.5)),
    "log_normal_wandb": (None, stats.lognorm(s=0.7, scale=math.exp(-2.0))),
    "beta": (None, stats.beta(2.0, 5.0)),
    "log_normal_protein": (None, stats.loguniform(1e-5, 1e-1)),
    "log_normal_protein_mean": (
        np.log,
        _truncnorm_z(math.log(1e-4), math.log(1e-2), math.log(3e-3), 0.5),
    ),
    "logit_normal": (_logit, stats.uniform(_logit(0.8), _logit(0.9999) - _logit(0.8))),
    "logit_normal_mean": (_logit, _truncnorm_z(_logit(0.5), _logit(0.999), _logit(0.95), 0.5)),
}


@pytest.mark.parametrize("name", list(CONTINUOUS_REFS))
def test_continuous_prior_ks(name: str) -> None:
    transform, ref = CONTINUOUS_REFS[name]
    x = np.asarray(_draws(DISTS[name], seed=1), dtype=float)
    if transform is not None:
        x = transform(x)
    assert stats.kstest(x, ref.cdf).pvalue > P_MIN


def _lattice_probs(d: Distribution) -> dict[Any, float]:
    """Equal cells, the given probabilities, or Protein's truncated normal over cells in z."""
    vals = d.grid_values()
    assert vals is not None
    if isinstance(d, Categorical):
        p = d.probabilities or [1 / len(vals)] * len(vals)
        return dict(zip(vals, p))
    if d.mean is None:  # type: ignore[attr-defined]
        return {v: 1 / len(vals) for v in vals}
    zs = [math.log2(v) if isinstance(d, UniformPow2) else float(v) for v in vals]
    zmean = math.log2(d.mean) if isinstance(d, UniformPow2) else d.mean  # type: ignore[attr-defined]
    ref = _truncnorm_z(zs[0] - 0.5, zs[-1] + 0.5, zmean, d.scale)
    return {v: ref.cdf(e + 0.5) - ref.cdf(e - 0.5) for v, e in zip(vals, zs)}


def _quantized_probs(name: str) -> dict[Any, float]:
    """Probability of each value k*q: the reference mass of its rounding cell (W&B's rule)."""
    d = DISTS[name]
    q = float(EXAMPLES[name].get("q", 1.0))
    values = d.grid_values() or [k * q for k in range(round(d.low / q), round(d.high / q) + 1)]  # type: ignore[attr-defined]
    ref = {
        "q_uniform": stats.uniform(0.0, 2.0),
        "q_uniform_int": stats.uniform(0.3, 9.3),
        "q_log_uniform": stats.loguniform(1.0, math.exp(5.0)),
        "q_log_uniform_values": stats.loguniform(1, 500),
        "q_normal": stats.norm(0.0, 2.0),
        "q_log_normal": stats.lognorm(s=0.5, scale=math.exp(2.0)),
        "q_beta": stats.beta(0.5, 0.5),
    }[name]
    return {v: ref.cdf(v + q / 2) - ref.cdf(v - q / 2) for v in values}


def _chi_square(draws: list[Any], probs: dict[Any, float]) -> float:
    """p-value, merging neighbouring cells until each expects at least 5 draws."""
    counts = dict.fromkeys(probs, 0)
    for v in draws:
        assert v in counts, f"drew {v!r}, which has no probability"
        counts[v] += 1
    n = len(draws)
    obs, exp, acc_o, acc_e = [], [], 0.0, 0.0
    for v, p in probs.items():
        acc_o, acc_e = acc_o + counts[v], acc_e + p * n
        if acc_e >= 5:
            obs.append(acc_o)
            exp.append(acc_e)
            acc_o = acc_e = 0.0
    obs[-1] += acc_o
    exp[-1] += acc_e
    exp_arr = np.array(exp) * (n / sum(exp))  # the cut tails hold ~1e-12 of the mass
    return float(stats.chisquare(obs, exp_arr).pvalue)


@pytest.mark.parametrize(
    "name",
    ["categorical", "categorical_p", "int_uniform", "int_uniform_mean", "uniform_pow2"]
    + ["uniform_pow2_mean"],
)
def test_discrete_prior_chi_square(name: str) -> None:
    d = DISTS[name]
    assert _chi_square(_draws(d, seed=2), _lattice_probs(d)) > P_MIN


@pytest.mark.parametrize(
    "name",
    ["q_uniform", "q_uniform_int", "q_log_uniform", "q_log_uniform_values", "q_normal"]
    + ["q_log_normal", "q_beta"],
)
def test_quantized_prior_chi_square(name: str) -> None:
    d = DISTS[name]
    assert _chi_square(_draws(d, seed=3), _quantized_probs(name)) > P_MIN


def test_constant_samples_its_value_and_sampling_is_seeded() -> None:
    assert set(_draws(DISTS["constant"], n=20)) == {3}
    for d in DISTS.values():
        a = [d.sample(np.random.default_rng(7)) for _ in range(3)]
        b = [d.sample(np.random.default_rng(7)) for _ in range(3)]
        assert a == b


def test_zero_probability_value_is_legal_but_never_drawn() -> None:
    d = Categorical(values=("a", "b", "c"), probabilities=(0.5, 0.0, 0.5))
    assert d.contains("b")
    assert "b" not in _draws(d, n=500)
    assert {d.from_unit(0.0), d.from_unit(1.0)} == {"a", "c"}


# --- unit maps ----------------------------------------------------------------------------------

unit = st.floats(0.0, 1.0, allow_nan=False)


@FAST
@given(name=st.sampled_from(list(EXAMPLES)), u=unit)
def test_from_unit_is_always_legal(name: str, u: float) -> None:
    d = DISTS[name]
    v = d.from_unit(u)
    _legal(d, v)
    assert 0.0 <= d.to_unit(v) <= 1.0


@FAST
@given(name=st.sampled_from(list(EXAMPLES)), u=unit)
def test_legal_values_round_trip(name: str, u: float) -> None:
    d = DISTS[name]
    v = d.from_unit(u)
    back = d.from_unit(d.to_unit(v))
    if d.is_categorical or isinstance(d, Constant) or d.is_int or hasattr(d, "q"):
        assert back == v and type(back) is type(v)
    else:
        assert back == pytest.approx(v, rel=1e-6, abs=1e-12)


@FAST
@given(name=st.sampled_from(ORDERED), u1=unit, u2=unit)
def test_from_unit_is_monotonic(name: str, u1: float, u2: float) -> None:
    d = DISTS[name]
    lo, hi = sorted((u1, u2))
    assert d.from_unit(lo) <= d.from_unit(hi)
    assert d.to_unit(d.from_unit(lo)) <= d.to_unit(d.from_unit(hi))


CONTINUOUS = [n for n in ORDERED if not DISTS[n].is_int and not hasattr(DISTS[n], "q")]


@FAST
@given(name=st.sampled_from(CONTINUOUS), u=unit)
def test_continuous_to_unit_inverts_from_unit(name: str, u: float) -> None:
    d = DISTS[name]
    if d.to_unit(d.low) > 0:  # type: ignore[attr-defined]  # CDF kinds: u is cut at TAIL
        u = min(max(u, 1e-6), 1 - 1e-6)
    assert d.to_unit(d.from_unit(u)) == pytest.approx(u, abs=1e-9)


@pytest.mark.parametrize("name", ["int_uniform", "uniform_pow2", "categorical", "categorical_p"])
def test_discrete_cells_give_the_uniform_prior(name: str) -> None:
    d = DISTS[name]
    vals = d.grid_values()
    assert vals is not None
    widths = (
        d.probabilities  # type: ignore[attr-defined]
        if isinstance(d, Categorical) and d.probabilities
        else [1 / len(vals)] * len(vals)
    )
    start = 0.0
    for v, w in zip(vals, widths):
        assert d.from_unit(start + 1e-9) == v
        assert d.from_unit(start + w / 2) == v
        assert d.to_unit(v) == pytest.approx(start + w / 2)
        start += w


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_from_unit_clamps_u_and_refuses_nan(name: str) -> None:
    d = DISTS[name]
    assert d.from_unit(-0.5) == d.from_unit(0.0)
    assert d.from_unit(1.5) == d.from_unit(1.0)
    with pytest.raises(ValueError):
        d.from_unit(float("nan"))


def test_int_uniform_follows_the_documented_formula() -> None:
    d = IntUniform(3, 7)
    for u in np.linspace(0, 1, 101):
        assert d.from_unit(u) == 3 + min(math.floor(u * 5), 4)


def test_unbounded_kinds_never_give_infinities() -> None:
    for name in ["normal", "q_normal", "log_normal_wandb", "q_log_normal"]:
        for u in (0.0, 1.0):
            assert math.isfinite(DISTS[name].from_unit(u))
    for name in ["normal", "log_normal_wandb"]:
        d = DISTS[name]
        assert d.to_unit(d.from_unit(0.0)) == pytest.approx(TAIL, rel=1e-3)
        assert 1.0 - d.to_unit(d.from_unit(1.0)) == pytest.approx(TAIL, rel=1e-3)
    assert math.isfinite(DISTS["normal"].to_unit(1e300))


def test_natural_scale_middles() -> None:
    assert LogUniformValues(1e-4, 1e-2).center == pytest.approx(1e-3)
    assert LogUniform(-4, 0).center == pytest.approx(math.exp(-2))
    assert UniformPow2(min=2, max=32).center == 8
    assert Normal(mu=3.0, sigma=2.0).center == pytest.approx(3.0)
    assert WandbLogNormal(mu=1.0).center == pytest.approx(math.e)
    assert LogitNormal(min=0.1, max=0.9).center == pytest.approx(0.5)
    assert Categorical(values=("x", "y")).center == "x"
    assert DISTS["categorical_p"].center == 64
    assert UniformPow2(min=8, max=1024, mean=50).center == 64  # snapped to a legal value
    assert IntUniform(1, 9, mean=3.6).center == 4
    assert ProteinLogNormal(1e-4, 1e-2, mean=3e-3).center == 3e-3
    assert Uniform(0, 1).scale == 0.5 and Uniform(0, 1, scale=2).scale == 2.0


def test_inv_log_uniform_is_exp_of_minus_exponent() -> None:
    d = InvLogUniform(1.0, 6.0)
    assert (d.low, d.high) == pytest.approx((math.exp(-6.0), math.exp(-1.0)))
    assert d.to_unit(math.exp(-6.0)) == 0.0 and d.to_unit(math.exp(-1.0)) == 1.0


def test_quantized_values_follow_wandb_rounding() -> None:
    d = QUniform(min=0.3, max=9.6)  # round(U(0.3, 9.6)): 0 and 10 are reachable, as in W&B
    assert d.is_int and d.grid_values() == list(range(0, 11))
    assert d.from_unit(0.0) == 0 and d.from_unit(1.0) == 10
    # np.round sends 0.5 and 1.5 to 0 and 2 with probability 0: those cells are empty, not legal
    assert QUniform(min=0.5, max=2.5).grid_values() == [1, 2]
    assert QUniform(min=0.0, max=1.5).grid_values() == [0, 1]
    f = QUniform(min=0.0, max=1.0, q=0.1)
    assert f.grid_values() == [round(0.1 * k, 1) for k in range(11)]
    assert not f.contains(0.15) and f.contains(0.3)


# --- grids --------------------------------------------------------------------------------------


def test_grid_values() -> None:
    assert parse_distribution({"value": 3}).grid_values() == [3]
    assert DISTS["categorical"].grid_values() == ["adam", "sgd", "rmsprop"]
    assert DISTS["int_uniform"].grid_values() == list(range(-2, 8))
    assert DISTS["uniform_pow2"].grid_values() == [4, 8, 16, 32, 64, 128, 256, 512]
    assert DISTS["uniform"].grid_values() is None
    assert DISTS["normal"].grid_values() is None and DISTS["q_normal"].grid_size() is None
    assert Uniform(0, 1, grid_points=5).grid_values() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert LogUniformValues(1e-4, 1e-2, grid_points=3).grid_values() == [1e-4, 1e-3, 1e-2]
    assert ProteinLogNormal(1e-5, 1e-1, grid_points=5).grid_values() == [
        1e-5,
        1e-4,
        1e-3,
        1e-2,
        0.1,
    ]
    assert Normal(0.0, 1.0, grid_points=3).grid_values() == pytest.approx(
        list(stats.norm.ppf([1 / 6, 0.5, 5 / 6]))
    )
    assert IntUniform(0, 100, grid_points=3).grid_values() == [0, 50, 100]
    assert IntUniform(0, 2, grid_points=10).grid_values() == [0, 1, 2]
    assert UniformPow2(min=1, max=1024, grid_points=3).grid_values() == [1, 32, 1024]
    assert QNormal(q=1, grid_points=3).grid_values() == [-1, 0, 1]
    assert Uniform(0, 1, grid_points=1).grid_values() == [0.5]
    for d in DISTS.values():
        g = d.grid_values()
        if g is not None:
            assert d.grid_size() == len(g)
            for v in g:
                _legal(d, v)


@pytest.mark.parametrize(
    "d",
    [QUniform(min=1e6, max=1e6 + 1, q=0.01), QUniform(min=-461826.0, max=647901.0, q=0.01)]
    + [QUniform(min=0.0, max=1.0, q=1 / 3), QBeta(q=0.05), QNormal(mu=1e3, q=0.1)],
)
def test_to_optuna_contains_quantized_values_far_from_zero(d: Distribution) -> None:
    od = d.to_optuna()
    for u in np.linspace(0, 1, 257):
        v = d.from_unit(u)
        assert od._contains(od.to_internal_repr(v)), (od, v)


def test_huge_grid_is_refused_with_a_fix() -> None:
    d = IntUniform(0, 10**9)
    assert d.grid_size() == 10**9 + 1
    with pytest.raises(SweepError, match="grid_points"):
        d.grid_values()


# --- Optuna -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_to_optuna_contains_legal_values(name: str) -> None:
    d = DISTS[name]
    od = d.to_optuna()
    values = [d.center, d.from_unit(0.0), d.from_unit(1.0), *_draws(d, n=100)]
    grid = d.grid_values() if (d.grid_size() or 0) <= 1000 else None
    values += grid or []
    for v in values:
        assert od._contains(od.to_internal_repr(v)), (od, v)


# --- hypothesis over generated parameters --------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)
positive = st.floats(1e-8, 1e8, allow_nan=False)


@st.composite
def generated(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["uniform", "int_uniform", "log_uniform_values", "q_uniform", "logit_normal"]
            + ["uniform_pow2", "normal", "categorical", "log_normal", "q_normal", "q_log_normal"]
            + ["beta", "q_beta", "log_uniform", "q_log_uniform_values", "inv_log_uniform"]
        )
    )
    q = draw(st.sampled_from([0.01, 0.25, 1, 3]))
    if kind == "categorical":
        vals = draw(st.lists(st.integers(-5, 5) | st.text(max_size=3), min_size=1, max_size=5))
        vals = list(dict.fromkeys(json.dumps(v) for v in vals))
        return {"values": [json.loads(v) for v in vals]}
    if kind in ("normal", "q_normal", "q_log_normal"):
        log = kind == "q_log_normal"
        mu = draw(st.floats(-5, 5) if log else finite)
        sigma = draw(st.floats(1e-3, 2) if log else st.floats(1e-3, 1e3))
        cfg = {"distribution": kind, "mu": mu, "sigma": sigma}
        return cfg if kind == "normal" else {**cfg, "q": q}
    if kind in ("beta", "q_beta"):
        ab = {"a": draw(st.floats(0.05, 20)), "b": draw(st.floats(0.05, 20))}
        return {"distribution": kind, **ab, **({"q": min(q, 0.5)} if kind == "q_beta" else {})}
    if kind in ("log_uniform", "inv_log_uniform"):
        a, b = sorted(draw(st.lists(st.floats(-50, 50), min_size=2, max_size=2, unique=True)))
        assume(b - a > 1e-6)
        return {"distribution": kind, "min": a, "max": b}
    if kind == "int_uniform":
        a, b = sorted(draw(st.lists(st.integers(-1000, 1000), min_size=2, max_size=2)))
        return {"min": a, "max": b}
    if kind == "uniform_pow2":
        a, b = sorted(draw(st.lists(st.integers(0, 20), min_size=2, max_size=2)))
        return {"distribution": kind, "min": 2**a, "max": 2**b}
    if kind == "logit_normal":
        a, b = sorted(draw(st.lists(st.floats(0.001, 0.999), min_size=2, max_size=2, unique=True)))
        assume(b - a > 1e-9)
        return {"distribution": kind, "min": a, "max": b}
    base = (
        positive if kind in ("log_uniform_values", "log_normal", "q_log_uniform_values") else finite
    )
    a, b = sorted(draw(st.lists(base, min_size=2, max_size=2, unique=True)))
    if b - a < 1e-6 * max(abs(a), abs(b), 1.0):
        b = a + max(abs(a), 1.0)
    cfg: dict[str, Any] = {"distribution": kind, "min": a, "max": b}
    if kind in ("q_uniform", "q_log_uniform_values"):
        cfg["q"] = q
    if kind in ("uniform", "log_normal") and draw(st.booleans()):
        cfg["mean"] = draw(st.floats(a, b))
        cfg["scale"] = draw(st.floats(0.05, 2.0))
    return cfg


@FAST
@given(cfg=generated(), u=unit, seed=st.integers(0, 2**16))
def test_generated_distributions_keep_their_contract(
    cfg: dict[str, Any], u: float, seed: int
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SweepWarning)  # wide uniforms warn; not the point here
        d = parse_distribution(cfg)
        assert parse_distribution(json.loads(json.dumps(d.to_config()))) == d
    for v in (d.from_unit(u), d.sample(np.random.default_rng(seed)), d.center):
        _legal(d, v)
        t = d.to_unit(v)
        assert 0.0 <= t <= 1.0
        if d.is_categorical or d.is_int or hasattr(d, "q"):
            assert d.from_unit(t) == v
        else:
            width = d.high - d.low  # type: ignore[attr-defined]
            assert d.from_unit(t) == pytest.approx(v, rel=1e-6, abs=1e-9 * width)
    od = d.to_optuna()
    assert od._contains(od.to_internal_repr(d.from_unit(u)))


# --- errors -------------------------------------------------------------------------------------

ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"distribution": "unifrom", "min": 1, "max": 2}, "lr.distribution", "did you mean uniform?"),
    ({"distribution": 3, "min": 1, "max": 2}, "lr.distribution", "valid names"),
    ({"min": 1e-3}, "lr.max", "add max"),
    ({"distribution": "uniform", "max": 2.0}, "lr.min", "add min"),
    ({"distribution": "categorical"}, "lr.values", "values:"),
    ({"min": 0.1, "max": 0.01}, "lr.min", "swap"),
    ({"min": 0.5, "max": 0.5}, "lr.min", "value: 0.5"),
    ({"distribution": "int_uniform", "min": 5, "max": 1}, "lr.min", "swap"),
    ({"distribution": "log_uniform_values", "min": 0, "max": 1}, "lr.min", "min > 0"),
    ({"distribution": "log_normal", "min": -1.0, "max": 1.0}, "lr.min", "min > 0"),
    ({"distribution": "uniform_pow2", "min": 0, "max": 64}, "lr.min", "min > 0"),
    ({"distribution": "q_log_uniform_values", "min": -2, "max": 5}, "lr.min", "min > 0"),
    ({"distribution": "uniform_pow2", "min": 33, "max": 60}, "lr.min", "power of two"),
    ({"min": "abc", "max": 1}, "lr.min", "number"),
    ({"min": 0, "max": [1, 2]}, "lr.max", "number"),
    ({"min": 0, "max": float("inf")}, "lr.max", "finite"),
    ({"min": True, "max": 3}, "lr.min", "number"),
    ({"distribution": "int_uniform", "min": 0.5, "max": 3}, "lr.min", "uniform"),
    ({"values": []}, "lr.values", "at least one"),
    ({"values": "adam"}, "lr.values", "values: [a, b"),
    ({"values": [1, 1]}, "lr.values", "once"),
    ({"values": [1, 2], "probabilities": [0.5, 0.6]}, "lr.probabilities", "summing to 1"),
    ({"values": [1, 2], "probabilities": [1.0]}, "lr.probabilities", "one probability per value"),
    ({"values": [1, 2], "probabilities": [1.5, -0.5]}, "lr.probabilities", ">= 0"),
    ({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}, "lr.q", "q: 1"),
    ({"distribution": "q_normal", "q": -1}, "lr.q", "q: 1"),
    ({"distribution": "q_log_normal", "mu": 0, "sigma": 5, "q": 0.01}, "lr.q", "larger q"),
    ({"mu": 0.0, "sigma": 0.0}, "lr.sigma", "sigma: 1"),
    ({"distribution": "log_normal", "sigma": -1}, "lr.sigma", "sigma: 1"),
    ({"distribution": "log_normal", "mu": 0, "sigma": 200}, "lr.sigma", "smaller sigma"),
    ({"distribution": "beta", "a": 0}, "lr.a", "b: 5"),
    ({"distribution": "q_beta", "b": -2}, "lr.b", "b: 5"),
    ({"min": 0.0, "max": 1.0, "mean": 1.5}, "lr.mean", "between min and max"),
    ({"distribution": "uniform_pow2", "min": 8, "max": 64, "mean": 4}, "lr.mean", "between"),
    ({"min": 0.0, "max": 1.0, "scale": 0}, "lr.scale", "scale: 0.5"),
    ({"distribution": "log_normal"}, "lr.distribution", "mu/sigma or min/max"),
    ({"distribution": "log_normal", "mu": 0, "max": 2}, "lr.distribution", "not both"),
    ({"mni": 0, "max": 1}, "lr.mni", "did you mean min"),
    ({"min": 0, "max": 1, "zzz": 1}, "lr.zzz", "known keys"),
    ({"min": 0.0, "max": 1.0, "q": 0.1}, "lr.q", "q_uniform"),
    ({"values": [1, 2], "grid_points": 3}, "lr.grid_points", "remove grid_points"),
    ({"min": 0.0, "max": 1.0, "grid_points": 0}, "lr.grid_points", "grid_points: 5"),
    ({"a": 2}, "lr", "e.g. distribution: beta"),
    ({"distribution": "logit_normal", "min": 0.5, "max": 1.5}, "lr.max", "0 < min < max < 1"),
    ({"distribution": "log_uniform", "min": -800, "max": 0}, "lr.min", "exponents"),
    ({"distribution": "log_uniform", "min": 0.0, "max": 1e-200}, "lr.max", "widen the range"),
]


@pytest.mark.parametrize(("cfg", "key", "fix"), ERRORS)
def test_bad_input_raises_sweep_error_with_key_and_fix(
    cfg: dict[str, Any], key: str, fix: str
) -> None:
    with pytest.raises(SweepError) as info:
        parse_distribution(cfg, key="trainer.lr", file="conf/sweep/x.yaml")
    err = info.value
    text = str(err)
    assert err.file == "conf/sweep/x.yaml" and err.fix
    assert err.key == f"trainer.{key}", text
    assert text.startswith(f"conf/sweep/x.yaml: trainer.{key}: "), text
    assert fix in err.fix, text


def test_non_mapping_parameter_is_an_error() -> None:
    with pytest.raises(SweepError, match=r"^f.yaml: a.b: .*mapping.*; .*value: X"):
        parse_distribution([1, 2], key="a.b", file="f.yaml")  # type: ignore[arg-type]


def test_direct_construction_validates_too() -> None:
    with pytest.raises(SweepError, match=r"^min: min \(2\) > max \(1\); swap"):
        Uniform(2, 1)
    with pytest.raises(SweepError, match="sigma"):
        Normal(sigma=-1.0)


# --- warnings -----------------------------------------------------------------------------------


def _parse_warns(
    cfg: dict[str, Any], match: str, *, cleaned: bool = False, sub_key: str | None = None
) -> Distribution:
    with pytest.warns(SweepWarning, match=match) as record:
        d = parse_distribution(cfg, key="trainer.x", file="f.yaml")
    assert all(str(w.message).startswith("f.yaml: trainer.x.") for w in record)
    if sub_key is not None:  # the warning that matched names this key
        hits = [str(w.message) for w in record if match in str(w.message)]
        assert hits and all(h.startswith(f"f.yaml: trainer.x.{sub_key}: ") for h in hits), hits
    if cleaned:  # the bounds were repaired: the written-back config is quiet
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert parse_distribution(d.to_config()) == d
    return d


def test_logit_bounds_are_clamped_with_a_warning() -> None:
    d = _parse_warns(
        {"distribution": "logit_normal", "min": 0.0, "max": 1.0, "mean": 0.0},
        "clamped",
        cleaned=True,
    )
    assert (d.min, d.max, d.mean) == (LOGIT_EPS, 1 - LOGIT_EPS, LOGIT_EPS)  # type: ignore[attr-defined]
    for u in (0.0, 0.5, 1.0):
        assert 0.0 < d.from_unit(u) < 1.0
    assert all(math.isfinite(d.to_unit(v)) for v in (0.0, 1.0))


def test_pow2_bounds_round_inward_with_a_warning() -> None:
    d = _parse_warns(
        {"distribution": "uniform_pow2", "min": 30, "max": 300}, "rounded inward", cleaned=True
    )
    assert (d.min, d.max) == (32, 256)  # type: ignore[attr-defined]


def test_log_uniform_with_value_like_bounds_warns() -> None:
    d = _parse_warns(
        {"distribution": "log_uniform", "min": 0.0001, "max": 0.01}, "log_uniform_values"
    )
    assert d.from_unit(0.0) == pytest.approx(1.0001)  # what the user got: almost 1


@pytest.mark.parametrize(
    ("cfg", "sub_key", "fix", "low"),
    [
        # exponents in [0, 1]: barely above 1 (min 0 samples exp[0, 0.01] = 1..1.01)
        ({"distribution": "log_uniform", "min": 0, "max": 0.01}, "min", "log_uniform_values", 1.0),
        ({"distribution": "log_uniform", "min": 0.0001, "max": 1}, "min", "log_uniform_values", 1.0001),
        # an upper exponent beyond ~20: batch sizes written as values
        ({"distribution": "log_uniform", "min": 16, "max": 256}, "max", "log_uniform_values", math.exp(16)),
        ({"distribution": "log_uniform", "min": -5, "max": 21}, "max", "log_uniform_values", math.exp(-5)),
        # the quantized form warns the same way and points to its own _values form
        ({"distribution": "q_log_uniform", "min": 0.0001, "max": 0.01, "q": 0.001}, "min",
         "q_log_uniform_values", 1.0),
        ({"distribution": "q_log_uniform", "min": 0, "max": 1}, "min", "q_log_uniform_values", 1),
        ({"distribution": "q_log_uniform", "min": 16, "max": 25}, "max", "q_log_uniform_values",
         round(math.exp(16))),
    ],
)
def test_value_like_log_uniform_bounds_warn(
    cfg: dict[str, Any], sub_key: str, fix: str, low: float
) -> None:
    d = _parse_warns(cfg, f"use distribution: {fix}", sub_key=sub_key)
    assert d.from_unit(0.0) == pytest.approx(low, rel=1e-6)  # what the user would have got


def test_plausible_log_uniform_exponents_are_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for lo, hi in ((-9.2, -2.3), (0, 5), (1, 20), (-20, 0.5)):
            parse_distribution({"distribution": "log_uniform", "min": lo, "max": hi})
            parse_distribution({"distribution": "q_log_uniform", "min": lo, "max": hi, "q": 1e-3})


def test_describe_shows_digits_that_rounding_would_hide() -> None:
    logit = parse_distribution({"distribution": "logit_normal", "min": 1e-6, "max": 1 - 1e-6})
    assert logit.describe()["range"] == "[1e-06, 0.999999] logit"  # not [1e-06, 1]
    with pytest.warns(SweepWarning):
        tiny = parse_distribution({"distribution": "log_uniform", "min": 1e-4, "max": 1e-2})
    assert tiny.describe()["range"] == "exp[0.0001, 0.01] = [1.0001, 1.0101]"  # not [1, 1.01]
    near_one = parse_distribution({"min": 0.12, "max": 0.99995})
    assert near_one.describe()["range"] == "[0.12, 0.99995]"
    # computed values stay short
    geo = parse_distribution({"distribution": "log_normal", "min": 1e-4, "max": 1e-1})
    assert geo.describe()["center"] == "0.003162"


def test_wide_uniform_warns() -> None:
    _parse_warns({"min": 1e-5, "max": 1e-2}, "log_uniform_values")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_distribution({"min": 1.0, "max": 100.0})  # two decades exactly: fine
        parse_distribution({"min": -1e-5, "max": 1e-2})  # not a positive range
        parse_distribution({"distribution": "log_uniform", "min": -9, "max": -2})
