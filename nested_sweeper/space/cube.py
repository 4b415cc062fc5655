"""A whole space <-> points of the unit cube: the one encoding the model-based methods share.

Each ordered parameter becomes its distribution's ``to_unit`` coordinate in [0, 1] (so log,
log2 and logit scales are linear for a model); each categorical becomes the index of its
value. A key missing from a trial's params (a conditional parameter inactive in that run), or
a value the distribution cannot hold, is imputed at the distribution's ``center``. Bayes and
Protein both read their history and write their suggestions through ``UnitCube``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nested_sweeper.space.base import Distribution


def canonical(value: Any) -> Any:
    """A hashable form of one value; floats rounded so a database round trip still matches."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return float(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if not math.isfinite(v) or v == 0.0 else float(f"{v:.12g}")
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), canonical(v)) for k, v in value.items()))
    return repr(value)


def to_plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so suggestions serialize cleanly (YAML, JSON, SQL)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def category_index(dist: Distribution, value: Any) -> int | None:
    """Index of ``value`` among a categorical's values (None when it is not one of them)."""
    key = canonical(value)
    for i, v in enumerate(dist.grid_values() or []):
        if canonical(v) == key:
            return i
    return None


def unit_point(dist: Distribution, params: Mapping[str, Any], name: str) -> float:
    """One coordinate in [0, 1]; a missing or illegal value is imputed at the centre."""
    value = params.get(name, dist.center)
    try:
        u = float(dist.to_unit(value))
    except (TypeError, ValueError):
        u = float(dist.to_unit(dist.center))
    return min(1.0, max(0.0, u)) if math.isfinite(u) else 0.5


class UnitCube:
    """``encode``: params -> a point (unit coordinate, or category index); ``decode`` back."""

    def __init__(self, space: Mapping[str, Distribution]) -> None:
        self.space = dict(space)
        self.names = list(self.space)

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        out = np.empty(len(self.names))
        for i, (k, d) in enumerate(self.space.items()):
            if d.is_categorical:
                idx = category_index(d, params.get(k, d.center))
                out[i] = idx if idx is not None else (category_index(d, d.center) or 0)
            else:
                out[i] = unit_point(d, params, k)
        return out

    def decode(self, x: Sequence[float] | np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (k, d) in enumerate(self.space.items()):
            if d.is_categorical:
                out[k] = to_plain((d.grid_values() or [])[int(round(x[i]))])
            else:
                out[k] = to_plain(d.from_unit(float(np.clip(x[i], 0.0, 1.0))))
        return out
