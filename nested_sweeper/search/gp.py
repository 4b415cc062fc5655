"""Gaussian-process math for ``protein``: a small exact GP in torch (float64, CPU).

* Kernel: Matern 5/2 with one lengthscale per input (ARD); categorical inputs (category
  indices) use the Hamming distance, so two different categories are "one lengthscale" apart.
* Hyperparameters (inverse squared lengthscales, signal variance, noise variance) are the MAP
  estimate under weak priors (the same shapes as Optuna's ``_gp/prior.py``: they keep
  lengthscales away from 0 and infinity and the noise small), found by L-BFGS-B on their logs.
* ``log_ei``: the numerically stable log expected improvement of Ament et al. 2023
  ("Unexpected Improvements to Expected Improvement"), which keeps a gradient far from the
  incumbent where plain EI underflows to 0.

Inputs live in the unit cube, outputs are standardized by the caller (maximization).
Everything here imports torch at module level: import this module lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOG_SQRT_2PI = math.log(math.sqrt(2.0 * math.pi))
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
MIN_NOISE = 1e-6


class _Matern52(torch.autograd.Function):
    """Matern 5/2 of the squared distance, with the derivative written out.

    Autograd through ``sqrt`` would give 0 * inf = nan at distance 0 (every diagonal entry).
    """

    @staticmethod
    def forward(ctx: Any, sqd: torch.Tensor) -> torch.Tensor:
        s = torch.sqrt(5.0 * sqd)
        e = torch.exp(-s)
        ctx.save_for_backward((-5.0 / 6.0) * (s + 1.0) * e)
        return e * ((5.0 / 3.0) * sqd + s + 1.0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        deriv: torch.Tensor = ctx.saved_tensors[0]
        return deriv * grad


def matern52(sqd: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = _Matern52.apply(sqd)  # type: ignore[no-untyped-call]  # Function.apply is untyped
    return out


@dataclass
class Hyper:
    """Kernel hyperparameters on the log scale (what the optimizer moves)."""

    log_isl: np.ndarray  # log inverse squared lengthscales, one per input
    log_scale: float  # log signal variance
    log_noise: float  # log (noise variance - MIN_NOISE)

    @classmethod
    def default(cls, dim: int) -> Hyper:
        return cls(np.zeros(dim), 0.0, math.log(1e-2))

    def vector(self) -> np.ndarray:
        return np.concatenate([self.log_isl, [self.log_scale, self.log_noise]])

    @classmethod
    def from_vector(cls, v: np.ndarray) -> Hyper:
        return cls(np.array(v[:-2]), float(v[-2]), float(v[-1]))


def sq_dist(x1: torch.Tensor, x2: torch.Tensor, is_cat: torch.Tensor) -> torch.Tensor:
    """Per-input squared differences (..., n1, n2, d); categoricals: 0 if equal else 1."""
    d = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).square()
    if bool(is_cat.any()):
        d[..., is_cat] = (d[..., is_cat] > 0).to(d.dtype)
    return d


def _log_prior(isl: torch.Tensor, scale: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    def gamma(x: torch.Tensor, a: float, b: float) -> torch.Tensor:
        return (a - 1.0) * torch.log(x) - b * x

    return -(0.1 / isl + 0.1 * isl).sum() + gamma(scale, 2.0, 1.0) + gamma(noise, 1.1, 30.0)


class GP:
    """An exact GP posterior for fixed hyperparameters (build it with :func:`fit_gp`)."""

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        is_cat: torch.Tensor,
        hyper: Hyper,
        n_exact: int = 0,
    ) -> None:
        self.X, self.y, self.is_cat, self.hyper = X, y, is_cat, hyper
        self.n_exact = n_exact
        self.isl = torch.from_numpy(np.exp(hyper.log_isl))
        self.scale = math.exp(hyper.log_scale)
        self.noise = math.exp(hyper.log_noise) + MIN_NOISE
        K = self.kernel(X, X)
        K.diagonal().add_(self.noise)
        if n_exact:  # imagined observations are exact: no noise left to explain them
            K.diagonal()[len(X) - n_exact :] += MIN_NOISE - self.noise
        self.L = _cholesky(K)
        self.alpha = torch.cholesky_solve(y.unsqueeze(-1), self.L).squeeze(-1)

    def kernel(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.scale * matern52(sq_dist(x1, x2, self.is_cat) @ self.isl)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of f at the rows of ``x`` (differentiable in ``x``)."""
        k = self.kernel(x, self.X)  # (m, n)
        mean = k @ self.alpha
        v = torch.linalg.solve_triangular(self.L, k.T, upper=False)  # (n, m)
        # MIN_NOISE is jitter for the Cholesky, not a belief: left in, it gives a tried
        # point of a noise-free objective a variance of ~1e-6, whose EI (~4e-4 of a unit)
        # could beat every new point, and a search repeated one point ~30 times (branin,
        # seed 13 of bench/optimizers.py: 30 of 50 trials within 1e-4 of one point)
        var = (self.scale - v.square().sum(0) - MIN_NOISE).clamp_min(1e-12)
        return mean, var

    def condition(self, Xp: torch.Tensor, yp: torch.Tensor) -> GP:
        """The same GP with extra noise-free (pending, imagined) observations added.

        Noise-free, so the posterior variance at a pending point drops to ~0: with the
        fitted noise it would keep a noise-sized variance there and a batch could stack up.
        """
        X, y = torch.cat([self.X, Xp]), torch.cat([self.y, yp])
        return GP(X, y, self.is_cat, self.hyper, n_exact=self.n_exact + len(Xp))


