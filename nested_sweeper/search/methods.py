"""Search methods: stateless functions of (space, history, n) plus a seed.

The protocol (in the spirit of ``optuna/samplers/_base.py`` and W&B's ``next_runs``):

* A method is built once per sweep from the search space (dotted path -> ``Distribution``),
  the goal (``"maximize"``/``"minimize"``), a seed and its own settings (unknown settings
  raise :class:`SweepError` listing the valid ones).
* Before every round the caller passes the *whole* history (``TrialRecord`` s, RUNNING ones
  included) and asks for ``n`` suggestions. The method returns ``n`` parameter dicts holding
  a legal value for every key of the space, distinct from each other and from the history
  when the space allows it; fewer than ``n`` only when the space is finite and used up
  (:meth:`SearchMethod.exhausted`).
* Methods keep no state between calls that changes a result (caches only save time): the
  same seed and the same history give the same suggestions, also in a fresh instance (the
  random stream is derived from ``(seed, len(history))``). They never see a database,
  Hydra or Optuna storage.
* History rules shared by every model-based method: values are in the user's direction
  (``goal`` says which way is better); FAIL records and non-finite values count as the worst
  observed value (W&B's rule), so the search steers away from where runs crash; RUNNING
  records are "pending" points that a batch should spread away from; a key missing from a
  record's params (a conditional parameter inactive in that run) is imputed at the
  distribution's ``center``.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import logging
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nested_sweeper.errors import SweepError
from nested_sweeper.records import INTERRUPTED, TrialRecord, TrialState
from nested_sweeper.schema import GOALS
from nested_sweeper.space.cube import canonical, to_plain

if TYPE_CHECKING:

    from nested_sweeper.space import Distribution

# Random draws before giving up on distinctness (a small finite space may have no new point).
_MAX_DRAWS = 64


# --------------------------------------------------------------------------- helpers


def params_key(params: Mapping[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    """The identity of a suggestion over ``names`` (missing keys become a marker)."""
    return tuple(canonical(params[k]) if k in params else ("<missing>",) for k in names)


def imputed_scores(history: Sequence[TrialRecord], goal: str) -> list[tuple[TrialRecord, float]]:
    """Finished trials with a score where higher is better; failures get the worst score.

    Failed (and non-finite) trials carry the worst observed score so the model learns their
    region is bad; with no finite observation at all they are left out (nothing to impute).
    """
    sign = 1.0 if goal == "maximize" else -1.0
    ok = [(r, sign * r.value) for r in history if r.ok and r.value is not None]
    if not ok:
        return []
    worst = min(s for _, s in ok)
    bad = [(r, worst) for r in history if r.state.finished and not r.ok and not interrupted(r)]
    return sorted(ok + bad, key=lambda rs: rs[0].number)


def interrupted(record: TrialRecord) -> bool:
    """A run whose worker died (killed sweep, lost node): says nothing about its parameters."""
    return record.state is TrialState.FAIL and record.attrs.get("fail_reason") == INTERRUPTED


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence Optuna's INFO logs and experimental warnings, restoring the user's level."""
    import optuna

    logger = logging.getLogger("optuna")
    old = logger.level
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        logger.setLevel(old)


class single_thread:
    """One torch thread and one BLAS thread while a model is fitted, restored on exit.

    GP fitting is many small matrix operations: on shared CPUs, spinning OpenMP/OpenBLAS
    threads made a suggestion 2-4x slower (measured on this project's 2-core machine).
    BLAS is limited through ``threadpoolctl`` when it is installed (not a hard dependency).
    """

    def __init__(self, torch: bool = True) -> None:
        self.torch = torch  # False: leave torch alone (and unimported), e.g. for TPE

    def __enter__(self) -> None:
        if self.torch:
            import torch

            self.old = torch.get_num_threads()
            torch.set_num_threads(1)
        try:
            from threadpoolctl import threadpool_limits

            self.blas: Any = threadpool_limits(limits=1, user_api="blas")
        except ImportError:
            self.blas = None

    def __exit__(self, *exc: object) -> None:
        if self.torch:
            import torch

            torch.set_num_threads(self.old)
        if self.blas is not None:
            self.blas.restore_original_limits()


# --------------------------------------------------------------------------- the protocol


