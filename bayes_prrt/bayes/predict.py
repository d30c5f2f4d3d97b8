"""Posterior predictive distributions for a new, *observed* study (pure functions of draws).

Given posterior draws (mu_d, tau_d), d = 1..D, of the model without covariates:

* true value: theta_new = mu + tau u, u ~ N(0, 1). Its CDF on the analysis scale (logit or log
  months) is the normal mixture F(t) = mean_d Phi((t - mu_d) / tau_d), exact given the draws;
  quantiles are read from it and transformed to the outcome's scale (expit or exp: monotone).
* observed proportion: X ~ Binomial(n, p_new), p_new = expit(theta_new); the pmf is the mixture
  mean_d Bin(x; n, p_d) over draws p_d of p_new, and the observed proportion is X / n.
* observed median: log m_obs ~ N(theta_new, se^2), so log m_obs | mu_d, tau_d ~
  N(mu_d, tau_d^2 + se^2), again a normal mixture (the normal-normal convolution).

Two-sided predictive p-value of an observation x (Gelman, Meng & Stern 1996, Stat Sinica 6:733,
with the posterior predictive of a *new* study, not a replicate of a fitted one):
p = min(1, 2 min(P(X <= x), P(X >= x))). For the discrete binomial predictive this is the
conservative convention (the point mass counted on both sides); the mid-p value, which counts
half of P(X = x) on each side (Lancaster 1961, JASA 56:223), is given alongside.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import expit, ndtr

LEVEL = 0.95
_BISECTIONS = 60  # halvings of the bracket: far below any reported precision


def normal_mixture_cdf(t, means, sds) -> np.ndarray:
    """mean_d Phi((t - means_d) / sds_d) at each t (sds_d = 0: a point mass at means_d)."""
    t = np.asarray(t, float)[..., None]
    means, sds = np.ravel(means).astype(float), np.ravel(sds).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sds > 0, (t - means) / sds, np.where(t >= means, np.inf, -np.inf))
    return ndtr(z).mean(-1)


def normal_mixture_quantile(q, means, sds) -> np.ndarray:
    """Quantiles of the normal mixture by bisection of its CDF (monotone, so bisection is exact)."""
    q = np.atleast_1d(np.asarray(q, float))
    means, sds = np.ravel(means).astype(float), np.ravel(sds).astype(float)
    lo = np.full(q.shape, (means - 10 * sds).min() - 1.0)
    hi = np.full(q.shape, (means + 10 * sds).max() + 1.0)
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        below = normal_mixture_cdf(mid, means, sds) < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def _probs() -> np.ndarray:
    return np.array([0.5, (1 - LEVEL) / 2, (1 + LEVEL) / 2])


def _interval(values) -> dict:
    median, low, high = (float(v) for v in values)
    return {"median": median, "pi_low": low, "pi_high": high}


def true_value(kind: str, mu, tau) -> dict:
    """Median and 95% interval of a new study's true value on the outcome's scale."""
    eta = normal_mixture_quantile(_probs(), mu, tau)
    return _interval(expit(eta) if kind == "binary" else np.exp(eta))


def binomial_pmf(p_new, n: int) -> np.ndarray:
    """P(X = x), x = 0..n, of X ~ Binomial(n, p) mixed over the draws ``p_new`` of p."""
    x = np.arange(n + 1)
    return stats.binom.pmf(x[:, None], n, np.ravel(p_new)[None, :]).mean(1)


def binomial_observed(p_new, n: int) -> dict:
    """Median and 95% interval of the observed proportion X / n: the smallest x with CDF >= q."""
    cdf = np.cumsum(binomial_pmf(p_new, n))
    x = np.searchsorted(cdf, _probs() - 1e-12)
    return _interval(np.minimum(x, n) / n)


def binomial_p_value(p_new, n: int, x: int) -> dict:
    """Two-sided predictive p-values of x events of n: conservative (point mass on both sides) and mid-p."""
    pmf = binomial_pmf(p_new, n)
    below, at, above = pmf[:x].sum(), pmf[x], pmf[x + 1:].sum()
    return {"p_two_sided": float(min(1.0, 2 * min(below + at, above + at))),
            "p_two_sided_mid": float(min(1.0, 2 * min(below + at / 2, above + at / 2)))}


def median_observed(mu, tau, se: float) -> dict:
    """Median and 95% interval of an observed median with log-scale SE ``se``."""
    sds = np.sqrt(np.ravel(tau).astype(float) ** 2 + se**2)
    return _interval(np.exp(normal_mixture_quantile(_probs(), mu, sds)))


def median_p_value(mu, tau, se: float, observed: float) -> dict:
    """Two-sided predictive p-value of an observed median (continuous: P(X = x) = 0)."""
    sds = np.sqrt(np.ravel(tau).astype(float) ** 2 + se**2)
    cdf = float(normal_mixture_cdf(np.log(observed), mu, sds))
    return {"p_two_sided": min(1.0, 2 * min(cdf, 1 - cdf))}
