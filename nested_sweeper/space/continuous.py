"""Continuous kinds: ``uniform``, the log and inverse-log kinds, ``normal``, W&B's
``log_normal`` (mu/sigma), ``beta``, and Protein's ``log_normal`` and ``logit_normal``
(min/max/mean/scale)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np

if TYPE_CHECKING:
    import optuna
from nested_sweeper.schema import DEFAULT_SCALE, LOGIT_EPS
from nested_sweeper.space.base import (
    Distribution,
    _Affine,
    _Cdf,
    _check_grid_points,
    _check_span,
    _clamp,
    _clip01,
    _dedupe,
    _err,
    _fmt,
    _grid_units,
    _is_number,
    _linear_map,
    _log_map,
    _logit_map,
    _Map,
    _number,
    _positive,
    _truncnorm,
    _warn,
)

# --- continuous kinds --------------------------------------------------------------------------


class _Continuous(Distribution):
    """Ordered real values in [low, high] through a value <-> unit map built on construction."""

    grid_points: int | None

    def _set_map(self, m: _Map) -> None:
        _check_span(m)
        object.__setattr__(self, "_map", m)

    @property
    def _m(self) -> _Map:
        return cast(_Map, vars(self)["_map"])  # set once by _set_map on the frozen instance

    @property
    def low(self) -> float:
        """The smallest legal value."""
        return self._m.low

    @property
    def high(self) -> float:
        """The largest legal value."""
        return self._m.high

    def to_unit(self, value: Any) -> float:
        return self._m.unit(float(value))

    def from_unit(self, u: float) -> float:
        return self._m.value(_clip01(u))

    def _draw(self, rng: np.random.Generator) -> float:
        """A continuous prior draw (the ``q_`` forms quantize it)."""
        return self._m.value(float(rng.random()))

    def sample(self, rng: np.random.Generator) -> Any:
        return self._draw(rng)

    def grid_values(self) -> list[Any] | None:
        if self.grid_points is None:
            return None
        return _dedupe([self.from_unit(u) for u in _grid_units(self.grid_points, self._m.bounded)])

    def contains(self, value: Any) -> bool:
        return _is_number(value) and math.isfinite(value) and self.low <= value <= self.high

    def to_optuna(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import FloatDistribution

        log = isinstance(self._m, _Affine) and self._m.z is math.log10
        log = log or (isinstance(self._m, _Cdf) and self._m.log and self.low > 0)
        return FloatDistribution(self.low, self.high, log=log)

    def _range_text(self) -> str:
        return f"[{_fmt(self.low)}, {_fmt(self.high)}]"


def _check_mean_scale(self: Any, lo: float, hi: float) -> None:
    """Protein's optional ``mean`` (inside [lo, hi]) and ``scale`` (> 0, None means default)."""
    scale = DEFAULT_SCALE if self.scale is None else self.scale
    object.__setattr__(
        self, "scale", _positive("scale", scale, "scale is a width > 0, e.g. scale: 0.5")
    )
    if self.mean is None:
        return
    mean = _number("mean", self.mean)
    if not lo <= mean <= hi:
        raise _err(
            f"mean {_fmt(mean)} is outside [min, max] = [{_fmt(lo)}, {_fmt(hi)}]",
            "mean",
            "put mean between min and max, or widen the range",
        )
    object.__setattr__(self, "mean", mean)


def _bounds(self: Any, *, positive: bool = False, allow_equal: bool = False) -> tuple[float, float]:
    lo, hi = _number("min", self.min), _number("max", self.max)
    if positive and lo <= 0:
        raise _err(
            f"{self.kind} needs positive bounds, got min {_fmt(lo)}",
            "min",
            "use min > 0 (a log scale never reaches 0), e.g. min: 1.0e-5",
        )
    if lo > hi:
        raise _err(f"min ({_fmt(lo)}) > max ({_fmt(hi)})", "min", "swap min and max")
    if lo == hi and not allow_equal:
        raise _err(
            f"min == max ({_fmt(lo)}): nothing to search",
            "min",
            f"for a fixed value write value: {_fmt(lo)}",
        )
    return lo, hi


