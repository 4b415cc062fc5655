"""Distributions of sweep parameters: one frozen dataclass per kind, validated on construction.

Every distribution maps its values to a *search coordinate* ``u`` in [0, 1] and back:

- bounded kinds map their natural coordinate ``z`` (identity, ln, logit) linearly,
  ``u = (z - zmin) / (zmax - zmin)``;
- unbounded kinds (``normal``, W&B ``log_normal``, their ``q_`` forms) use their prior CDF, with the
  tails cut at ``TAIL`` (about 7 sigma) so every value is finite;
- discrete kinds give each legal value an equal cell (categorical: a cell proportional to its
  probability); ``to_unit`` returns the middle of the cell, so ``from_unit(to_unit(v)) == v``;
- ``q_`` kinds quantize their continuous base, ``round(x / q) * q``, exactly as W&B does.

``sample(rng)`` draws from the prior, ``grid_values()`` lists a finite value set, ``center`` and
``scale`` feed the Protein method, ``to_optuna()`` gives a matching Optuna distribution and
``to_config()`` the sweep-file form, which :func:`parse_distribution` reads back.

Example::

    >>> d = parse_distribution({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2})
    >>> d.from_unit(0.5)  # the geometric middle
    0.001
    >>> d.grid_values() is None  # continuous: give grid_points: N for a grid
    True
    >>> parse_distribution({"distribution": "uniform_pow2", "min": 16, "max": 256}).grid_values()
    [16, 32, 64, 128, 256]
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import warnings
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nested_sweeper.errors import SweepError, SweepWarning

if TYPE_CHECKING:
    import optuna

__all__ = [
    "DEFAULT_SCALE",
    "DISTRIBUTION_NAMES",
    "KNOWN_KEYS",
    "LOGIT_EPS",
    "MAX_GRID_VALUES",
    "MAX_Q_STEPS",
    "TAIL",
    "Beta",
    "Categorical",
    "Constant",
    "Distribution",
    "IntUniform",
    "InvLogUniform",
    "InvLogUniformValues",
    "LogUniform",
    "LogUniformValues",
    "LogitNormal",
    "Normal",
    "ProteinLogNormal",
    "QBeta",
    "QLogNormal",
    "QLogUniform",
    "QLogUniformValues",
    "QNormal",
    "QUniform",
    "Uniform",
    "UniformPow2",
    "WandbLogNormal",
    "parse_distribution",
]

LOGIT_EPS = 1e-6
"""``logit_normal`` bounds are clamped into [LOGIT_EPS, 1 - LOGIT_EPS] so logit(x) stays finite."""

DEFAULT_SCALE = 0.5
"""Protein's default search width on the [-1, 1] normalized scale."""

TAIL = 1e-12
"""Unbounded kinds keep ``u`` in [TAIL, 1 - TAIL] (about +-7.03 sigma): no infinities, ever."""

MAX_GRID_VALUES = 100_000
"""``grid_values()`` refuses to list more values than this; ``grid_size()`` tells first."""

MAX_Q_STEPS = 1e12
"""``q_`` kinds refuse supports more than this many multiples of q away from 0."""

KNOWN_KEYS = (
    "distribution",
    "min",
    "max",
    "mean",
    "scale",
    "mu",
    "sigma",
    "q",
    "a",
    "b",
    "value",
    "values",
    "probabilities",
    "grid_points",
)

_STD_NORMAL = NormalDist()


# --- small helpers -------------------------------------------------------------------------------


def _err(message: str, key: str | None, fix: str | None = None) -> SweepError:
    return SweepError(message, key=key, fix=fix)


def _warn(message: str, key: str, fix: str) -> None:
    # The text starts with the sub-key; parse_distribution prefixes the parameter's path.
    warnings.warn(f"{key}: {message}; {fix}", SweepWarning, stacklevel=4)


def _fmt(x: Any) -> str:
    """Four significant digits, or up to eight where rounding to four would hide the value.

    Plain ``.4g`` printed a clamped logit bound 0.999999 as ``1`` and exp(0.0001) as ``1``:
    when rounding collapses the digits (``1``, ``0.05``) and is not exact, more are shown.
    """
    if not isinstance(x, float):
        return str(x)
    for digits in range(4, 8):
        text = f"{x:.{digits}g}"
        if float(text) == x or _significant_digits(text) == digits:
            return text
    return f"{x:.8g}"


def _significant_digits(text: str) -> int:
    return len(text.split("e")[0].lstrip("-").replace(".", "").lstrip("0"))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _number(name: str, v: Any) -> float:
    """A finite float from an int, float or numeric string ("1e-3" is how YAML 1.1 reads 1e-3)."""
    if _is_number(v):
        x = float(v)
    elif isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            raise _err(
                f"{name} must be a number, got {v!r}",
                name,
                f"write {name} as a number, e.g. 1.0e-3",
            ) from None
    else:
        raise _err(f"{name} must be a number, got {v!r}", name, f"write {name} as a single number")
    if not math.isfinite(x):
        raise _err(f"{name} must be finite, got {v!r}", name, f"write {name} as a finite number")
    return x


def _integer(name: str, v: Any, fix: str) -> int:
    x = _number(name, v)
    if not x.is_integer():
        raise _err(f"{name} must be an integer, got {v!r}", name, fix)
    return int(x)


def _positive(name: str, v: Any, fix: str) -> float:
    x = _number(name, v)
    if x <= 0:
        raise _err(f"{name} must be > 0, got {v!r}", name, fix)
    return x


