"""Discrete kinds: ``constant``, ``categorical`` (``values``), and the integer lattices
``int_uniform`` and ``uniform_pow2``."""

from __future__ import annotations

import copy
import math
from abc import abstractmethod
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nested_sweeper.errors import SweepError

if TYPE_CHECKING:
    import optuna
from nested_sweeper.schema import DEFAULT_SCALE
from nested_sweeper.space.base import (
    MAX_GRID_VALUES,
    Distribution,
    _canon,
    _check_grid_points,
    _clamp,
    _clip01,
    _config_value,
    _dedupe,
    _err,
    _fmt,
    _integer,
    _is_number,
    _loose_hash,
    _number,
    _plain,
    _truncnorm,
    _warn,
)
from nested_sweeper.space.continuous import (
    _bounds,
    _check_mean_scale,
)

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
        edges: tuple[float, ...] = vars(self)["_edges"]  # set once in __post_init__
        return (edges[i] + edges[i + 1]) / 2.0

    def from_unit(self, u: float) -> Any:
        edges: tuple[float, ...] = vars(self)["_edges"]  # set once in __post_init__
        i = min(bisect_right(edges, _clip01(u)) - 1, vars(self)["_last"])
        return copy.deepcopy(self.values[i])

    def grid_values(self) -> list[Any]:
        return [copy.deepcopy(v) for v in self.values]

    @property
    def center(self) -> Any:
        if self.probabilities is None:
            return copy.deepcopy(self.values[0])
        probs = self.probabilities
        best = max(range(len(self.values)), key=lambda i: (probs[i], -i))
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



# --- integer lattices: int_uniform, uniform_pow2 -----------------------------------------------


class _Lattice(Distribution):
    """Integer index e in [elo, ehi] with value v(e); every value owns an equal unit cell.

    The natural coordinate z (v itself, or log2 v) is extended by half a cell on each side,
    [elo - 0.5, ehi + 0.5], and mapped linearly to [0, 1]: ``from_unit(u) = v(elo +
    min(floor(u * n), n - 1))`` and ``to_unit(v)`` is the middle of v's cell. Protein's prior
    with ``mean`` draws z from the truncated normal on that extended range and rounds it.
    """

    mean: float | None
    scale: float
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
        return int(2 ** int(e))

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