class _ProteinPrior(_Continuous):
    """Protein's prior: z ~ Normal(z(mean), scale * (zmax - zmin) / 2) truncated to [zmin, zmax]
    when ``mean`` is given, else uniform in z."""

    mean: float | None
    scale: float

    def _draw(self, rng: np.random.Generator) -> float:
        m = self._m
        if self.mean is None or not isinstance(m, _Affine):
            return super()._draw(rng)
        zlo, zhi = m.z(m.low), m.z(m.high)
        s = self.scale * (zhi - zlo) / 2.0
        return _clamp(m.x(_truncnorm(rng, m.z(self.mean), s, zlo, zhi)), m.low, m.high)

    @property
    def center(self) -> Any:
        return self.mean if self.mean is not None else self.from_unit(0.5)


@dataclass(frozen=True, eq=True)
class Uniform(_ProteinPrior):
    """``uniform``: X ~ U(min, max) (W&B); with Protein's ``mean`` the prior is
    Normal(mean, scale * (max - min) / 2) truncated to [min, max]."""

    kind: ClassVar[str] = "uniform"
    min: float
    max: float
    mean: float | None = None
    scale: float = DEFAULT_SCALE
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi = _bounds(self)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        _check_mean_scale(self, lo, hi)
        self._set_map(_linear_map(lo, hi))
        if lo > 0 and hi / lo > 100:
            _warn(
                f"uniform over [{_fmt(lo)}, {_fmt(hi)}] spans {math.log10(hi / lo):.1f} decades; "
                "almost every draw lands in the top decade",
                "distribution",
                "search it on a log scale with distribution: log_uniform_values "
                "(or Protein's log_normal with min/max)",
            )


@dataclass(frozen=True, eq=True)
class LogUniformValues(_Continuous):
    """``log_uniform_values``: X = exp(Y), Y ~ U(ln min, ln max); bounds are values > 0."""

    kind: ClassVar[str] = "log_uniform_values"
    min: float
    max: float
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi = _bounds(self, positive=True)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        self._set_map(_log_map(lo, hi))


@dataclass(frozen=True, eq=True)
class InvLogUniformValues(LogUniformValues):
    """``inv_log_uniform_values``: 1/X ~ log-uniform on [1/max, 1/min], so X is in [min, max].

    This is the same distribution as ``log_uniform_values`` (a log-uniform law is symmetric under
    inversion), exactly as W&B samples it; the name is kept for W&B sweep files.
    """

    kind: ClassVar[str] = "inv_log_uniform_values"


def _exp_bounds(self: Any, sign: float) -> tuple[float, float, float, float]:
    """Exponent bounds (min, max) and the value bounds of exp(sign * X), X in [min, max]."""
    lo, hi = _bounds(self)
    a, b = 0.0, math.inf
    if max(abs(lo), abs(hi)) < 709:  # exp overflows beyond
        a, b = sorted((math.exp(sign * lo), math.exp(sign * hi)))
    if a <= 0 or not math.isfinite(b):
        raise _err(
            f"{self.kind} bounds are natural-log exponents; exp(min)..exp(max) = "
            f"exp({_fmt(lo)})..exp({_fmt(hi)}) leaves the floating-point range",
            "min",
            "use exponents between -700 and 700, or log_uniform_values with value bounds",
        )
    return lo, hi, a, b


# exp(20) is about 4.9e8: a larger upper exponent is almost never meant (min 16, max 256 are
# batch sizes written as values, and sample up to 1.5e111).
MAX_PLAUSIBLE_EXPONENT = 20.0


