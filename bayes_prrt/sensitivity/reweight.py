"""Move posterior draws from one prior to another by Pareto-smoothed importance sampling.

w_s proportional to p_new(mu_s) p_new(tau_s) / (p_old(mu_s) p_old(tau_s)) (the likelihood
cancels), smoothed by PSIS (Vehtari et al. 2024, J Mach Learn Res 25:72). The Pareto k
says whether the draws can represent the new posterior: above 0.7 they cannot, and the
analysis must be refitted.
"""

from __future__ import annotations

import arviz as az
import numpy as np

from ..priors import Prior

K_MAX = 0.7


def prior_weights(mu, tau, old: dict[str, Prior], new: dict[str, Prior]) -> tuple[np.ndarray, float]:
    """Normalised PSIS weights shaped like the draws, and the Pareto k."""
    mu, tau = np.asarray(mu, float), np.asarray(tau, float)
    log_w = (new["mu"].logpdf(mu) + new["tau"].logpdf(tau)) - (old["mu"].logpdf(mu) + old["tau"].logpdf(tau))
    if np.ptp(log_w) == 0:  # the same prior: nothing to move
        return np.full(mu.shape, 1.0 / mu.size), 0.0
    smoothed, k = az.psislw(log_w.ravel())
    w = np.exp(smoothed - smoothed.max())
    return (w / w.sum()).reshape(mu.shape), float(k)


def weighted_quantile(values, weights, q):
    values, weights = np.asarray(values, float).ravel(), np.asarray(weights, float).ravel()
    order = np.argsort(values)
    cdf = np.cumsum(weights[order])
    cdf = (cdf - 0.5 * weights[order]) / cdf[-1]
    return np.interp(q, cdf, values[order])
