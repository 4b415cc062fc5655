"""``method: protein``: cost-aware Gaussian-process search in the spirit of PufferLib's Protein.

How one suggestion is made:

1. Every parameter is mapped to [0, 1] by its distribution's ``to_unit`` (log for
   ``log_normal``, log2 for ``uniform_pow2``, logit for ``logit_normal``: the scale the
   distribution is linear in); integers sit at the middle of their unit cell, categoricals
   become category indices with a Hamming kernel. A parameter missing from a trial (an
   inactive conditional parameter) sits at its ``center``.
2. Warm-up: the very first suggestion is the search centre (every ``center``: the user's
   ``mean`` s, as Protein and CARBS start), then scrambled Sobol points until ``n_init``
   trials have finished.
3. Scores (the metric turned "higher is better"; failed runs get the worst score seen) are
   warped (``output_warp``) and standardized, and a GP (Matern 5/2 ARD, MAP hyperparameters,
   see ``gp.py``; its prior mean ``prior_mean`` below the average score) is fitted. When
   some runs crashed, a second GP of "finished vs crashed" multiplies the acquisition by
   the probability of finishing, so crash regions are avoided sharply rather than through
   a smoothed-over bad score.
4. Cost-aware mode (when trials report a ``cost`` that varies, e.g. environment steps or
   seconds): a third GP models log cost, the acquisition is log expected improvement minus
   ``cost_weight`` x predicted log cost (EI per unit of cost), and candidates are also
   drawn around the score/cost Pareto front. Early on every run improves on cheap ones, so
   the search climbs from cheap to costly settings as the model learns where good ones are.
5. Candidates: Sobol points over the whole space plus Gaussian perturbations of the best
   trials and the front, with widths from each distribution's ``scale``; the best few by
   acquisition (and the incumbent) are polished by L-BFGS-B on the continuous inputs, then
   by a coordinate search over categories and nearby integers, then L-BFGS-B again.
6. Exploitation: every 4th trial goes to the peak of the posterior mean of a local GP of
   the trials nearest the incumbent, inside the box they span (it resolves the optimum);
   once even the best point's EI is tiny (``exploit_log_ei``), the trials between those
   go to the global GP's peak, searched from the best trials. Neither is taken when it
   is a tried point or on an edge.
7. Batches (``num_samples`` > 1) and RUNNING trials: each chosen point is added to the GP as
   an exact observation of its predicted mean ("kriging believer"), which removes the
   model's uncertainty there and pushes the next choice elsewhere.

Everything random derives from ``(seed, len(history))`` and GP hyperparameters are fitted
from fixed starting values at fixed refit points, so the same seed and history give the same
suggestions, also in a fresh instance (a resumed sweep). Settings and how their defaults
were measured are documented on :class:`Protein`; figures are in ``bench/README.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialRecord, TrialState
from nested_sweeper.search.methods import SearchMethod, imputed_scores, single_thread
from nested_sweeper.space.cube import UnitCube, to_plain

if TYPE_CHECKING:
    import torch

    from nested_sweeper.search.gp import GP, Hyper
    from nested_sweeper.space import Distribution

OUTPUT_WARPS = ("none", "rank", "power")


class Protein(SearchMethod):
    """Cost-aware GP search (see the module docstring for the algorithm).

    Defaults were chosen by measurement on the ``bench/optimizers.py`` problems (seeds 0-39,
    10-20 seeds per comparison); the published table uses seeds 40-59, never tuned on.

    Args:
        n_init: finished trials before the GP is used (the first is the search centre, the
            rest Sobol points). 3 beat 4-6 at 50 trials on ackley5 and the mixed-type
            function and tied elsewhere; 2 was worse on 4 of 6.
        cost_aware: use the trials' ``cost`` when it is reported and varies.
        cost_weight: exponent of the cost in EI / cost**w (0 ignores cost, 1 is EI per
            cost). 1 and 0.75 tied on the cost-aware problem (20 seeds); 0.5 was worse.
        output_warp: ``power`` (Yeo-Johnson), ``rank`` (normal scores) or ``none``: how
            scores are made Gaussian-looking before the fit. ``power`` beat ``none`` on
            mixed, hartmann6, branin and the cost-aware problem, and ``rank`` (which
            loses the magnitudes) on mixed and ackley5.
        n_candidates: Sobol plus local candidates scored per suggestion (2048 gave no gain
            on hartmann6).
        n_polish: candidates refined by L-BFGS-B (6 beat 4 on hartmann6, rosenbrock4 and
            mixed, lost slightly on ackley5).
        max_fit: GP hyperparameters are fitted on at most this many trials (the best half
            and a random half of the rest); the posterior always uses every trial.
        deterministic: assume a noise-free objective. Off by default because training
            runs are noisy; on noise-free functions it sharpens the end of a search
            (branin 1.2e-5 instead of 4.9e-5 median regret at 50 trials).
        seed_with_search_center: make the first suggestion the search centre (PufferLib's
            and Metta's ``seed_with_search_center``); off, warm-up is Sobol points only.
        max_cost: PufferLib's ``max_suggestion_cost``: once the cost model exists, points
            whose predicted cost is above this are only chosen when no point under it is
            left (None: no cap).
        fit_restarts: extra starts of the GP hyperparameter fit (one noise-free, the rest
            random; the best posterior wins, so a fit is never worse than with 0). On the
            tuning functions of ``bench/optimizers.py`` (levy4, styblinski4, shekel4;
            seeds 0-7, 50 trials) a restart won in about 6% of the refits, and 3 against
            0 moved the median regret from 26.5 to 19.2 (styblinski4), 7.78 to 7.38
            (shekel4) and 0.087 to 0.087 (levy4): small, within the seeds' spread.
        exploit_log_ei: once the best point's acquisition (log EI, in units of the
            standardized score) is below this, every 4th trial (numbers 0 mod 4) goes to
            the peak of the posterior mean instead: EI that small is spent on far, unlikely
            places, while the incumbent's basin is not yet resolved. None turns off this
            and the local turns below. Chosen on seeds 0-19 (50 trials; the published
            tables use seeds 40-49), -4 against off, median regret: rosenbrock4 26 to 9.9,
            shekel4 0.46 to 0.18, ackley5 2.38 to 2.07, hartmann6 0.0051 to 0.0038,
            cost-aware 0.024 to 0.013; levy4, styblinski4 and branin unchanged; mixed
            4.8e-6 to 2.5e-5. -2 lost shekel4 (3.38); -6 and -8 hardly ever fired.

            The trials between (numbers 2 mod 4) climb a local GP: the ``max(4d, 12)``
            trials nearest the incumbent, their scores warped among themselves, inside the
            box they span. First as the other half of the exploit turns, chosen on seeds
            0-9 against the global peak alone (mean log10 of the regret ratio at 50
            trials): branin -1.16 (2.1e-5 to 6.4e-7), mixed -0.46, levy4 -0.29, shekel4
            -0.24, hartmann6 -0.22, styblinski4 -0.10, ackley5 0.00, rosenbrock4 +0.11
            (worse: local turns only, rosenbrock4 +0.28; 2d+4 trials, shekel4 +0.25; a box
            widened by half its width, rosenbrock4 +0.39). Then taken whatever EI says once
            there are ``max(4d, 12) + 4`` trials (seeds 0-19, with ``prior_mean``: median
            rosenbrock4 14.5 to 8.4, levy4 0.035 to 0.014, ackley5 1.44 to 1.34, shekel4
            0.011 to 0.0077; mean log10 ratio branin +0.08, hartmann6 +0.07, styblinski4
            -0.15).
        prior_mean: what the score model expects far from every trial, in standard
            deviations of the (warped) scores from their average. Below it, unexplored
            corners promise less, so early EI picks stay nearer the good trials rather than
            on the edges of the space. Chosen on seeds 0-19 (mean log10 of the regret
            ratio against 0 at 50 trials): -0.25 gave shekel4 -0.57, hartmann6 -0.52
            (median 0.0024 to 4.8e-4), levy4 -0.43, styblinski4 -0.10, rosenbrock4 -0.10,
            ackley5 -0.08, branin -0.08, mixed +0.66 (a median of 3.7e-6 to 5.6e-6) and
            0 to -0.07 at 10 trials; -0.5 was stronger on hartmann6 and shekel4 but worse
            on branin (+0.17) and mixed (+0.31).
    """

    name = "protein"
    #: local move sizes relative to each distribution's scale: a wide jump, the prior's
    #: width, a step and a fine step near an optimum
    RADII: tuple[float, ...] = (1.0, 0.25, 0.05, 0.01)
    #: refit the GP hyperparameters on every trial up to this many, then every ~10% more
    REFIT_ALL = 20

    def __init__(
        self,
        space: Mapping[str, Distribution],
        *,
        goal: str = "maximize",
        seed: int = 0,
        n_init: int = 3,
        cost_aware: bool = True,
        cost_weight: float = 1.0,
        output_warp: str = "power",
        n_candidates: int = 1024,
        n_polish: int = 6,
        max_fit: int = 128,
        deterministic: bool = False,
        seed_with_search_center: bool = True,
        max_cost: float | None = None,
        fit_restarts: int = 3,
        exploit_log_ei: float | None = -4.0,
        prior_mean: float = -0.25,
        **kwargs: Any,
    ) -> None:
        super().__init__(space, goal=goal, seed=seed, **kwargs)
        if max_cost is not None and not (_is_real(max_cost) and max_cost > 0):
            raise SweepError(f"max_cost must be a positive number, got {max_cost!r}",
                             key="sweep.method_kwargs.max_cost", fix="e.g. max_cost: 3600")
        if exploit_log_ei is not None and not _is_real(exploit_log_ei):
            raise SweepError(f"exploit_log_ei must be a number or null, got {exploit_log_ei!r}",
                             key="sweep.method_kwargs.exploit_log_ei",
                             fix="e.g. exploit_log_ei: -4 (null turns it off)")
        if not _is_real(prior_mean):
            raise SweepError(f"prior_mean must be a number, got {prior_mean!r}",
                             key="sweep.method_kwargs.prior_mean",
                             fix="e.g. prior_mean: -0.25 (0: the average trial)")
        if output_warp not in OUTPUT_WARPS:
            raise SweepError(
                f"unknown output_warp {output_warp!r}",
                key="sweep.output_warp",
                fix=f"use one of {list(OUTPUT_WARPS)}",
            )
        self.n_init = _count("n_init", n_init, 1, key="sweep.n_init")
        self.cost_aware = bool(cost_aware)
        self.cost_weight = float(cost_weight)
        self.output_warp = output_warp
        self.n_candidates = _count("n_candidates", n_candidates, 2)
        self.n_polish = _count("n_polish", n_polish, 1)
        self.max_fit = _count("max_fit", max_fit, 2)
        self.deterministic = bool(deterministic)
        self.seed_with_search_center = bool(seed_with_search_center)
        self.max_cost = None if max_cost is None else float(max_cost)
        self.fit_restarts = _count("fit_restarts", fit_restarts, 0)
        self.exploit_log_ei = None if exploit_log_ei is None else float(exploit_log_ei)
        self.prior_mean = float(prior_mean)
        #: trials the local model of the exploit turns is fitted on (see _local_model)
        self.local_size = max(4 * len(self.space), 12)
        self.cube = UnitCube(self.space)
        dists = list(self.space.values())
        self.is_cat = np.array([d.is_categorical for d in dists], dtype=bool)
        self.n_cats = np.array(
            [len(d.grid_values() or []) if d.is_categorical else 0 for d in dists]
        )
        # widths of local moves in the unit cube: Protein's scale is on [-1, 1] (width 2)
        self.widths = np.array([float(getattr(d, "scale", 0.5) or 0.5) / 2.0 for d in dists])
        # integer lattices (int_uniform, uniform_pow2): n equal unit cells, values at the
        # middles; 0 marks a continuous input
        self.cells = np.array([0 if d.is_categorical else _lattice_cells(d) for d in dists])
        self.is_lattice = self.cells > 0
        self.is_cont = ~(self.is_cat | self.is_lattice)
        # hyperparameters per refit point (see _fit) and encoded trials: speed only
        self._hyper_cache: dict[tuple[str, int, str], Hyper] = {}
        self._encoded: dict[Any, np.ndarray] = {}

    # ------------------------------------------------------------------ encoding

    def encode_record(self, r: TrialRecord) -> np.ndarray:
        """``encode`` of a trial's params, cached: at 500 trials re-encoding every trial
        for every suggestion took ~25 ms of Python."""
        try:
            key: Any = (r.number, tuple(r.params.items()))
            hash(key)
        except TypeError:  # unhashable values (lists): not worth a cache entry
            return self.encode(r.params)
        x = self._encoded.get(key)
        if x is None:
            x = self._encoded[key] = self.encode(r.params)
        return x

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Params -> a point in the model's space (unit cube; category index)."""
        return self.cube.encode(params)

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        return self.cube.decode(x)

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
        pending = [self.encode_record(r) for r in history if r.state is TrialState.RUNNING]
        n_model = n - self._warmup_count(history, scored, n)
        proposals = self._warmup(history, n - n_model, rng)
        if n_model:
            # Every tensor starts from numpy (always CPU) or inherits its device, so no
            # ``torch.device("cpu")`` context: it intercepts every torch call (~20 us each).
            with single_thread():
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
        if not history and self.seed_with_search_center:
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

        from nested_sweeper.search.gp import log_ei

        X = np.array([self.encode_record(r) for r, _ in scored])
        raw = np.array([s for _, s in scored])
        # the GP's prior mean is 0: the scores are shifted so that it sits prior_mean below
        # their average
        y = warp(raw, self.output_warp) - self.prior_mean
        gp = self._fit("score", X, raw, lambda r: warp(r, self.output_warp) - self.prior_mean)
        cost_gp, cost_std, cost_mean = self._cost_model(scored, X)
        fail_gp, fail_cut = self._failure_model(scored, X)
        anchors = self._anchors(X, y, scored)
        out: list[dict[str, Any]] = []
        model = gp
        chosen: list[np.ndarray] = list(pending)
        best = float(y.max())
        for _ in range(n):
            incumbent = best
            if chosen:
                # kriging believer: pending points "return" their predicted mean, which also
                # counts towards the incumbent, so their neighbourhood promises nothing more
                # and the next pick goes elsewhere
                Xp = torch.from_numpy(np.array(chosen))
                with torch.no_grad():
                    believed = gp.posterior(Xp)[0]
                model = gp.condition(Xp, believed)
                incumbent = max(best, float(believed.max()))

            def acq(x: torch.Tensor, model: GP = model, inc: float = incumbent) -> torch.Tensor:
                mean, var = model.posterior(x)
                a = log_ei(mean, var, inc)
                if cost_gp is not None:  # EI per unit of predicted cost (to the cost_weight)
                    a = a - self.cost_weight * cost_std * cost_gp.posterior(x)[0]
                    a = self._cost_cap_term(a, x, cost_gp, cost_std, cost_mean)
                return self._failure_term(a, x, fail_gp, fail_cut)

            x = self._maximize(acq, anchors, rng)
            if self._exploit_turn(len(scored) + len(chosen), acq, x):
                x = self._mean_peak(model, fail_gp, fail_cut, anchors, X, raw, chosen, x)
            chosen.append(x)
            out.append(self.decode(x))
        return out

    def _exploit_turn(self, n_seen: int, acq: Any, x: np.ndarray) -> bool:
        """Whether this pick exploits (``exploit_log_ei`` None: never). Trial numbers
        2 mod 4 do once the local model has its trials, whatever EI says: on a long curved
        valley EI kept choosing far corners for 30 trials in a row (rosenbrock4, seed 44).
        Trial numbers 0 mod 4 do when even the best point's log EI is below
        ``exploit_log_ei`` (the model sees nothing worth exploring)."""
        import torch

        if self.exploit_log_ei is None or n_seen % 2:
            return False
        if n_seen % 4 == 2 and n_seen >= self.local_size + 4:
            return True
        with torch.no_grad():
            return float(acq(torch.from_numpy(x[None]))[0]) < self.exploit_log_ei

    def _mean_peak(
        self, model: GP, fail_gp: GP | None, fail_cut: float, anchors: np.ndarray,
        X: np.ndarray, raw: np.ndarray, chosen: list[np.ndarray], fallback: np.ndarray,
    ) -> np.ndarray:
        """Where the posterior mean peaks; ``fallback`` when that is a point already tried
        or chosen, or on the edge of a continuous input.

        The trial number picks the model. On 0 mod 4 it is the GP of every trial, climbed
        from the best trials: a move within or between basins. On 2 mod 4 it is a GP of the
        trials nearest the incumbent only, climbed inside their bounding box: the global
        fit's lengthscales describe the whole space, not the curvature at the optimum, so
        its peak converges slowly there (branin, seeds 0-9: regret 2.1e-5 at 50 trials with
        the global model alone, 6.6e-7 with both; see the class docstring).
        """
        box = None
        if (len(X) + len(chosen)) % 4 == 2:
            local = self._local_model(X, raw)
            if local is not None:
                model, box, anchors = local

        def mean(x: torch.Tensor) -> torch.Tensor:
            return self._failure_term(model.posterior(x)[0], x, fail_gp, fail_cut)

        x = self._climb(mean, anchors, box)
        if x is None:
            return fallback
        taken = np.concatenate([X, np.array(chosen).reshape(-1, X.shape[1])])
        # within 1e-4 of a trial (of each range) a noisy model's peak is what it already
        # knows: three such steps in a row on branin (seed 13) moved regret 5.8e-5 to
        # 4.2e-5. A noise-free objective is resolved further: its steps near an optimum
        # are that small (on branin a regret of 1e-6 is ~7e-5 of the range from the minimum)
        tried = np.abs(taken - x).max(axis=1).min() < (1e-7 if self.deterministic else 1e-4)
        # a mean peaking on an edge is the data's slope extrapolated, not a resolved basin:
        # trials there kept branin's search at x = 10 (regret 1.55; seeds 0-19, 1 of 20)
        if tried or (np.minimum(x, 1.0 - x)[self.is_cont] < 1e-6).any():
            return fallback
        return x

    def _local_model(
        self, X: np.ndarray, raw: np.ndarray
    ) -> tuple[GP, tuple[np.ndarray, np.ndarray], np.ndarray] | None:
        """A GP of the ``local_size`` trials nearest the incumbent (scores warped
        among themselves), the box they span, and the incumbent as the climb's start;
        None until there are a few more trials than that, or when the box is flat."""
        from nested_sweeper.search.gp import fit_gp

        k = self.local_size
        if len(raw) < k + 4:
            return None
        best = X[int(np.argmax(raw))]
        gap = np.abs(X - best)
        gap[:, self.is_cat] = gap[:, self.is_cat] > 0  # another category: one unit away
        near = np.argsort(np.square(gap).sum(axis=1), kind="stable")[:k]
        Xl, yl = X[near], warp(raw[near], self.output_warp)
        lo, hi = Xl.min(axis=0), Xl.max(axis=0)
        if (hi - lo)[self.is_cont].min(initial=1.0) <= 0:
            return None
        gp = fit_gp(Xl, yl, self.is_cat, deterministic=self.deterministic,
                    rng=np.random.default_rng([self.seed, len(raw)]), restarts=1)
        return gp, (lo, hi), best[None]

    def _cost_cap_term(
        self, a: torch.Tensor, x: torch.Tensor, cost_gp: GP, std: float, mean: float
    ) -> torch.Tensor:
        """``a`` pushed below every point whose predicted cost stays under ``max_cost``.

        As PufferLib's mask on the cost model's mean, but as a penalty (not -inf): the
        gradient polish still has a slope back under the cap, and when every candidate is
        over it, the cheapest ones win. Log EI of a well-known point can be -1e4, so the
        penalty starts at -1e6.
        """
        if self.max_cost is None:
            return a
        import torch

        over = cost_gp.posterior(x)[0] - (math.log(self.max_cost) - mean) / std
        return a - torch.where(over > 0, 1e6 + 1e9 * over, torch.zeros_like(over))

    @staticmethod
    def _failure_term(
        a: torch.Tensor, x: torch.Tensor, fail_gp: GP | None, cut: float
    ) -> torch.Tensor:
        """``a`` + log P(the run at ``x`` does not crash), when there were crashes."""
        if fail_gp is None:
            return a
        import torch

        fm, fv = fail_gp.posterior(x)
        safe: torch.Tensor = torch.special.log_ndtr((fm - cut) / fv.sqrt())
        return a + safe

    def _fit(
        self,
        key: str,
        X: np.ndarray,
        raw: np.ndarray,
        prepare: Callable[[np.ndarray], np.ndarray],
    ) -> GP:
        """A GP on ``(X, prepare(raw))`` whose hyperparameters come from a refit point.

        The hyperparameters are fitted (from fixed starting values, so the result is a
        function of the data only) on the first ``k`` trials, ``k`` the last refit point
        at or below the trial count: every trial up to 20, then every ~10% more trials.
        Between refit points the fit is reused from the cache, which keeps a suggestion
        at 500 trials fast, and a fresh instance (a resumed sweep) computes exactly the
        same fit, so the same seed and history always give the same suggestions.
        """
        import hashlib

        import torch

        from nested_sweeper.search.gp import GP, fit_hyper

        k = refit_point(len(raw), self.REFIT_ALL)
        Xk, rk = X[:k], np.asarray(raw[:k], dtype=float)
        fingerprint = hashlib.sha1(Xk.tobytes() + rk.tobytes()).hexdigest()
        hyper = self._hyper_cache.get((key, k, fingerprint))
        if hyper is None:
            hyper = fit_hyper(
                Xk,
                prepare(rk),
                self.is_cat,
                max_fit=self.max_fit,
                deterministic=self.deterministic,
                rng=np.random.default_rng([self.seed, k]),
                restarts=self.fit_restarts,
            )
            if len(self._hyper_cache) > 32:  # old refit points are never asked for again
                self._hyper_cache.clear()
            self._hyper_cache[(key, k, fingerprint)] = hyper
        y = prepare(np.asarray(raw, dtype=float))
        return GP(torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(self.is_cat), hyper)

    def _cost_model(
        self, scored: list[tuple[TrialRecord, float]], X: np.ndarray
    ) -> tuple[GP | None, float, float]:
        """A GP of standardized log cost, and the std and mean that turn it back into log
        units. A ``max_cost`` needs the model even when ``cost_weight`` is 0."""
        if not self.cost_aware or (self.cost_weight == 0.0 and self.max_cost is None):
            return None, 0.0, 0.0
        costs = np.array([_positive(r.cost) for r, _ in scored])
        ok = np.isfinite(costs)
        if ok.sum() < self.n_init:
            return None, 0.0, 0.0
        logc = np.log(costs[ok])
        std = float(logc.std())
        if std < 1e-3:  # every run cost the same: nothing to trade off
            return None, 0.0, 0.0
        return self._fit("cost", X[ok], logc, _standardize), std, float(logc.mean())

    def _failure_model(
        self, scored: list[tuple[TrialRecord, float]], X: np.ndarray
    ) -> tuple[GP | None, float]:
        """A GP of "did it finish" (+1) versus "did it crash" (-1), and the 50% cut.

        Imputing the worst score alone tells the score model that a crash region is bad,
        but a GP smooths that over the boundary; this second model (as in constrained BO)
        multiplies EI by the probability of finishing, so crash regions are avoided sharply.
        """
        ok = np.array([r.ok for r, _ in scored])
        if ok.all() or not ok.any():
            return None, 0.0
        labels = np.where(ok, 1.0, -1.0)
        mu, sd = labels.mean(), labels.std()
        return self._fit("failure", X, labels, _standardize), float(-mu / sd)

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
        radius = rng.choice(self.RADII, size=(n_local, 1)) * self.widths * 2.0
        local = base + rng.normal(size=base.shape) * radius
        local = np.clip(local, 0.0, 1.0)
        if self.is_cat.any():
            flip = (rng.random(size=base.shape) < 1.0 / d) & self.is_cat
            newcat = self._unit_to_model(rng.random(size=base.shape[1]))
            local = np.where(flip, newcat, base * self.is_cat + local * ~self.is_cat)
        return self.snap_lattice(np.concatenate([glob, local, anchors]))

    def snap_lattice(self, x: np.ndarray) -> np.ndarray:
        """Integer inputs moved to the middle of their cell (their legal value), vectorized."""
        if not self.is_lattice.any():
            return x
        x = x.copy()
        n = self.cells[self.is_lattice]
        x[..., self.is_lattice] = (
            np.minimum(np.floor(x[..., self.is_lattice] * n), n - 1) + 0.5
        ) / n
        return x

    def _discrete_steps(
        self, acq: Any, xs: np.ndarray, fs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Coordinate search over the discrete inputs of every start: each category, and
        each integer's nearby values (rounding the continuous relaxation can miss them)."""
        import torch

        for i in np.flatnonzero(~self.is_cont):
            for j in range(len(xs)):
                values = self._nearby(int(i), xs[j, i])
                tries = np.repeat(xs[j : j + 1], len(values), axis=0)
                tries[:, i] = values
                with torch.no_grad():
                    f = acq(torch.from_numpy(tries)).numpy()
                f = np.where(np.isfinite(f), f, -np.inf)
                b = int(np.argmax(f))
                if f[b] > fs[j]:
                    xs[j], fs[j] = tries[b], f[b]
        return xs, fs

    def _nearby(self, i: int, u: float) -> np.ndarray:
        """Every category of input ``i``, or the integer values up to 2 cells from ``u``."""
        if self.is_cat[i]:
            return np.arange(self.n_cats[i], dtype=float)
        n = self.cells[i]
        k = np.unique(np.clip(math.floor(u * n) + np.array([-2, -1, 1, 2]), 0, n - 1))
        cells: np.ndarray = (k + 0.5) / n
        return cells

    def _maximize(self, acq: Any, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import torch

        cand = self._candidates(anchors, rng)
        with torch.no_grad():
            vals = acq(torch.from_numpy(cand)).numpy()
        vals = np.where(np.isfinite(vals), vals, -np.inf)
        top = cand[np.argsort(-vals, kind="stable")[: max(1, self.n_polish - 1)]]
        # the incumbent is always a start too: near the optimum the best move is a small
        # step from the best trial, which random candidates rarely land on (as Optuna does)
        starts = np.unique(np.concatenate([top, anchors[:1]]), axis=0)
        best = self._climb(acq, starts)
        return self.snap(cand[int(np.argmax(vals))]) if best is None else best

    def _climb(
        self, f: Any, starts: np.ndarray, box: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray | None:
        """The best local maximum of ``f`` reached from ``starts`` (snapped to legal
        values), None when ``f`` is not finite anywhere there."""
        xs, fs = self._polish(f, starts, box)
        if (~self.is_cont).any():
            xs, fs = self._discrete_steps(f, xs, fs)
            xs, fs = self._polish(f, xs, box)  # the continuous inputs again, for the new values
        i = int(np.argmax(fs))
        return self.snap(xs[i]) if np.isfinite(fs[i]) else None

    def _polish(
        self, acq: Any, starts: np.ndarray, box: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """L-BFGS-B on the continuous inputs of every start at once (a sum of separate
        terms), inside ``box`` (lower and upper corners) or the unit cube."""
        import torch
        from scipy.optimize import minimize

        cont = self.is_cont
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
            assert xc.grad is not None  # filled by backward()
            g = xc.grad.numpy().ravel()
            value = total.detach().item()
            if not np.isfinite(value):
                return 1e10, np.zeros_like(v)
            return value, np.nan_to_num(g)

        lo, hi = (np.zeros(cont.sum()), np.ones(cont.sum())) if box is None else (
            box[0][cont], box[1][cont])
        res = minimize(
            f,
            starts[:, cont].ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(lo, hi)) * m,
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


def _lattice_cells(d: Distribution) -> int:
    """How many values an integer distribution has (its unit cells), 0 if not a lattice.

    Lattices put their lowest value at the middle of the first of n equal cells, so
    ``to_unit(low) == 0.5 / n``; anything else (or a huge range) is treated as continuous.
    """
    if not d.is_int:
        return 0
    u0 = float(d.to_unit(d.from_unit(0.0)))
    if not 0.0 < u0 < 0.5:
        return 0
    n = round(0.5 / u0)
    if not 1 < n <= 4096:
        return 0
    mids = (np.arange(n) + 0.5) / n
    back = [float(d.to_unit(d.from_unit(float(u)))) for u in mids]
    return n if np.allclose(back, mids, atol=1e-9) else 0


def refit_point(n: int, every_up_to: int = 20) -> int:
    """The largest refit point <= n: every n up to ``every_up_to``, then steps of ~10%."""
    k = every_up_to
    if n <= k:
        return n
    while math.ceil(k * 1.1) <= n:
        k = math.ceil(k * 1.1)
    return k


def _count(name: str, value: Any, minimum: int, *, key: str | None = None) -> int:
    """An integer setting, or a SweepError that names its key (not int()'s ValueError)."""
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or value < minimum:
        raise SweepError(f"{name} must be an integer >= {minimum}, got {value!r}",
                         key=key or f"sweep.method_kwargs.{name}",
                         fix=f"e.g. {name}: {max(minimum, 3)}")
    return int(value)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _standardize(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    z: np.ndarray = (v - v.mean()) / (sd if sd > 0 else 1.0)
    return z


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
    out: np.ndarray = (y - y.mean()) / (std if std > 0 else 1.0)
    return out


def pareto_front(score: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the trials no other trial beats on both higher score and lower cost."""
    order = np.lexsort((-score, cost))  # by cost, ties: best score first
    front, best = [], -np.inf
    for i in order:
        if score[i] > best:
            front.append(int(i))
            best = score[i]
    return np.array(front, dtype=int)