def _cholesky(K: torch.Tensor) -> torch.Tensor:
    """Cholesky with growing jitter for nearly singular matrices (duplicate points)."""
    jitter = 0.0
    for _ in range(6):
        L: torch.Tensor
        L, info = torch.linalg.cholesky_ex(
            K + jitter * torch.eye(len(K), dtype=K.dtype, device=K.device)
        )
        if int(info) == 0:
            return L
        jitter = 1e-8 if jitter == 0.0 else jitter * 10.0
    # Public and documented, but missing from the stubs' torch.linalg exports.
    raise torch.linalg.LinAlgError("kernel matrix is not positive definite")  # type: ignore[attr-defined]


def _neg_log_posterior(
    v: np.ndarray, sqd: torch.Tensor, y: torch.Tensor, deterministic: bool
) -> tuple[float, np.ndarray]:
    raw = torch.from_numpy(v).requires_grad_(True)
    d = sqd.shape[-1]
    isl = torch.exp(raw[:d])
    scale = torch.exp(raw[d])
    noise = torch.exp(raw[d + 1]) * (0.0 if deterministic else 1.0) + MIN_NOISE
    K = scale * matern52(sqd @ isl)
    K = K + noise * torch.eye(len(y), dtype=y.dtype, device=y.device)
    L, info = torch.linalg.cholesky_ex(K)
    if int(info) != 0:
        return 1e10, np.zeros_like(v)
    a = torch.linalg.solve_triangular(L, y.unsqueeze(-1), upper=False).squeeze(-1)
    nll = 0.5 * (a @ a) + L.diagonal().log().sum()
    loss = nll - _log_prior(isl, scale, noise)
    loss.backward()
    assert raw.grad is not None  # filled by backward()
    return loss.detach().item(), raw.grad.numpy().copy()


def fit_gp(
    X: np.ndarray,
    y: np.ndarray,
    is_cat: np.ndarray,
    **kwargs: Any,
) -> GP:
    """MAP-fit the hyperparameters (see :func:`fit_hyper`), return the posterior over ``X``."""
    hyper = fit_hyper(X, y, is_cat, **kwargs)
    return GP(torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(is_cat), hyper)


