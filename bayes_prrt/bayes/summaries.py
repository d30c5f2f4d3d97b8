"""Posterior summaries: pure functions of draws shaped (chain, draw[, ...]).

On the outcome's scale, for a binary outcome (logit scale model):
  pooled       expit(mu): the proportion of the *median* study (the study with u = 0);
  pop_average  E_u[expit(mu + tau u)], u ~ N(0, 1): the mean proportion over the population of
               studies, computed per draw by 40-node Gauss-Hermite. It lies closer to 0.5
               than expit(mu), the more so the larger tau is;
  predictive   expit(mu + tau u_new): the proportion a new study would show.
For a median outcome (log-months) pooled is exp(mu), the median study's median survival.
"""

from __future__ import annotations

import arviz as az
import numpy as np
from scipy.special import expit

from ..effects import typical_variance

_GH_T, _GH_W = np.polynomial.hermite.hermgauss(40)


def summary(draws) -> dict:
    """Median, mean, SD, 95% equal-tailed and HDI intervals of draws (chain, draw)."""
    x = np.asarray(draws, float)
    flat = x.ravel()
    hdi = az.hdi(flat, hdi_prob=0.95)
    lo, hi = np.quantile(flat, [0.025, 0.975])
    return {"median": float(np.median(flat)), "mean": float(flat.mean()), "sd": float(flat.std(ddof=1)),
            "ci_low": float(lo), "ci_high": float(hi), "hdi_low": float(hdi[0]), "hdi_high": float(hdi[1])}


def to_scale(kind: str, eta):
    return expit(eta) if kind == "binary" else np.exp(eta)


def population_average(mu, tau):
    """E_u[expit(mu + tau u)] for each draw."""
    mu, tau = np.asarray(mu, float), np.asarray(tau, float)
    u = np.sqrt(2) * _GH_T
    return (expit(mu[..., None] + tau[..., None] * u) @ _GH_W) / np.sqrt(np.pi)


def predictive(kind: str, eta, tau, rng: np.random.Generator):
    """The outcome in a new study: eta + tau u_new on the outcome's scale."""
    eta, tau = np.asarray(eta, float), np.asarray(tau, float)
    return to_scale(kind, eta + tau * rng.standard_normal(eta.shape))


def conditional_study_effects(y, se, eta, tau, rng: np.random.Generator):
    """Draw theta_i | eta_i, tau, y_i for the marginalised normal model (draws, study).

    theta_i ~ N(m_i, 1/P_i), P_i = 1/s_i^2 + 1/tau^2, m_i = (y_i/s_i^2 + eta_i/tau^2)/P_i;
    theta_i = eta_i when tau = 0.
    """
    y, w = np.asarray(y, float), 1.0 / np.asarray(se, float) ** 2
    eta, tau = np.asarray(eta, float), np.asarray(tau, float)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        prior_prec = np.where(tau > 0, 1.0 / tau**2, np.inf)
        prec = w + prior_prec
        mean = np.where(np.isinf(prior_prec), eta, (w * y + prior_prec * eta) / prec)
        sd = np.where(np.isinf(prior_prec), 0.0, 1.0 / np.sqrt(prec))
    return mean + sd * rng.standard_normal(mean.shape)


def bayesian_i2(tau, vi):
    """I2 per draw, 100 tau^2 / (tau^2 + s2), with s2 the typical within-study variance of the
    analysis-scale effects vi (``effects.typical_variance``; Higgins & Thompson 2002)."""
    t2 = np.asarray(tau, float) ** 2
    return 100 * t2 / (t2 + typical_variance(vi))