def _plain(v: Any) -> Any:
    """Plain Python containers (OmegaConf containers and numpy scalars become lists/dicts/floats)."""
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, Sequence) and not isinstance(v, (str, bytes)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _canon(v: Any) -> str:
    # Distinguishes 1, 1.0 and True, which == does not.
    return json.dumps(v, sort_keys=True, default=repr)


def _clip01(u: Any) -> float:
    u = float(u)
    if math.isnan(u):
        raise ValueError("the unit coordinate u must be a number in [0, 1], got nan")
    return min(max(u, 0.0), 1.0)


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _nice(x: float) -> float:
    # 3 * 0.1 is 0.30000000000000004 and exp(ln 1e-4 + ln 100 / 2) is 0.0010000000000000002:
    # 15 significant digits (a 5e-16 relative move, monotone) give the 0.3 and 0.001 users
    # expect in overrides and run names.
    return float(f"{x:.15g}")


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _logit(x: float) -> float:
    return math.log(x) - math.log1p(-x)


def _truncnorm(rng: np.random.Generator, m: float, s: float, lo: float, hi: float) -> float:
    """One draw of Normal(m, s) truncated to [lo, hi], by inverting the CDF."""
    nd = NormalDist(m, s)
    a, b = nd.cdf(lo), nd.cdf(hi)
    p = a + float(rng.random()) * (b - a)
    p = _clamp(p, 1e-300, 1.0 - 1e-16)  # inv_cdf needs 0 < p < 1
    return _clamp(nd.inv_cdf(p), lo, hi)


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def _grid_units(n: int, bounded: bool) -> list[float]:
    """Evenly spaced unit points: ends included when bounded, quantile midpoints otherwise."""
    if n == 1:
        return [0.5]
    if bounded:
        return [i / (n - 1) for i in range(n)]
    return [(i + 0.5) / n for i in range(n)]


def _check_grid_points(v: Any) -> int | None:
    if v is None:
        return None
    fix = "grid_points is how many values a grid search tries, e.g. grid_points: 5"
    if isinstance(v, bool):
        raise _err(f"grid_points must be a positive integer, got {v!r}", "grid_points", fix)
    n = _integer("grid_points", v, fix)
    if n < 1:
        raise _err(f"grid_points must be >= 1, got {v!r}", "grid_points", fix)
    return n


# --- value <-> unit maps (private, no validation) -------------------------------------------------


@dataclass(frozen=True)
class _Affine:
    """``u`` linear in z(x) over [low, high]; z is the identity, ln or logit."""

    low: float
    high: float
    z: Callable[[float], float]
    x: Callable[[float], float]
    bounded: ClassVar[bool] = True

    def unit(self, x: float) -> float:
        zlo, zhi = self.z(self.low), self.z(self.high)
        return _clip01((self.z(_clamp(x, self.low, self.high)) - zlo) / (zhi - zlo))

    def value(self, u: float) -> float:
        if u <= 0.0:
            return self.low
        if u >= 1.0:
            return self.high
        zlo, zhi = self.z(self.low), self.z(self.high)
        return _clamp(_nice(self.x(zlo + u * (zhi - zlo))), self.low, self.high)


def _identity(x: float) -> float:
    return x


def _linear_map(low: float, high: float) -> _Affine:
    return _Affine(low, high, _identity, _identity)


def _pow10(z: float) -> float:
    return 10.0**z


def _log_map(low: float, high: float) -> _Affine:
    # Base 10, not e: the same linear coordinate, but decade grids come out as 1e-4, 1e-3...
    return _Affine(low, high, math.log10, _pow10)


def _logit_map(low: float, high: float) -> _Affine:
    return _Affine(low, high, _logit, _sigmoid)


@dataclass(frozen=True)
class _Cdf:
    """``u`` is the Normal(mu, sigma) CDF of x (of ln x when ``log``), tails cut at TAIL."""

    mu: float
    sigma: float
    log: bool = False
    bounded: ClassVar[bool] = False

    def unit(self, x: float) -> float:
        if self.log:
            if x <= 0:
                return 0.0
            x = math.log(x)
        return _clip01(_STD_NORMAL.cdf((x - self.mu) / self.sigma))

    def value(self, u: float) -> float:
        w = self.mu + self.sigma * _STD_NORMAL.inv_cdf(_clamp(u, TAIL, 1.0 - TAIL))
        if not self.log:
            return _nice(w)
        return _nice(math.exp(w)) if w < 709.0 else math.inf  # construction refuses such ranges

    @property
    def low(self) -> float:
        return self.value(0.0)

    @property
    def high(self) -> float:
        return self.value(1.0)


_Map = _Affine | _Cdf


def _check_span(m: _Map) -> None:
    if isinstance(m, _Affine) and not m.z(m.low) < m.z(m.high):
        raise _err(
            f"min and max give the same value on this scale ({m.low!r} .. {m.high!r})",
            "max",
            f"widen the range, or for a fixed value write value: {m.low!r}",
        )


# --- the interface -----------------------------------------------------------------------------


class Distribution(ABC):
    """One sweep parameter's distribution: a value object (frozen, hashable, equal by value).

    ``to_unit``/``from_unit`` give the search coordinate in [0, 1] on the natural scale,
    ``sample`` draws from the prior, ``grid_values`` lists a finite value set. Subclasses
    validate their fields in ``__post_init__`` and raise :class:`SweepError` with the sub-key
    (``min``, ``q``...); :func:`parse_distribution` adds the parameter's path and the file.
    """

    kind: ClassVar[str]
    is_categorical: ClassVar[bool] = False
    #: config keys that to_config() writes even at their default (they select a form)
    _always: ClassVar[tuple[str, ...]] = ()

    @property
    def is_int(self) -> bool:
        """Whether every legal value is an ``int``."""
        return False

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """The search coordinate of ``value`` in [0, 1] (values outside the range are clamped)."""

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """A legal value for the search coordinate ``u`` (clamped to [0, 1])."""

    def sample(self, rng: np.random.Generator) -> Any:
        """One draw from the prior."""
        return self.from_unit(float(rng.random()))

    def grid_values(self) -> list[Any] | None:
        """The finite value set for grid search, or None when continuous without ``grid_points``."""
        return None

    def grid_size(self) -> int | None:
        """``len(grid_values())`` without building the list."""
        values = self.grid_values()
        return None if values is None else len(values)

    @property
    def center(self) -> Any:
        """A legal value in the middle: Protein's ``mean`` when given, else ``from_unit(0.5)``."""
        return self.from_unit(0.5)

    @property
    def scale(self) -> float:
        """Protein's search width on the [-1, 1] normalized scale."""
        return DEFAULT_SCALE

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this distribution can produce."""

    def snap(self, value: Any) -> Any:
        """The legal value nearest ``value`` on the natural scale (``from_unit(to_unit(value))``)."""
        return self.from_unit(self.to_unit(value))

    @abstractmethod
    def to_optuna(self) -> optuna.distributions.BaseDistribution:
        """An Optuna distribution that contains every legal value."""

    def to_config(self) -> dict[str, Any]:
        """The sweep-file form; ``parse_distribution(d.to_config()) == d``."""
        cfg: dict[str, Any] = {"distribution": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if f.name in self._always or v != f.default:
                cfg[f.name] = _config_value(v)
        return cfg

    def describe(self) -> dict[str, str]:
        """Strings for a table: distribution, range, center, scale."""
        return {
            "distribution": self.kind,
            "range": self._range_text(),
            "center": _fmt(self.center),
            "scale": _fmt(self.scale),
        }

    @abstractmethod
    def _range_text(self) -> str: ...


def _config_value(v: Any) -> Any:
    if isinstance(v, tuple):
        return [copy.deepcopy(x) for x in v]
    return copy.deepcopy(v)


def _loose_hash(cls: type, parts: tuple[Any, ...]) -> int:
    try:
        return hash((cls, parts))
    except TypeError:  # list or dict values: equal objects still hash equal
        return hash((cls, len(parts)))


# --- constant and categorical ------------------------------------------------------------------


@dataclass(frozen=True, eq=True)
class Constant(Distribution):
    """A fixed value (``value: X``): every search gives X."""

    kind: ClassVar[str] = "constant"
    value: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _plain(self.value))

    def __hash__(self) -> int:
        return _loose_hash(type(self), (_canon(self.value),))

    @property
    def is_int(self) -> bool:
        return _is_number(self.value) and isinstance(self.value, (int, np.integer))

    def to_unit(self, value: Any) -> float:
        return 0.5

    def from_unit(self, u: float) -> Any:
        _clip01(u)
        return copy.deepcopy(self.value)

    def grid_values(self) -> list[Any]:
        return [copy.deepcopy(self.value)]

    def contains(self, value: Any) -> bool:
        return _canon(_plain(value)) == _canon(self.value)

    def to_optuna(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution((self.value,))

    def to_config(self) -> dict[str, Any]:
        return {"distribution": self.kind, "value": copy.deepcopy(self.value)}

    def _range_text(self) -> str:
        return _fmt(self.value)


@dataclass(frozen=True, eq=True)
class Categorical(Distribution):
    """Unordered choices: ``values: [a, b, ...]``, optional ``probabilities`` summing to 1.

    Value i owns the unit cell [c_i, c_{i+1}) where c is the cumulative probability (equal
    cells by default), so ``from_unit(u)`` with u ~ U(0, 1) is the prior. A value with
    probability 0 is legal but never drawn.
    """

    kind: ClassVar[str] = "categorical"
    is_categorical: ClassVar[bool] = True
    values: tuple[Any, ...]
    probabilities: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        values = self.values
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise _err(
                f"values must be a list, got {values!r}",
                "values",
                "write values: [a, b, ...]; for a single fixed value use value: X",
            )
        if len(values) == 0:
            raise _err(
                "values is empty",
                "values",
                "list at least one value, e.g. values: [adam, sgd]; or remove the parameter",
            )
        values = tuple(_plain(v) for v in values)
        keys = [_canon(v) for v in values]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise _err(
                f"values repeats {', '.join(dupes)}",
                "values",
                "list each value once; weight values with probabilities: [...]",
            )
        object.__setattr__(self, "values", values)
        probs = self._check_probabilities(len(values))
        object.__setattr__(self, "probabilities", probs)
        weights = probs if probs is not None else (1.0,) * len(values)
        total = math.fsum(weights)
        edges = [0.0]
        for w in weights:
            edges.append(min(edges[-1] + w / total, 1.0))
        edges[-1] = 1.0
        object.__setattr__(self, "_edges", tuple(edges))
        last = max(i for i, w in enumerate(weights) if w > 0)
        object.__setattr__(self, "_last", last)

    def _check_probabilities(self, n: int) -> tuple[float, ...] | None:
        p = self.probabilities
        if p is None:
            return None
        fix = f"give one probability per value ({n}), each >= 0, summing to 1"
        if not isinstance(p, Sequence) or isinstance(p, str):
            raise _err(f"probabilities must be a list, got {p!r}", "probabilities", fix)
        if len(p) != n:
            raise _err(
                f"probabilities has {len(p)} entries but values has {n}", "probabilities", fix
            )
        probs = tuple(_number("probabilities", x) for x in p)
        if any(not 0 <= x <= 1 for x in probs):
            raise _err(f"probabilities must lie in [0, 1], got {list(p)}", "probabilities", fix)
        if abs(math.fsum(probs) - 1.0) > 1e-6:
            raise _err(f"probabilities sum to {math.fsum(probs):.6g}, not 1", "probabilities", fix)
        return probs

    def __hash__(self) -> int:
        return _loose_hash(type(self), (self.values, self.probabilities))

    @property
    def is_int(self) -> bool:
        return all(_is_number(v) and isinstance(v, (int, np.integer)) for v in self.values)

    def _index(self, value: Any) -> int:
        key = _canon(_plain(value))
        for i, v in enumerate(self.values):
            if _canon(v) == key:
                return i
        for i, v in enumerate(self.values):
            if v == value:
                return i
        raise ValueError(f"{value!r} is not one of {list(self.values)}")

    def to_unit(self, value: Any) -> float:
        i = self._index(value)
        edges: tuple[float, ...] = self._edges  # type: ignore[attr-defined]
        return (edges[i] + edges[i + 1]) / 2.0

    def from_unit(self, u: float) -> Any:
        edges: tuple[float, ...] = self._edges  # type: ignore[attr-defined]
        i = min(bisect_right(edges, _clip01(u)) - 1, self._last)  # type: ignore[attr-defined]
        return copy.deepcopy(self.values[i])

    def grid_values(self) -> list[Any]:
        return [copy.deepcopy(v) for v in self.values]

    @property
    def center(self) -> Any:
        if self.probabilities is None:
            return copy.deepcopy(self.values[0])
        best = max(range(len(self.values)), key=lambda i: (self.probabilities[i], -i))  # type: ignore[index]
        return copy.deepcopy(self.values[best])

    def contains(self, value: Any) -> bool:
        try:
            self._index(value)
        except ValueError:
            return False
        return True

    def to_optuna(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.values)

    def to_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"distribution": self.kind, "values": _config_value(self.values)}
        if self.probabilities is not None:
            cfg["probabilities"] = list(self.probabilities)
        return cfg

    def _range_text(self) -> str:
        text = "{" + ", ".join(_fmt(v) for v in self.values) + "}"
        if self.probabilities is not None:
            text += " p=[" + ", ".join(_fmt(p) for p in self.probabilities) + "]"
        return text


# --- continuous kinds --------------------------------------------------------------------------


class _Continuous(Distribution):
    """Ordered real values in [low, high] through a value <-> unit map built on construction."""

    grid_points: int | None

    def _set_map(self, m: _Map) -> None:
        _check_span(m)
        object.__setattr__(self, "_map", m)

    @property
    def _m(self) -> _Map:
        return self._map  # type: ignore[attr-defined,no-any-return]

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
    scale: float  # type: ignore[misc]  # a field here, a property on the base

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


def _mu_sigma(self: Any) -> tuple[float, float]:
    mu = _number("mu", self.mu)
    sigma = _positive("sigma", self.sigma, "sigma is a standard deviation > 0, e.g. sigma: 1")
    return mu, sigma


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
        mu, sigma = _mu_sigma(self)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        m = _Cdf(mu, sigma, log=False)
        _check_cdf_range(self, m)
        self._set_map(m)

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
        mu, sigma = _mu_sigma(self)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        m = _Cdf(mu, sigma, log=True)
        _check_cdf_range(self, m)
        self._set_map(m)

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


# --- integer lattices: int_uniform, uniform_pow2 -----------------------------------------------


class _Lattice(Distribution):
    """Integer index e in [elo, ehi] with value v(e); every value owns an equal unit cell.

    The natural coordinate z (v itself, or log2 v) is extended by half a cell on each side,
    [elo - 0.5, ehi + 0.5], and mapped linearly to [0, 1]: ``from_unit(u) = v(elo +
    min(floor(u * n), n - 1))`` and ``to_unit(v)`` is the middle of v's cell. Protein's prior
    with ``mean`` draws z from the truncated normal on that extended range and rounds it.
    """

    mean: float | None
    scale: float  # type: ignore[misc]
    grid_points: int | None

    @property
    def is_int(self) -> bool:
        return True

    @property
    @abstractmethod
    def _elo(self) -> int: ...

    @property
    @abstractmethod
    def _ehi(self) -> int: ...

    @abstractmethod
    def _v(self, e: int) -> int: ...

    @abstractmethod
    def _z(self, value: float) -> float: ...

    @property
    def _n(self) -> int:
        return self._ehi - self._elo + 1

    @property
    def low(self) -> int:
        return self._v(self._elo)

    @property
    def high(self) -> int:
        return self._v(self._ehi)

    def to_unit(self, value: Any) -> float:
        x = float(value)
        if x <= self.low:
            return 0.5 / self._n
        if x >= self.high:
            return 1.0 - 0.5 / self._n
        return _clip01((self._z(x) - (self._elo - 0.5)) / self._n)

    def from_unit(self, u: float) -> int:
        return self._v(self._elo + min(math.floor(_clip01(u) * self._n), self._n - 1))

    def sample(self, rng: np.random.Generator) -> int:
        if self.mean is None:
            return self.from_unit(float(rng.random()))
        lo, hi = self._elo - 0.5, self._ehi + 0.5
        s = self.scale * (hi - lo) / 2.0
        z = _truncnorm(rng, self._z(self.mean), s, lo, hi)
        return self._v(int(_clamp(math.floor(z + 0.5), self._elo, self._ehi)))

    def grid_size(self) -> int:
        if self.grid_points is None:
            return self._n
        return len(self.grid_values())

    def grid_values(self) -> list[int]:
        n = self._n
        if self.grid_points is None or self.grid_points >= n:
            if n > MAX_GRID_VALUES:
                raise SweepError(
                    f"{self.kind} [{self.low}, {self.high}] has {n} values, too many for a grid",
                    fix="add grid_points: N to pick N evenly spaced values",
                )
            return [self._v(e) for e in range(self._elo, self._ehi + 1)]
        if self.grid_points == 1:
            return [self.center]
        step = (n - 1) / (self.grid_points - 1)
        return _dedupe([self._v(self._elo + round(i * step)) for i in range(self.grid_points)])

    @property
    def center(self) -> int:
        return self.from_unit(0.5 if self.mean is None else self.to_unit(self.mean))

    def _is_integral(self, value: Any) -> bool:
        return _is_number(value) and math.isfinite(value) and float(value).is_integer()

    def _range_text(self) -> str:
        return f"[{self.low}, {self.high}]"


@dataclass(frozen=True, eq=True)
class IntUniform(_Lattice):
    """``int_uniform``: X uniform over the integers min..max (each equally likely); with
    Protein's ``mean``, z ~ Normal(mean, scale * n / 2) truncated to [min - 0.5, max + 0.5],
    rounded (n = max - min + 1)."""

    kind: ClassVar[str] = "int_uniform"
    min: int
    max: int
    mean: float | None = None
    scale: float = DEFAULT_SCALE
    grid_points: int | None = None

    def __post_init__(self) -> None:
        fix = "int_uniform takes integer bounds; use uniform or q_uniform for fractions"
        lo, hi = _integer("min", self.min, fix), _integer("max", self.max, fix)
        if lo > hi:
            raise _err(f"min ({lo}) > max ({hi})", "min", "swap min and max")
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        _check_mean_scale(self, lo, hi)

    @property
    def _elo(self) -> int:
        return self.min

    @property
    def _ehi(self) -> int:
        return self.max

    def _v(self, e: int) -> int:
        return int(e)

    def _z(self, value: float) -> float:
        return float(value)

    def contains(self, value: Any) -> bool:
        return self._is_integral(value) and self.min <= value <= self.max

    def to_optuna(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.min, self.max)


def _pow2_exponents(lo: float, hi: float) -> tuple[int, int]:
    elo = max(math.ceil(math.log2(lo)), 0)
    while 2**elo < lo:
        elo += 1
    while elo > 0 and 2 ** (elo - 1) >= lo:
        elo -= 1
    ehi = math.floor(math.log2(hi))
    while 2**ehi > hi:
        ehi -= 1
    while 2 ** (ehi + 1) <= hi:
        ehi += 1
    return elo, ehi


@dataclass(frozen=True, eq=True)
class UniformPow2(_Lattice):
    """Protein ``uniform_pow2``: X = 2**e for integers e with min <= 2**e <= max, each equally
    likely; with ``mean``, z = log2 X ~ Normal(log2 mean, scale * n / 2) truncated to
    [emin - 0.5, emax + 0.5], rounded. Bounds that are not powers of two are rounded inward
    (with a warning); values start at 1 = 2**0."""

    kind: ClassVar[str] = "uniform_pow2"
    min: int
    max: int
    mean: float | None = None
    scale: float = DEFAULT_SCALE
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi = _bounds(self, positive=True, allow_equal=True)
        elo, ehi = _pow2_exponents(lo, hi)
        if elo > ehi:
            raise _err(
                f"no power of two lies in [{_fmt(lo)}, {_fmt(hi)}]",
                "min",
                "widen the range to include a power of two (1, 2, 4, 8, ...)",
            )
        for name, raw, new in (("min", lo, 2**elo), ("max", hi, 2**ehi)):
            if raw != new:
                _warn(
                    f"uniform_pow2 yields powers of two; {name} {_fmt(raw)} rounded inward to {new}",
                    name,
                    f"write {name}: {new}",
                )
        object.__setattr__(self, "min", 2**elo)
        object.__setattr__(self, "max", 2**ehi)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        _check_mean_scale(self, 2**elo, 2**ehi)

    @property
    def _elo(self) -> int:
        return int(self.min).bit_length() - 1

    @property
    def _ehi(self) -> int:
        return int(self.max).bit_length() - 1

    def _v(self, e: int) -> int:
        return 2 ** int(e)

    def _z(self, value: float) -> float:
        return math.log2(value)

    def contains(self, value: Any) -> bool:
        if not self._is_integral(value) or not self.min <= value <= self.max:
            return False
        v = int(value)
        return v & (v - 1) == 0

    def to_optuna(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.min, self.max, log=True)

    def _range_text(self) -> str:
        return f"[{self.low}, {self.high}] pow2"


# --- quantized kinds ---------------------------------------------------------------------------


class _Quantized(Distribution):
    """X = round(Y / q) * q for a continuous Y (W&B's ``q_`` kinds).

    Legal values are the multiples k*q whose cell [(k - 0.5) q, (k + 0.5) q] meets Y's support,
    so a bound that is not a multiple of q can be exceeded by up to q/2, as in W&B. Values are
    ints when q is a whole number. ``from_unit(u)`` quantizes the base's ``from_unit(u)``;
    ``to_unit(v)`` is the middle of v's cell in u.
    """

    q: float
    grid_points: int | None

    def _set_base(self, m: _Map) -> None:
        q = _positive("q", self.q, "q is the step between values, > 0, e.g. q: 1")
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "grid_points", _check_grid_points(self.grid_points))
        _check_span(m)
        object.__setattr__(self, "_map", m)
        if max(abs(m.low), abs(m.high)) / q > MAX_Q_STEPS:
            raise _err(
                f"q={q:g} is too fine for values up to {max(abs(m.low), abs(m.high)):.4g}: "
                "floats cannot hold every multiple of q that far from 0",
                "q",
                "use a larger q, or a narrower range (smaller sigma)",
            )
        klo, khi = round(m.low / q), round(m.high / q)
        if (klo + 0.5) * q <= m.low and klo < khi:
            klo += 1  # its cell holds no part of the support
        if (khi - 0.5) * q >= m.high and khi > klo:
            khi -= 1
        object.__setattr__(self, "_k", (klo, khi))

    @property
    def _m(self) -> _Map:
        return self._map  # type: ignore[attr-defined,no-any-return]

    @property
    def is_int(self) -> bool:
        return self.q.is_integer()

    def _value(self, k: int) -> Any:
        if self.is_int:
            return int(k) * int(self.q)
        return _nice(k * self.q)

    def _index(self, y: float) -> int:
        klo, khi = self._k  # type: ignore[attr-defined]
        return int(_clamp(round(y / self.q), klo, khi))

    def _quantize(self, y: float) -> Any:
        return self._value(self._index(y))

    @property
    def low(self) -> Any:
        return self._value(self._k[0])  # type: ignore[attr-defined]

    @property
    def high(self) -> Any:
        return self._value(self._k[1])  # type: ignore[attr-defined]

    def from_unit(self, u: float) -> Any:
        return self._quantize(self._m.value(_clip01(u)))

    def to_unit(self, value: Any) -> float:
        k = self._index(float(value))
        m = self._m
        a = m.unit(_clamp((k - 0.5) * self.q, m.low, m.high))
        b = m.unit(_clamp((k + 0.5) * self.q, m.low, m.high))
        mid = (a + b) / 2.0
        if self._index(m.value(mid)) == k:
            return mid
        return self._bisect_unit(k)

    def _bisect_unit(self, k: int) -> float:
        """A u that quantizes to index k, for cells narrower than float spacing near u = 1
        (far tails, tiny q) where the cell middle rounds into a neighbour."""
        lo, hi = 0.0, 1.0
        while True:
            mid = (lo + hi) / 2.0
            if mid in (lo, hi):
                return lo  # no float lands in the cell: its lower edge is the nearest u
            j = self._index(self._m.value(mid))
            if j == k:
                return mid
            lo, hi = (mid, hi) if j < k else (lo, mid)

    def _draw(self, rng: np.random.Generator) -> float:
        return self._m.value(float(rng.random()))

    def sample(self, rng: np.random.Generator) -> Any:
        return self._quantize(self._draw(rng))

    def grid_size(self) -> int | None:
        if self.grid_points is not None:
            return len(self.grid_values() or [])
        if not self._m.bounded:
            return None
        klo, khi = self._k  # type: ignore[attr-defined]
        return khi - klo + 1

    def grid_values(self) -> list[Any] | None:
        if self.grid_points is not None:
            units = _grid_units(self.grid_points, self._m.bounded)
            return sorted({_canon(v): v for v in (self.from_unit(u) for u in units)}.values())
        if not self._m.bounded:
            return None
        klo, khi = self._k  # type: ignore[attr-defined]
        if khi - klo + 1 > MAX_GRID_VALUES:
            raise SweepError(
                f"{self.kind} has {khi - klo + 1} multiples of q={_fmt(self.q)}, too many for a grid",
                fix="add grid_points: N, or use a larger q",
            )
        return [self._value(k) for k in range(klo, khi + 1)]

    def contains(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(value):
            return False
        if self.is_int and not float(value).is_integer():
            return False
        r = float(value) / self.q
        k = round(r)
        klo, khi = self._k  # type: ignore[attr-defined]
        return abs(r - k) <= 1e-9 * max(1.0, abs(r)) and klo <= k <= khi

    def to_optuna(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.is_int:
            return IntDistribution(self.low, self.high, step=int(self.q))
        if max(abs(self.low), abs(self.high)) / self.q > 1e6:
            # Optuna checks a step with an absolute 1e-8 tolerance on (v - low) / step, which
            # float rounding exceeds this far from 0 (in units of q): keep the range only.
            return FloatDistribution(self.low, self.high)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna warns when it adjusts `high`; checked below
            dist = FloatDistribution(self.low, self.high, step=self.q)
        if dist.high != self.high:
            dist = FloatDistribution(self.low, self.high)
        return dist

    def _range_text(self) -> str:
        return f"[{_fmt(self.low)}, {_fmt(self.high)}] q={_fmt(self.q)}"


@dataclass(frozen=True, eq=True)
class QUniform(_Quantized):
    """``q_uniform``: X = round(Y / q) * q, Y ~ U(min, max); q defaults to 1."""

    kind: ClassVar[str] = "q_uniform"
    min: float
    max: float
    q: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi = _bounds(self)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        self._set_base(_linear_map(lo, hi))


@dataclass(frozen=True, eq=True)
class QLogUniform(_Quantized):
    """``q_log_uniform``: X = round(exp(Y) / q) * q, Y ~ U(min, max) (bounds are exponents)."""

    kind: ClassVar[str] = "q_log_uniform"
    min: float
    max: float
    q: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi, a, b = _exp_bounds(self, 1.0)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        _warn_value_like_exponents(self.kind, lo, hi, a, b)  # before _set_base's "q too fine"
        self._set_base(_log_map(a, b))


@dataclass(frozen=True, eq=True)
class QLogUniformValues(_Quantized):
    """``q_log_uniform_values``: X = round(exp(Y) / q) * q, Y ~ U(ln min, ln max)."""

    kind: ClassVar[str] = "q_log_uniform_values"
    min: float
    max: float
    q: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        lo, hi = _bounds(self, positive=True)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        self._set_base(_log_map(lo, hi))


@dataclass(frozen=True, eq=True)
class QNormal(_Quantized):
    """``q_normal``: X = round(Y / q) * q, Y ~ Normal(mu, sigma)."""

    kind: ClassVar[str] = "q_normal"
    _always: ClassVar[tuple[str, ...]] = ("mu", "sigma")
    mu: float = 0.0
    sigma: float = 1.0
    q: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        mu, sigma = _mu_sigma(self)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        m = _Cdf(mu, sigma, log=False)
        _check_cdf_range(self, m)
        self._set_base(m)

    def _range_text(self) -> str:
        return f"N({_fmt(self.mu)}, {_fmt(self.sigma)}) q={_fmt(self.q)}"


@dataclass(frozen=True, eq=True)
class QLogNormal(_Quantized):
    """``q_log_normal``: X = round(exp(Y) / q) * q, Y ~ Normal(mu, sigma)."""

    kind: ClassVar[str] = "q_log_normal"
    _always: ClassVar[tuple[str, ...]] = ("mu", "sigma")
    mu: float = 0.0
    sigma: float = 1.0
    q: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        mu, sigma = _mu_sigma(self)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        m = _Cdf(mu, sigma, log=True)
        _check_cdf_range(self, m)
        self._set_base(m)

    def _range_text(self) -> str:
        return f"exp(N({_fmt(self.mu)}, {_fmt(self.sigma)})) q={_fmt(self.q)}"


@dataclass(frozen=True, eq=True)
class QBeta(_Quantized):
    """``q_beta``: X = round(Y / q) * q, Y ~ Beta(a, b) on [0, 1]."""

    kind: ClassVar[str] = "q_beta"
    _always: ClassVar[tuple[str, ...]] = ("a", "b")
    a: float = 1.0
    b: float = 1.0
    q: float = 1.0
    grid_points: int | None = None

    def __post_init__(self) -> None:
        a, b = _ab(self)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        self._set_base(_linear_map(0.0, 1.0))

    def _draw(self, rng: np.random.Generator) -> float:
        return float(rng.beta(self.a, self.b))

    def _range_text(self) -> str:
        return f"Beta({_fmt(self.a)}, {_fmt(self.b)}) q={_fmt(self.q)}"


# --- parsing -----------------------------------------------------------------------------------

_BY_NAME: dict[str, type[Distribution]] = {
    cls.kind: cls
    for cls in (
        Constant,
        Categorical,
        IntUniform,
        Uniform,
        QUniform,
        LogUniform,
        LogUniformValues,
        QLogUniform,
        QLogUniformValues,
        InvLogUniform,
        InvLogUniformValues,
        Normal,
        QNormal,
        QLogNormal,
        Beta,
        QBeta,
        UniformPow2,
        LogitNormal,
    )
}
_WANDB_LOG_NORMAL_KEYS = ("mu", "sigma")
_PROTEIN_LOG_NORMAL_KEYS = ("min", "max", "mean", "scale")

DISTRIBUTION_NAMES: tuple[str, ...] = tuple(sorted([*_BY_NAME, "log_normal"]))
"""Every name ``distribution:`` accepts."""


def _field_names(cls: type[Distribution]) -> list[str]:
    return [f.name for f in fields(cls)]  # type: ignore[arg-type]


def _infer_kind(cfg: Mapping[str, Any]) -> str:
    """W&B's rules when ``distribution`` is absent."""
    if "value" in cfg:
        return "constant"
    if "values" in cfg:
        return "categorical"
    if "min" in cfg or "max" in cfg:
        ints = all(
            isinstance(cfg.get(k), (int, np.integer)) and not isinstance(cfg.get(k), bool)
            for k in ("min", "max")
        )
        return "int_uniform" if ints else "uniform"
    if "mu" in cfg or "sigma" in cfg:
        return "normal"
    keys = set(cfg) - {"distribution"}
    fits = [n for n, c in _BY_NAME.items() if keys and keys <= set(_field_names(c))]
    example = f"e.g. distribution: {fits[0]}; " if fits else ""
    raise _err(
        f"cannot tell the distribution from the keys {sorted(cfg)}",
        None,
        f"add distribution: NAME ({example}one of {', '.join(DISTRIBUTION_NAMES)})",
    )


def _resolve_class(cfg: Mapping[str, Any]) -> type[Distribution]:
    name = cfg.get("distribution")
    if name is None:
        name = _infer_kind(cfg)
    if not isinstance(name, str) or name not in DISTRIBUTION_NAMES:
        close = difflib.get_close_matches(str(name), DISTRIBUTION_NAMES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise _err(
            f"unknown distribution {name!r}",
            "distribution",
            f"{hint}valid names: {', '.join(DISTRIBUTION_NAMES)}",
        )
    if name != "log_normal":
        return _BY_NAME[name]
    wandb = any(k in cfg for k in _WANDB_LOG_NORMAL_KEYS)
    protein = any(k in cfg for k in _PROTEIN_LOG_NORMAL_KEYS)
    if wandb == protein:
        raise _err(
            "log_normal has two forms: W&B's {mu, sigma} (X = exp(Normal(mu, sigma))) or "
            "Protein's {min, max, mean, scale} (log scale between min and max)",
            "distribution",
            "give either mu/sigma or min/max (with optional mean/scale), not both",
        )
    return WandbLogNormal if wandb else ProteinLogNormal


def _check_keys(cfg: Mapping[str, Any], cls: type[Distribution]) -> None:
    for k in cfg:
        if k not in KNOWN_KEYS:
            close = difflib.get_close_matches(str(k), KNOWN_KEYS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
            raise _err(f"unknown key {k!r}", str(k), hint)
    accepted = _field_names(cls)
    for k in cfg:
        if k != "distribution" and k not in accepted:
            users = [
                n
                for n in DISTRIBUTION_NAMES
                if n != "log_normal" and k in _field_names(_BY_NAME[n])
            ]
            if k in (*_WANDB_LOG_NORMAL_KEYS, *_PROTEIN_LOG_NORMAL_KEYS):
                users.append("log_normal")
            raise _err(
                f"{k} does not apply to {cls.kind} (it takes {', '.join(accepted)})",
                str(k),
                f"remove {k}, or use a distribution that takes it: {', '.join(sorted(set(users)))}",
            )
    required = [
        f.name
        for f in fields(cls)  # type: ignore[arg-type]
        if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [k for k in required if k not in cfg]
    if missing:
        example = {"min": "min: 0", "max": "max: 1", "values": "values: [a, b]"}
        raise _err(
            f"{cls.kind} needs {' and '.join(required)}; missing {', '.join(missing)}",
            missing[0],
            "add " + ", ".join(example.get(k, f"{k}: ...") for k in missing),
        )


def find_interpolation(value: Any) -> str | None:
    """The first string holding ``${`` in a value (lists and mappings searched), else None."""
    if isinstance(value, str):
        return value if "${" in value else None
    if isinstance(value, Mapping):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        for item in value:
            found = find_interpolation(item)
            if found is not None:
                return found
    return None


def refuse_interpolations(value: Any, *, key: str, file: str | None) -> None:
    """Sweep values are data: an interpolation (``${oc.env:HOME}``) in one would be resolved
    into every run's config.yaml, leaking the sweeper's environment (secrets included)."""
    found = find_interpolation(value)
    if found is None:
        return
    shown = found if len(found) <= 60 else found[:59] + "…"
    raise SweepError(f"the value {shown!r} is an interpolation; sweep values are plain data",
                     file=file, key=key or None,
                     fix="write the value itself, or reference it from your own config instead")


def parse_distribution(
    cfg: Mapping[str, Any], *, key: str = "", file: str | None = None
) -> Distribution:
    """Build a :class:`Distribution` from its sweep-file mapping.

    Args:
        cfg: the parameter's block, e.g. ``{"distribution": "log_uniform_values", "min": 1e-4,
            "max": 1e-2}``; ``distribution`` may be left out (W&B's inference: ``value`` is a
            constant, ``values`` categorical, int ``min``/``max`` int_uniform, else uniform,
            ``mu``/``sigma`` normal).
        key: the parameter's dotted path, used in errors and warnings.
        file: the sweep file, used in errors and warnings.

    A :class:`Distribution` passed as ``cfg`` is returned unchanged. Warnings
    (:class:`SweepWarning`) name the file and the key the same way errors do.

    Raises:
        SweepError: naming ``file``, ``key`` (plus the offending sub-key) and a fix.
    """
    if isinstance(cfg, Distribution):
        return cfg
    if not isinstance(cfg, Mapping):
        raise SweepError(
            f"a parameter must be a mapping such as {{min: 0, max: 1}} or {{values: [a, b]}}, "
            f"got {cfg!r}",
            file=file,
            key=key or None,
            fix="for a fixed value write {value: X}",
        )
    plain = _plain(cfg)
    refuse_interpolations(plain.get("values"), key=f"{key}.values" if key else "values", file=file)
    refuse_interpolations(plain.get("value"), key=f"{key}.value" if key else "value", file=file)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls = _resolve_class(plain)
            _check_keys(plain, cls)
            args = {k: v for k, v in plain.items() if k != "distribution"}
            dist = cls(**args)
    except SweepError as e:
        raise e.located(file=file, key_prefix=key or None) from None
    prefix = ": ".join(p for p in (file, key) if p)
    for w in caught:
        msg = str(w.message)
        if issubclass(w.category, SweepWarning) and key:
            msg = f"{prefix}.{msg}"
        elif issubclass(w.category, SweepWarning) and file:
            msg = f"{file}: {msg}"
        warnings.warn(msg, w.category, stacklevel=2)
    return dist
