"""Exact posteriors without MCMC, for the models without covariates.

Normal-normal (log-median) model, as bayesmeta (Roever 2020, J Stat Softw 93(6)):
with mu ~ N(m0, s0^2), mu | tau, y is normal with precision P = 1/s0^2 + sum w_i and mean
(m0/s0^2 + sum w_i y_i)/P, w_i = 1/(s_i^2 + tau^2); p(tau | y) is proportional to
p(tau) N(y; m0 1, diag(s^2 + tau^2) + s0^2 11'), evaluated on a fine grid of tau.
Binomial model: p(mu, tau | y) on a 2-D grid, each study's random effect integrated
by adaptive Gauss-Hermite quadrature (``likelihood.loglik_grid``). A coarse grid finds
where the likelihood lives, a fine grid covers it, and priors are added to it afterwards.

Both return i.i.d. draws of (mu, tau) (cells drawn by posterior mass, jittered inside the
cell), so that every summary and probability statement is computed as for MCMC, and
exact marginal quantiles of mu and tau for the cross-check against MCMC.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from .. import seeds
from ..errors import AnalysisError
from ..likelihood import loglik_grid
from ..priors import Prior

DRAWS = 10_000
FINE_MU, FINE_TAU, NODES = 80, 80, 9  # binomial grid; quantiles with 9 adaptive nodes agree with 25 to 1e-4
TAU_POINTS = 4000
LIK_DROP, LIK_DROP_WIDE = 15.0, 40.0  # log-likelihood below the maximum the binomial grid covers
EDGE_DROP = 12.0  # a posterior density at the grid's edge within this of the peak means mass is cut off


@dataclass
class GridPosterior:
    mu: np.ndarray  # i.i.d. draws, shape (1, DRAWS)
    tau: np.ndarray
    mu_quantile: callable
    tau_quantile: callable
    points: int


def _quantile_fn(grid, mass):
    """Quantiles of a gridded density whose cells are centred on the grid points: the CDF is
    read at the cells' upper edges (a cell at 0 is folded, as tau >= 0)."""
    step = np.diff(grid).mean()
    edges = np.concatenate([[max(grid[0] - step / 2, 0.0) if grid[0] >= 0 else grid[0] - step / 2],
                            grid + step / 2])
    cdf = np.concatenate([[0.0], np.cumsum(mass)])
    return lambda q: np.interp(q, cdf / cdf[-1], edges)


def _jittered(rng, grid, index):
    step = np.diff(grid).mean() if len(grid) > 1 else 0.0
    return grid[index] + (rng.random(len(index)) - 0.5) * step


def normal_normal(y, se, priors: dict[str, Prior], seed: int) -> GridPosterior:
    mu_prior = priors["mu"]
    if mu_prior.family != "normal":
        raise AnalysisError(f"the quadrature engine needs a normal prior on mu, not {mu_prior}; use engine='mcmc'")
    m0, s0 = mu_prior.params
    y, v = np.asarray(y, float), np.asarray(se, float) ** 2
    upper = _tau_upper(priors["tau"], y, v)
    tau = np.linspace(0.0, upper, TAU_POINTS)
    V = v[None, :] + tau[:, None] ** 2
    w = 1.0 / V
    prec = 1 / s0**2 + w.sum(1)
    mean = (m0 / s0**2 + (w * y).sum(1)) / prec
    # log N(y; m0 1, V + s0^2 11') via the conjugate decomposition
    loglik = (-0.5 * np.log(2 * np.pi * V).sum(1) - 0.5 * (w * y**2).sum(1) - 0.5 * m0**2 / s0**2
              - 0.5 * np.log(s0**2) + 0.5 * mean**2 * prec - 0.5 * np.log(prec))
    logpost = loglik + priors["tau"].logpdf(tau)
    mass = np.exp(logpost - logpost.max())
    mass = mass / mass.sum()
    rng = seeds.rng(seed, "quadrature")
    idx = rng.choice(len(tau), size=DRAWS, p=mass)
    tau_draws = np.abs(_jittered(rng, tau, idx))
    # mu | tau for the jittered tau (exact conditional)
    Vd = v[None, :] + tau_draws[:, None] ** 2
    wd = 1 / Vd
    pd_ = 1 / s0**2 + wd.sum(1)
    md = (m0 / s0**2 + (wd * y).sum(1)) / pd_
    mu_draws = md + rng.standard_normal(DRAWS) / np.sqrt(pd_)

    def mu_quantile(q):
        grid = np.linspace(mean.min() - 8 / np.sqrt(prec.min()), mean.max() + 8 / np.sqrt(prec.min()), 6000)
        cdf = (mass[:, None] * stats.norm.cdf(grid[None, :], mean[:, None], 1 / np.sqrt(prec[:, None]))).sum(0)
        return np.interp(q, cdf, grid)

    return GridPosterior(mu_draws[None, :], tau_draws[None, :], mu_quantile, _quantile_fn(tau, mass), TAU_POINTS)