def _warn_value_like_exponents(kind: str, lo: float, hi: float, a: float, b: float) -> None:
    """Warn when ``log_uniform``-style exponent bounds look like the values they were meant as.

    Bounds inside [0, 1] (learning rates, coefficients) sample exp(min)..exp(max), barely above
    1; an upper bound beyond MAX_PLAUSIBLE_EXPONENT samples astronomically large values.
    """
    tiny = 0 <= lo and hi <= 1
    if not tiny and hi <= MAX_PLAUSIBLE_EXPONENT:
        return
    fixed = kind.replace("log_uniform", "log_uniform_values")
    fix = f"for values between {_fmt(lo)} and {_fmt(hi)} use distribution: {fixed}"
    if lo <= 0:
        fix = f"for values up to {_fmt(hi)} use distribution: {fixed} with min > 0, e.g. 1.0e-5"
    _warn(
        f"{kind} bounds are natural-log exponents: min {_fmt(lo)}, max {_fmt(hi)} "
        f"sample exp({_fmt(lo)})..exp({_fmt(hi)}) = {a:.6g}..{b:.6g}",
        "min" if tiny else "max",
        fix,
    )


@dataclass(frozen=True, eq=True)
class LogUniform(_Continuous):
    """``log_uniform``: X = exp(Y), Y ~ U(min, max); the bounds are natural-log *exponents*."""

    kind: ClassVar[str] = "log_uniform"
    min: float
    max: float
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi, a, b = _exp_bounds(self, 1.0)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        self._set_map(_log_map(a, b))
        _warn_value_like_exponents(self.kind, lo, hi, a, b)

    def _range_text(self) -> str:
        return f"exp[{_fmt(self.min)}, {_fmt(self.max)}] = [{_fmt(self.low)}, {_fmt(self.high)}]"


@dataclass(frozen=True, eq=True)
class InvLogUniform(_Continuous):
    """``inv_log_uniform``: X = 1 / exp(Y) = exp(-Y), Y ~ U(min, max) (bounds are exponents).

    The search coordinate grows with X (u = 0 at exp(-max), u = 1 at exp(-min)).
    """

    kind: ClassVar[str] = "inv_log_uniform"
    min: float
    max: float
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi, a, b = _exp_bounds(self, -1.0)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        self._set_map(_log_map(a, b))

    def _range_text(self) -> str:
        return f"1/exp[{_fmt(self.min)}, {_fmt(self.max)}] = [{_fmt(self.low)}, {_fmt(self.high)}]"


def _normal_cdf(self: Any, *, log: bool) -> _Cdf:
    """Check and store ``mu``/``sigma`` of a (log-)normal kind; its CDF map, range checked."""
    mu = _number("mu", self.mu)
    sigma = _positive("sigma", self.sigma, "sigma is a standard deviation > 0, e.g. sigma: 1")
    object.__setattr__(self, "mu", mu)
    object.__setattr__(self, "sigma", sigma)
    m = _Cdf(mu, sigma, log=log)
    _check_cdf_range(self, m)
    return m


def _check_cdf_range(self: Any, m: _Cdf) -> None:
    lo, hi = m.low, m.high
    if not (math.isfinite(lo) and math.isfinite(hi)) or (m.log and lo <= 0):
        raise _err(
            f"{self.kind} with mu {_fmt(m.mu)}, sigma {_fmt(m.sigma)} reaches values outside "
            "the floating-point range",
            "sigma",
            "use a smaller sigma (mu and sigma are in log space for log_normal)",
        )


@dataclass(frozen=True, eq=True)
class Normal(_Continuous):
    """``normal``: X ~ Normal(mu, sigma) (defaults 0, 1); u is the CDF, cut at TAIL."""

    kind: ClassVar[str] = "normal"
    _always: ClassVar[tuple[str, ...]] = ("mu", "sigma")
    mu: float = 0.0
    sigma: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        self._set_map(_normal_cdf(self, log=False))

    def _range_text(self) -> str:
        return f"N({_fmt(self.mu)}, {_fmt(self.sigma)})"


@dataclass(frozen=True, eq=True)
class WandbLogNormal(_Continuous):
    """W&B ``log_normal`` (keys ``mu``/``sigma``): X = exp(Y), Y ~ Normal(mu, sigma)."""

    kind: ClassVar[str] = "log_normal"
    _always: ClassVar[tuple[str, ...]] = ("mu", "sigma")
    mu: float = 0.0
    sigma: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        self._set_map(_normal_cdf(self, log=True))

    def _range_text(self) -> str:
        return f"exp(N({_fmt(self.mu)}, {_fmt(self.sigma)}))"


