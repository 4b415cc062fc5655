"""The interface every distribution implements (``Distribution``), the value <-> unit maps
and the small validation helpers the kinds share."""

from __future__ import annotations

import copy
import json
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nested_sweeper.errors import SweepError, SweepWarning

if TYPE_CHECKING:
    import optuna
from nested_sweeper.schema import DEFAULT_SCALE

TAIL = 1e-12
"""Unbounded kinds keep ``u`` in [TAIL, 1 - TAIL] (about +-7.03 sigma): no infinities, ever."""

MAX_GRID_VALUES = 100_000
"""``grid_values()`` refuses to list more values than this; ``grid_size()`` tells first."""

MAX_Q_STEPS = 1e12
"""``q_`` kinds refuse supports more than this many multiples of q away from 0."""

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
    x = float(u)
    if math.isnan(x):
        raise ValueError("the unit coordinate u must be a number in [0, 1], got nan")
    return min(max(x, 0.0), 1.0)


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
    return float(10.0**z)


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

    @abstractmethod
    def to_optuna(self) -> optuna.distributions.BaseDistribution:
        """An Optuna distribution that contains every legal value."""

    def to_config(self) -> dict[str, Any]:
        """The sweep-file form; ``parse_distribution(d.to_config()) == d``."""
        cfg: dict[str, Any] = {"distribution": self.kind}
        for f in fields(self):  # type: ignore[arg-type]  # each concrete kind is a dataclass; the ABC is not
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
