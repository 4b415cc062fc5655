"""``method: protein``: cost-aware Gaussian-process search in the spirit of PufferLib's Protein.

How one suggestion is made:

1. Every parameter is mapped to [0, 1] by its distribution's ``to_unit`` (log for
   ``log_normal``, log2 for ``uniform_pow2``, logit for ``logit_normal``: the scale the
   distribution is linear in); categoricals become category indices with a Hamming kernel.
   A parameter missing from a trial (inactive conditional) sits at its ``center``.
2. Warm-up: the very first suggestion is the search centre (every ``center``: the user's
   ``mean`` s, as Protein and CARBS start), then scrambled Sobol points until ``n_init``
   trials have finished.
3. Scores (the metric turned "higher is better"; failed runs get the worst score seen, so
   the search steers away from where runs crash) are warped (``output_warp``) and
   standardized, and a GP (Matern 5/2 ARD, MAP hyperparameters, see ``_gp.py``) is fitted.
4. Cost-aware mode (when trials report a ``cost`` that varies): a second GP models log cost,
   and the acquisition is log expected improvement minus ``cost_weight`` x predicted log
   cost (EI per unit cost). Candidates are drawn around the score/cost Pareto front.
5. Candidates: Sobol points over the whole space plus Gaussian perturbations of the best
   trials (and of the Pareto front) with widths from each distribution's ``scale``; the best
   few by acquisition are polished by L-BFGS-B on the continuous inputs.
6. Batches (``num_samples`` > 1) and RUNNING trials: each chosen point is added to the GP as
   a pending observation at its predicted mean ("kriging believer"), which removes the
   model's uncertainty there and pushes the next choice elsewhere.

Everything random derives from ``(seed, len(history))``: the same seed and history give the
same suggestions. Settings and their measured defaults are documented on :class:`Protein`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import SweepError
from ._methods import SearchMethod, category_index, imputed_scores, to_plain, unit_point
from ._types import TrialRecord, TrialState

if TYPE_CHECKING:
    import torch

    from ._distributions import Distribution
    from ._gp import GP, Hyper

OUTPUT_WARPS = ("none", "rank", "power")


class Protein(SearchMethod):
    """Cost-aware GP search (see the module docstring for the algorithm).

    Args:
        n_init: finished trials before the GP is used (the first is the search centre, the
            rest Sobol points).
        cost_aware: use the trials' ``cost`` when it is reported and varies.
        cost_weight: exponent of the cost in EI / cost**w (0 ignores cost, 1 is EI per cost).
        output_warp: ``power`` (Yeo-Johnson), ``rank`` (normal scores) or ``none``:
            how scores are made Gaussian-looking before the fit.
        n_candidates: Sobol plus local candidates scored per suggestion.
        n_polish: best candidates refined by L-BFGS-B.
        max_fit: GP hyperparameters are fitted on at most this many trials (speed at 500).
        deterministic: assume a noise-free objective (analytic benchmarks); off for training
            runs, whose scores are noisy.
    """

    name = "protein"

    def __init__(
        self,
        space: Mapping[str, Distribution],
        *,
        goal: str = "maximize",
        seed: int = 0,
        n_init: int = 4,
        cost_aware: bool = True,
        cost_weight: float = 1.0,
        output_warp: str = "power",
        n_candidates: int = 1024,
        n_polish: int = 4,
        max_fit: int = 192,
        deterministic: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(space, goal=goal, seed=seed, **kwargs)
        if output_warp not in OUTPUT_WARPS:
            raise SweepError(
                f"unknown output_warp {output_warp!r}",
                key="sweep.output_warp",
                fix=f"use one of {list(OUTPUT_WARPS)}",
            )
        if int(n_init) < 1:
            raise SweepError("n_init must be >= 1", key="sweep.n_init")
        self.n_init = int(n_init)
        self.cost_aware = bool(cost_aware)
        self.cost_weight = float(cost_weight)
        self.output_warp = output_warp
        self.n_candidates = int(n_candidates)
        self.n_polish = int(n_polish)
        self.max_fit = int(max_fit)
        self.deterministic = bool(deterministic)
        dists = list(self.space.values())
        self.is_cat = np.array([d.is_categorical for d in dists], dtype=bool)
        self.n_cats = np.array(
            [len(d.grid_values() or []) if d.is_categorical else 0 for d in dists]
        )
        # widths of local moves in the unit cube: Protein's scale is on [-1, 1] (width 2)
        self.widths = np.array([float(getattr(d, "scale", 0.5) or 0.5) / 2.0 for d in dists])
        # warm start of the hyperparameter fit: the last fit (speed only; see _fit)
        self._hyper_cache: dict[str, tuple[int, Hyper]] = {}

    # ------------------------------------------------------------------ encoding

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Params -> a point in the model's space (unit cube; category index)."""
        out = np.empty(len(self.names))
        for i, (k, d) in enumerate(self.space.items()):
            if d.is_categorical:
                idx = category_index(d, params.get(k, d.center))
                out[i] = idx if idx is not None else (category_index(d, d.center) or 0)
            else:
                out[i] = unit_point(d, params, k)
        return out

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (k, d) in enumerate(self.space.items()):
            if d.is_categorical:
                out[k] = to_plain((d.grid_values() or [])[int(round(x[i]))])
            else:
                out[k] = to_plain(d.from_unit(float(np.clip(x[i], 0.0, 1.0))))
        return out

    def snap(self, x: np.ndarray) -> np.ndarray:
        """The model coordinates of the legal value ``x`` decodes to (ints, powers of two)."""
        return self.encode(self.decode(x))

    # ------------------------------------------------------------------ suggest

    def suggest(self, history: Sequence[TrialRecord], n: int) -> list[dict[str, Any]]:
        if n <= 0:
            return []
        if not self.space:
            return [{} for _ in range(n)]
        rng = self.rng(history)
        scored = imputed_scores(history, self.goal)
        pending = [self.encode(r.params) for r in history if r.state is TrialState.RUNNING]
        n_model = n - self._warmup_count(history, scored, n)
        proposals = self._warmup(history, n - n_model, rng)
        if n_model:
            import torch

            with torch.device("cpu"), _one_thread():
                proposals += self._model_suggest(scored, pending, n_model, rng)
        return self.make_distinct(proposals, history, rng)

    def _warmup_count(
        self, history: Sequence[TrialRecord], scored: list[tuple[TrialRecord, float]], n: int
    ) -> int:
        """How many of the ``n`` come from warm-up: all until the model has enough data."""
        enough = len(scored) >= self.n_init and len({s for _, s in scored}) > 1
        return 0 if enough else n

    def _warmup(
        self, history: Sequence[TrialRecord], n: int, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        """The search centre first, then one scrambled Sobol sequence per seed.

        The sequence is fast-forwarded by the history length, so successive warm-up rounds
        continue it (low discrepancy across rounds) and the result depends only on the seed
        and the history length.
        """
        if n <= 0:
            return []
        import warnings

        from scipy.stats import qmc

        out: list[dict[str, Any]] = []
        if not history:
            out.append({k: to_plain(d.center) for k, d in self.space.items()})
        sobol = qmc.Sobol(len(self.names), scramble=True, seed=self.seed)
        if history:
            sobol.fast_forward(len(history))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "balance properties" for n != 2**k
            u = sobol.random(n)
        for row in u[len(out) :]:
            out.append(self.decode(self._unit_to_model(row)))
        return out

    def _unit_to_model(self, u: np.ndarray) -> np.ndarray:
        """Uniform [0, 1) draws -> model coordinates (category index for categoricals)."""
        x = np.array(u, dtype=float)
        cat = self.is_cat
        x[cat] = np.minimum(np.floor(u[cat] * self.n_cats[cat]), self.n_cats[cat] - 1)
        return x

    # ------------------------------------------------------------------ model

    def _model_suggest(
        self,
        scored: list[tuple[TrialRecord, float]],
        pending: list[np.ndarray],
        n: int,
        rng: np.random.Generator,
    ) -> list[dict[str, Any]]:
        import torch

        from ._gp import log_ei

        X = np.array([self.encode(r.params) for r, _ in scored])
        y = warp(np.array([s for _, s in scored]), self.output_warp)
        gp = self._fit("score", X, y, rng)
        cost_gp, cost_std = self._cost_model(scored, X, rng)
        best = float(y.max())
        anchors = self._anchors(X, y, scored)
        out: list[dict[str, Any]] = []
        model = gp
        chosen: list[np.ndarray] = list(pending)
        for _ in range(n):
            if chosen:
                Xp = torch.from_numpy(np.array(chosen))
                with torch.no_grad():
                    model = gp.condition(Xp, gp.posterior(Xp)[0])

            def acq(x: torch.Tensor, model: GP = model) -> torch.Tensor:
                mean, var = model.posterior(x)
                a = log_ei(mean, var, best)
                if cost_gp is not None:
                    a = a - self.cost_weight * cost_std * cost_gp.posterior(x)[0]
                return a

            x = self._maximize(acq, anchors, rng)
            chosen.append(x)
            out.append(self.decode(x))
        return out

    def _fit(self, key: str, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> GP:
        from ._gp import fit_gp

        prev = self._hyper_cache.get(key)
        # warm start only from a fit on fewer trials of this run: the optimum moves little
        init = prev[1] if prev is not None and prev[0] <= len(y) else None
        gp = fit_gp(
            X,
            y,
            self.is_cat,
            init=init,
            max_fit=self.max_fit,
            deterministic=self.deterministic,
            rng=rng,
        )
        self._hyper_cache[key] = (len(y), gp.hyper)
        return gp

    def _cost_model(
        self,
        scored: list[tuple[TrialRecord, float]],
        X: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[GP | None, float]:
        """A GP of standardized log cost, and the std that turns it back into log units."""
        if not self.cost_aware or self.cost_weight == 0.0:
            return None, 0.0
        costs = np.array([_positive(r.cost) for r, _ in scored])
        ok = np.isfinite(costs)
        if ok.sum() < self.n_init:
            return None, 0.0
        logc = np.log(costs[ok])
        std = float(logc.std())
        if std < 1e-3:  # every run cost the same: nothing to trade off
            return None, 0.0
        return self._fit("cost", X[ok], (logc - logc.mean()) / std, rng), std

    def _anchors(
        self, X: np.ndarray, y: np.ndarray, scored: list[tuple[TrialRecord, float]]
    ) -> np.ndarray:
        """Points to search around: the best trials and the score/cost Pareto front."""
        top = X[np.argsort(-y, kind="stable")[:5]]
        costs = np.array([_positive(r.cost) for r, _ in scored])
        if not self.cost_aware or not np.isfinite(costs).any():
            return top
        front = pareto_front(y, np.where(np.isfinite(costs), costs, np.inf))
        return np.unique(np.concatenate([top, X[front][:16]]), axis=0)

    # ------------------------------------------------------------------ acquisition

    def _candidates(self, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from scipy.stats import qmc

        d = len(self.names)
        n_global = 2 ** max(1, int(math.log2(max(2, self.n_candidates // 2))))
        glob = qmc.Sobol(d, scramble=True, seed=rng).random(n_global)  # a power of 2: balanced
        glob = np.array([self._unit_to_model(u) for u in glob])
        n_local = self.n_candidates - n_global
        base = anchors[rng.integers(len(anchors), size=n_local)]
        # three radii: a wide jump, the prior's width, a fine step near an optimum
        radius = rng.choice([1.0, 0.25, 0.05], size=(n_local, 1)) * self.widths * 2.0
        local = base + rng.normal(size=base.shape) * radius
        local = np.clip(local, 0.0, 1.0)
        if self.is_cat.any():
            flip = (rng.random(size=base.shape) < 1.0 / d) & self.is_cat
            newcat = self._unit_to_model(rng.random(size=base.shape[1]))
            local = np.where(flip, newcat, base * self.is_cat + local * ~self.is_cat)
        return np.concatenate([glob, local, anchors])

    def _maximize(self, acq: Any, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import torch

        cand = self._candidates(anchors, rng)
        with torch.no_grad():
            vals = acq(torch.from_numpy(cand)).numpy()
        vals = np.where(np.isfinite(vals), vals, -np.inf)
        starts = cand[np.argsort(-vals, kind="stable")[: self.n_polish]]
        xs, fs = self._polish(acq, starts)
        i = int(np.argmax(fs))
        if not np.isfinite(fs[i]):
            return self.snap(cand[int(np.argmax(vals))])
        return self.snap(xs[i])

    def _polish(self, acq: Any, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """L-BFGS-B on the continuous inputs of every start at once (a sum of separate terms)."""
        import torch
        from scipy.optimize import minimize

        cont = ~self.is_cat
        if not cont.any():
            with torch.no_grad():
                return starts, acq(torch.from_numpy(starts)).numpy()
        fixed = starts.copy()
        m = len(starts)

        def f(v: np.ndarray) -> tuple[float, np.ndarray]:
            x = torch.from_numpy(fixed.copy())
            xc = torch.from_numpy(v.reshape(m, -1)).requires_grad_(True)
            x[:, torch.from_numpy(cont)] = xc
            vals = acq(x)
            total = -vals.sum()
            total.backward()
            g = xc.grad.numpy().ravel()  # type: ignore[union-attr]
            value = total.detach().item()
            if not np.isfinite(value):
                return 1e10, np.zeros_like(v)
            return value, np.nan_to_num(g)

        res = minimize(
            f,
            starts[:, cont].ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * int(cont.sum()) * m,
            options={"maxiter": 40},
        )
        xs = starts.copy()
        xs[:, cont] = res.x.reshape(m, -1)
        with torch.no_grad():
            f_new = acq(torch.from_numpy(xs)).numpy()
            f_old = acq(torch.from_numpy(starts)).numpy()
        better = f_new >= f_old
        return np.where(better[:, None], xs, starts), np.where(better, f_new, f_old)


# ---------------------------------------------------------------------- pure helpers


def _positive(cost: float | None) -> float:
    return float(cost) if cost is not None and math.isfinite(cost) and cost > 0 else math.nan


def warp(y: np.ndarray, how: str) -> np.ndarray:
    """Scores (higher is better) -> standardized, optionally Gaussianized, model targets."""
    y = np.asarray(y, dtype=float)
    if how == "rank" and len(y) > 2:
        from scipy.special import ndtri
        from scipy.stats import rankdata

        y = ndtri((rankdata(y) - 0.5) / len(y))
    elif how == "power" and len(y) > 2 and np.ptp(y) > 0:
        from scipy.stats import yeojohnson

        z = (y - y.mean()) / y.std()
        try:
            y = yeojohnson(z)[0]
        except (ValueError, FloatingPointError):  # pragma: no cover - scipy edge cases
            y = z
    std = y.std()
    return (y - y.mean()) / (std if std > 0 else 1.0)


def pareto_front(score: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the trials no other trial beats on both higher score and lower cost."""
    order = np.lexsort((-score, cost))  # by cost, ties: best score first
    front, best = [], -np.inf
    for i in order:
        if score[i] > best:
            front.append(int(i))
            best = score[i]
    return np.array(front, dtype=int)


class _one_thread:
    """Limit torch to one intra-op thread while fitting (small matrices, shared CPUs).

    Many tiny ops: OpenMP threads spinning on 2 shared cores made them several times slower.
    The user's setting is restored on exit.
    """

    def __enter__(self) -> None:
        import torch

        self.old = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.old)