def fit_hyper(
    X: np.ndarray,
    y: np.ndarray,
    is_cat: np.ndarray,
    *,
    init: Hyper | None = None,
    max_fit: int = 256,
    max_iter: int = 60,
    deterministic: bool = False,
    rng: np.random.Generator | None = None,
    restarts: int = 0,
) -> Hyper:
    """The MAP hyperparameters of a GP on ``(X, y)``.

    Args:
        X: (n, d) inputs in the unit cube (category indices for categorical columns).
        y: (n,) standardized outputs (higher is better; the caller normalizes).
        is_cat: (d,) which columns are categorical.
        init: where L-BFGS-B starts (a previous fit makes it converge in a few steps).
        max_fit: the hyperparameters are fitted on at most this many points (the best half
            and a random half of the rest) to bound the O(n^3) cost; the posterior uses all.
        max_iter: L-BFGS-B iterations.
        deterministic: fix the noise at its floor (noise-free objective).
        rng: picks the random part of the fitting subset (and the restarts' starts).
        restarts: extra L-BFGS-B runs from random lengthscales; the best posterior wins.
            One start can settle in the basin of "everything is noise" or of one
            lengthscale per point; the marginal likelihood has several optima.
    """
    from scipy.optimize import minimize

    Xt, yt, cat = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(is_cat)
    rng = rng or np.random.default_rng(0)
    idx = _fit_subset(y, max_fit, rng)
    sqd = sq_dist(Xt[idx], Xt[idx], cat)
    start = (init or Hyper.default(X.shape[1])).vector()
    bounds = [(-9.0, 9.0)] * X.shape[1] + [(-7.0, 5.0), (-14.0, 3.0)]
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    starts = [np.clip(start, lo, hi)]
    for i in range(restarts):
        other = start.copy()
        if i == 0:  # the noise-free explanation: short lengthscales, noise at its floor
            other[: X.shape[1]] += 2.0
            other[-1] = lo[-1]
        else:
            other[: X.shape[1]] = rng.uniform(-2.0, 4.0, size=X.shape[1])
            other[-1] = rng.uniform(-12.0, -3.0)
        starts.append(np.clip(other, lo, hi))
    best_x, best_f = start, math.inf
    for x0 in starts:
        res = minimize(
            _neg_log_posterior,
            x0,
            args=(sqd, yt[idx], deterministic),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter, "gtol": 1e-3},
        )
        if np.all(np.isfinite(res.x)) and float(res.fun) < best_f:
            best_x, best_f = res.x, float(res.fun)
    hyper = Hyper.from_vector(best_x)
    if deterministic:
        hyper.log_noise = -30.0
    return hyper


def _fit_subset(y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    if len(y) <= cap:
        return np.arange(len(y))
    order = np.argsort(-y, kind="stable")
    best = order[: cap // 2]
    rest = rng.choice(order[cap // 2 :], size=cap - len(best), replace=False)
    return np.sort(np.concatenate([best, rest]))


def standard_log_ei(z: torch.Tensor) -> torch.Tensor:
    """log E[max(0, z + N(0, 1))], stable for very negative ``z`` (Ament et al., eq. 9)."""
    small = z < -25.0
    zs = torch.where(small, torch.zeros_like(z), z)
    out = torch.log(
        0.5 * zs * torch.special.erfc(-_SQRT_HALF * zs) + torch.exp(-0.5 * zs * zs) * _INV_SQRT_2PI
    )
    if bool(small.any()):
        zt = torch.where(small, z, -torch.full_like(z, 30.0))
        tail = (
            -0.5 * zt * zt
            - _LOG_SQRT_2PI
            + torch.log1p(_SQRT_HALF_PI * zt * torch.special.erfcx(-_SQRT_HALF * zt))
        )
        out = torch.where(small, tail, out)
    return out


def log_ei(mean: torch.Tensor, var: torch.Tensor, best: float) -> torch.Tensor:
    """log E[max(0, f - best)] for f ~ N(mean, var)."""
    sigma = var.sqrt()
    return standard_log_ei((mean - best) / sigma) + sigma.log()