class SearchMethod(ABC):
    """Base class of the search methods (see the module docstring for the protocol).

    Subclasses implement :meth:`suggest`; :meth:`exhausted` and :meth:`reseed` have defaults.
    Method-specific settings are keyword arguments of the subclass ``__init__`` and come from
    the sweep file's ``sweep:`` block (e.g. ``n_startup_trials``).

    Args:
        space: dotted parameter path -> distribution, in the order the user wrote them.
        goal: ``"maximize"`` or ``"minimize"``: the direction of ``TrialRecord.value``.
        seed: the seed every random choice derives from.
    """

    name: ClassVar[str]

    def __init__(
        self,
        space: Mapping[str, Distribution],
        *,
        goal: str = "maximize",
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            valid = self.setting_names()
            raise SweepError(
                f"unknown setting(s) {sorted(kwargs)} for method {self.name!r}",
                key="sweep",
                fix=f"valid settings: {', '.join(valid) or '(none)'}",
            )
        if goal not in GOALS:
            raise SweepError(f"goal must be one of {list(GOALS)}, got {goal!r}", key="sweep.goal")
        self.space: dict[str, Distribution] = dict(space)
        self.names: list[str] = list(self.space)
        self.goal = goal
        self.seed = int(seed)
        # The suggestion as it will run: the sweep spec drops parameters whose `when`
        # condition fails, so two suggestions that differ only there are the same run.
        self.active: Callable[[Mapping[str, Any]], Mapping[str, Any]] = dict

    @classmethod
    def setting_names(cls) -> list[str]:
        """The method-specific keyword settings its constructor accepts."""
        base = {"self", "space", "goal", "seed", "kwargs"}
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p not in base]

    @abstractmethod
    def suggest(self, history: Sequence[TrialRecord], n: int) -> list[dict[str, Any]]:
        """``n`` new parameter dicts (dotted path -> legal value).

        Args:
            history: every trial so far, RUNNING ones included.
            n: how many suggestions to return (fewer only when the space is used up).
        """

    def exhausted(self, history: Sequence[TrialRecord]) -> bool:
        """True when no new suggestion is possible (only finite methods such as Grid)."""
        return False

    def capacity(self, history: Sequence[TrialRecord]) -> int | None:
        """How many new suggestions are left; None when there is no end (all but Grid)."""
        return None

    def reseed(self, seed: int) -> None:
        """Use another seed from now on (e.g. a second sweep worker)."""
        self.seed = int(seed)

    # Shared tools for subclasses -------------------------------------------------------

    def rng(self, history: Sequence[TrialRecord], salt: int = 0) -> np.random.Generator:
        """The call's random stream: a function of the seed and the history length only."""
        return np.random.default_rng([self.seed, len(history), salt])

    def sample_prior(self, rng: np.random.Generator) -> dict[str, Any]:
        """One draw from every distribution's prior."""
        return {k: to_plain(d.sample(rng)) for k, d in self.space.items()}

    def identity(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """What makes two suggestions the same run (inactive parameters left out)."""
        return params_key(self.active(params), self.names)

    def taken_keys(self, history: Sequence[TrialRecord]) -> set[tuple[Any, ...]]:
        """Identities of every point already in the history (any state)."""
        return {self.identity(r.params) for r in history}

    def make_distinct(
        self,
        proposals: Sequence[dict[str, Any]],
        history: Sequence[TrialRecord],
        rng: np.random.Generator,
    ) -> list[dict[str, Any]]:
        """Keep proposals new to the history and batch; replace repeats by prior draws.

        A model may propose an already-tried point (an int rounding back onto a tried value,
        a tiny space): a random draw is a better use of the run than a repeat. When the space
        has no new point left after ``_MAX_DRAWS`` tries, the repeat is kept.
        """
        seen = self.taken_keys(history)
        out: list[dict[str, Any]] = []
        for prop in proposals:
            candidate = prop
            for _ in range(_MAX_DRAWS):
                if self.identity(candidate) not in seen:
                    break
                candidate = self.sample_prior(rng)
            seen.add(self.identity(candidate))
            out.append(candidate)
        return out


# --------------------------------------------------------------------------- grid


class Grid(SearchMethod):
    """Every combination of the parameters' ``grid_values()``, in a fixed order.

    The order is the product of the parameters in the order they were written (the last one
    varies fastest). A combination is taken once a trial holds it in any state except FAIL;
    a combination whose trials all failed is offered once more (one retry: a crash may be a
    flaky machine) and is taken after two failures.
    """

    name = "grid"
    max_failures: ClassVar[int] = 2

    def __init__(
        self,
        space: Mapping[str, Distribution],
        *,
        goal: str = "maximize",
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(space, goal=goal, seed=seed, **kwargs)
        self.axes: list[list[Any]] = []
        for key, dist in self.space.items():
            values = dist.grid_values()
            if values is None:
                raise SweepError(
                    "method grid needs a finite set of values for every parameter",
                    key=f"sweep.parameters.{key}",
                    fix="set grid_points: N on this parameter, or list its values: [...]",
                )
            self.axes.append([to_plain(v) for v in values])

    @property
    def size(self) -> int:
        """The number of combinations."""
        return math.prod(len(a) for a in self.axes)

    def combos(self) -> Iterator[dict[str, Any]]:
        """All combinations in the grid's fixed order."""
        for values in itertools.product(*self.axes):
            yield dict(zip(self.names, values))

    def _taken(self, history: Sequence[TrialRecord]) -> set[tuple[Any, ...]]:
        fails: dict[tuple[Any, ...], int] = {}
        taken: set[tuple[Any, ...]] = set()
        for r in history:
            key = self.identity(r.params)
            if interrupted(r):  # the point was never really tried: offer it again
                continue
            if r.state is TrialState.FAIL:
                fails[key] = fails.get(key, 0) + 1
                if fails[key] >= self.max_failures:
                    taken.add(key)
            else:
                taken.add(key)
        return taken

    def suggest(self, history: Sequence[TrialRecord], n: int) -> list[dict[str, Any]]:
        taken = self._taken(history)
        out: list[dict[str, Any]] = []
        for combo in self.combos():
            if len(out) >= n:
                break
            key = self.identity(combo)
            if key not in taken:  # combos differing only in inactive parameters run once
                taken.add(key)
                out.append(combo)
        return out

    def exhausted(self, history: Sequence[TrialRecord]) -> bool:
        return not self.suggest(history, 1)

    def capacity(self, history: Sequence[TrialRecord]) -> int | None:
        return len(self.suggest(history, self.size))


# --------------------------------------------------------------------------- random


class Random(SearchMethod):
    """Independent draws from each distribution's prior, distinct within the batch."""

    name = "random"

    def suggest(self, history: Sequence[TrialRecord], n: int) -> list[dict[str, Any]]:
        rng = self.rng(history)
        proposals = [self.sample_prior(rng) for _ in range(max(0, n))]
        return self.make_distinct(proposals, history, rng)
