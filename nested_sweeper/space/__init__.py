"""Distributions of sweep parameters: one frozen dataclass per kind, validated on construction.

Modules: ``base`` (the interface, maps, helpers), ``continuous``, ``discrete`` (constant,
categorical, integer lattices), ``quantized`` (the ``q_`` kinds), ``parse`` (a sweep file's
mapping -> a distribution) and ``cube`` (a whole space <-> the unit cube).

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

from nested_sweeper.space.base import (
    MAX_GRID_VALUES,
    MAX_Q_STEPS,
    TAIL,
    Distribution,
)
from nested_sweeper.space.continuous import (
    Beta,
    InvLogUniform,
    InvLogUniformValues,
    LogitNormal,
    LogUniform,
    LogUniformValues,
    Normal,
    ProteinLogNormal,
    Uniform,
    WandbLogNormal,
)
from nested_sweeper.space.discrete import (
    Categorical,
    Constant,
    IntUniform,
    UniformPow2,
)
from nested_sweeper.space.parse import (
    DISTRIBUTION_NAMES,
    find_interpolation,
    parse_distribution,
    refuse_interpolations,
)
from nested_sweeper.space.quantized import (
    QBeta,
    QLogNormal,
    QLogUniform,
    QLogUniformValues,
    QNormal,
    QUniform,
)

__all__ = [
    "DISTRIBUTION_NAMES",
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
    "find_interpolation",
    "parse_distribution",
    "refuse_interpolations",
]