def _ab(self: Any) -> tuple[float, float]:
    fix = "a and b are Beta shape parameters > 0, e.g. a: 2, b: 5"
    return _positive("a", self.a, fix), _positive("b", self.b, fix)


@dataclass(frozen=True, eq=True)
class Beta(_Continuous):
    """``beta``: X ~ Beta(a, b) on [0, 1] (defaults 1, 1); the search coordinate is X itself."""

    kind: ClassVar[str] = "beta"
    _always: ClassVar[tuple[str, ...]] = ("a", "b")
    a: float = 1.0
    b: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        a, b = _ab(self)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        self._set_map(_linear_map(0.0, 1.0))

    def _draw(self, rng: np.random.Generator) -> float:
        return float(rng.beta(self.a, self.b))

    def _range_text(self) -> str:
        return f"Beta({_fmt(self.a)}, {_fmt(self.b)}) on [0, 1]"


@dataclass(frozen=True, eq=True)
class ProteinLogNormal(_ProteinPrior):
    """Protein ``log_normal`` (keys ``min``/``max``/``mean``/``scale``): z = ln X on [ln min, ln max];
    uniform in z without ``mean`` (the geometric middle is the center)."""

    kind: ClassVar[str] = "log_normal"
    min: float
    max: float
    mean: float | None = None
    scale: float = DEFAULT_SCALE
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi = _bounds(self, positive=True)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        _check_mean_scale(self, lo, hi)
        self._set_map(_log_map(lo, hi))

    def _range_text(self) -> str:
        return f"[{_fmt(self.low)}, {_fmt(self.high)}] log"


@dataclass(frozen=True, eq=True)
class LogitNormal(_ProteinPrior):
    """Protein ``logit_normal``: z = logit(X) = ln(X / (1 - X)) on [logit(min), logit(max)].

    Bounds at or outside 0 and 1 (legacy CARBS wrote ``[0.0, 1.0]``) are clamped into
    [LOGIT_EPS, 1 - LOGIT_EPS] with a warning.
    """

    kind: ClassVar[str] = "logit_normal"
    min: float
    max: float
    mean: float | None = None
    scale: float = DEFAULT_SCALE
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi = _bounds(self)
        if lo < 0 or hi > 1:
            raise _err(
                f"logit_normal needs bounds inside (0, 1), got [{_fmt(lo)}, {_fmt(hi)}]",
                "min" if lo < 0 else "max",
                "use 0 < min < max < 1, or a uniform distribution for other ranges",
            )
        clo, chi = _clamp(lo, LOGIT_EPS, 1 - LOGIT_EPS), _clamp(hi, LOGIT_EPS, 1 - LOGIT_EPS)
        if (clo, chi) != (lo, hi):
            _warn(
                f"logit_normal bounds must lie strictly inside (0, 1); [{_fmt(lo)}, {_fmt(hi)}] "
                f"clamped to [{clo:g}, {chi:g}]",
                "min" if clo != lo else "max",
                f"write min: {clo:g} and max: {chi:g} (or bounds inside (0, 1)) to silence this",
            )
        if clo >= chi:
            raise _err(
                f"logit_normal range [{_fmt(lo)}, {_fmt(hi)}] is empty inside (0, 1)",
                "min",
                "use 0 < min < max < 1",
            )
        if self.mean is not None:
            # A legacy center on the clamped edge (0.0 or 1.0) moves with its bound.
            mean = _number("mean", self.mean)
            object.__setattr__(self, "mean", _clamp(mean, clo, chi) if lo <= mean <= hi else mean)
        object.__setattr__(self, "min", clo)
        object.__setattr__(self, "max", chi)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        _check_mean_scale(self, clo, chi)
        self._set_map(_logit_map(clo, chi))

    def _range_text(self) -> str:
        return f"[{_fmt(self.low)}, {_fmt(self.high)}] logit"
