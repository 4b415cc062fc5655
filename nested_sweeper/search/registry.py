"""Method name -> class, and building a spec's method.

The one place that knows every method: ``methods`` (the protocol, grid, random), ``bayes``
and ``protein`` import nothing from each other beyond the protocol, so there is no import
circle, and the sweep file's names (``schema.METHODS``) are checked against this mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nested_sweeper.errors import SweepError
from nested_sweeper.schema import DEFAULT_GOAL
from nested_sweeper.search.bayes import Bayes
from nested_sweeper.search.methods import Grid, Random, SearchMethod
from nested_sweeper.search.protein import Protein

if TYPE_CHECKING:
    from nested_sweeper.space import Distribution
    from nested_sweeper.spec.spec import SweepSpec

METHODS: dict[str, type[SearchMethod]] = {"grid": Grid, "random": Random, "bayes": Bayes,
                                           "protein": Protein}


def make_method(
    name: str,
    space: Mapping[str, Distribution],
    *,
    goal: str = DEFAULT_GOAL,
    seed: int = 0,
    **kwargs: Any,
) -> SearchMethod:
    """Build the method called ``name``; an unknown name raises a ``SweepError`` listing all."""
    if name not in METHODS:
        raise SweepError(
            f"unknown search method {name!r}",
            key="sweep.method",
            fix=f"use one of: {', '.join(METHODS)}",
        )
    return METHODS[name](space, goal=goal, seed=seed, **kwargs)


def method_for(spec: SweepSpec, name: str | None = None, seed: int | None = None,
               **kwargs: Any) -> SearchMethod:
    """The search method of ``spec`` (or the one called ``name``); its errors name the file."""
    seed = next(s for s in (seed, spec.seed, 0) if s is not None)
    try:
        method = make_method(name or spec.method, spec.space, goal=spec.goal, seed=seed, **kwargs)
    except SweepError as err:
        raise err.located(file=spec.file) from None
    method.active = spec.active_params
    return method
