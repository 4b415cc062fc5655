"""The ``q_`` kinds: a continuous base quantized as W&B does, ``round(x / q) * q``."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np

from nested_sweeper.errors import SweepError

if TYPE_CHECKING:
    import optuna
from nested_sweeper.space.base import (
    MAX_GRID_VALUES,
    MAX_Q_STEPS,
    Distribution,
    _canon,
    _check_grid_points,
    _check_span,
    _clamp,
    _clip01,
    _err,
    _fmt,
    _grid_units,
    _is_number,
    _linear_map,
    _log_map,
    _Map,
    _nice,
    _positive,
)
from nested_sweeper.space.continuous import (
    _ab,
    _bounds,
    _exp_bounds,
    _normal_cdf,
    _warn_value_like_exponents,
)

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
        return cast(_Map, vars(self)["_map"])  # set once by _set_base on the frozen instance

    @property
    def _steps(self) -> tuple[int, int]:
        """The lowest and highest multiple of q in the support (set once by _set_base)."""
        return cast("tuple[int, int]", vars(self)["_k"])

    @property
    def is_int(self) -> bool:
        return self.q.is_integer()

    def _value(self, k: int) -> Any:
        if self.is_int:
            return int(k) * int(self.q)
        return _nice(k * self.q)

    def _index(self, y: float) -> int:
        klo, khi = self._steps
        return int(_clamp(round(y / self.q), klo, khi))

    def _quantize(self, y: float) -> Any:
        return self._value(self._index(y))

    @property
    def low(self) -> Any:
        return self._value(self._steps[0])

    @property
    def high(self) -> Any:
        return self._value(self._steps[1])

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
        klo, khi = self._steps
        return khi - klo + 1

    def grid_values(self) -> list[Any] | None:
        if self.grid_points is not None:
            units = _grid_units(self.grid_points, self._m.bounded)
            return sorted({_canon(v): v for v in (self.from_unit(u) for u in units)}.values())
        if not self._m.bounded:
            return None
        klo, khi = self._steps
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
        klo, khi = self._steps
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
        self._set_base(_normal_cdf(self, log=False))

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
        self._set_base(_normal_cdf(self, log=True))

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