def _tau_upper(prior: Prior, y, v) -> float:
    """A tau beyond which prior x likelihood is negligible."""
    spread = float(np.ptp(y)) + 3 * float(np.sqrt(v.max()))
    prior_q = {"uniform": lambda p: p[1]}.get(prior.family)
    if prior_q:
        return prior_q(prior.params)
    return max(4 * spread, 2.0)


class BinomialLikelihood:
    """The binomial model's marginal likelihood on a (mu, tau) grid, computed once.

    A coarse grid over mu in [-12, 12], tau in [0, 10] (33 x 21 points, 5 nodes) finds where the log-likelihood is
    within ``LIK_DROP`` of its maximum; a fine grid of ``FINE_MU`` x ``FINE_TAU`` points covers
    that region (one coarse step beyond it), with ``NODES``-point adaptive Gauss-Hermite per
    study. Any prior is then a log-density added to it, so a grid of priors costs one
    likelihood evaluation. A prior that moves the posterior to the grid's edge widens the
    grid once to ``LIK_DROP_WIDE``.
    """

    def __init__(self, events, n):
        self.x, self.n = np.asarray(events, float), np.asarray(n, float)
        mu_c, tau_c = np.linspace(-12, 12, 33), np.linspace(0, 10, 21)
        self.coarse = mu_c, tau_c, loglik_grid(self.x, self.n, *np.meshgrid(mu_c, tau_c, indexing="ij"), 5)
        self._cover(LIK_DROP)

    def _cover(self, drop: float) -> None:
        mu_c, tau_c, ll = self.coarse
        keep = ll > ll.max() - drop
        mu_lo, mu_hi = mu_c[keep.any(1)][[0, -1]]
        tau_hi = tau_c[keep.any(0)][-1]
        self.covered = drop
        self.mu = np.linspace(mu_lo - (mu_c[1] - mu_c[0]), mu_hi + (mu_c[1] - mu_c[0]), FINE_MU)
        self.tau = np.linspace(0, tau_hi + (tau_c[1] - tau_c[0]), FINE_TAU)
        self.loglik = loglik_grid(self.x, self.n, *np.meshgrid(self.mu, self.tau, indexing="ij"), NODES)

    def posterior(self, priors: dict[str, Prior], seed: int, drop: int | None = None) -> GridPosterior:
        """Posterior under ``priors``; ``drop`` leaves study number ``drop`` out (an exact refit)."""
        M, T = np.meshgrid(self.mu, self.tau, indexing="ij")
        loglik = self.loglik if drop is None else self.loglik - loglik_grid(self.x[[drop]], self.n[[drop]], M, T, NODES)
        lp = loglik + priors["mu"].logpdf(M) + priors["tau"].logpdf(T)
        edge = max(lp[[0, -1], :].max(), lp[:, -1].max())
        if edge > lp.max() - EDGE_DROP:
            if self.covered < LIK_DROP_WIDE:
                self._cover(LIK_DROP_WIDE)
                return self.posterior(priors, seed, drop)
            raise AnalysisError("the quadrature grid does not hold the posterior under this prior; use engine='mcmc'")
        mass = np.exp(lp - lp.max())
        mass /= mass.sum()
        rng = seeds.rng(seed, "quadrature")
        idx = rng.choice(mass.size, size=DRAWS, p=mass.ravel())
        i, j = np.unravel_index(idx, mass.shape)
        return GridPosterior(_jittered(rng, self.mu, i)[None, :], np.abs(_jittered(rng, self.tau, j))[None, :],
                             _quantile_fn(self.mu, mass.sum(1)), _quantile_fn(self.tau, mass.sum(0)), mass.size)


@lru_cache(maxsize=32)
def _likelihood(events: tuple, n: tuple) -> BinomialLikelihood:
    return BinomialLikelihood(np.array(events), np.array(n))


def binomial(events, n, priors: dict[str, Prior], seed: int) -> GridPosterior:
    """Posterior under ``priors``; the likelihood grid of the same data is computed once per process."""
    return _likelihood(tuple(np.asarray(events, int)), tuple(np.asarray(n, int))).posterior(priors, seed)
