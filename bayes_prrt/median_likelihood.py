"""The split-normal likelihood of a log median with an asymmetric (or one-sided) 95% CI, its
marginal over a normal study effect and the study effect's conditional distribution.

A study reports y = log m with 95% CI (L, U); on the log scale each half has its own SE,
a = (y - log L)/1.96 below and b = (log U - y)/1.96 above. The likelihood of the study's true
log median theta is the two-piece (split) normal (John 1982, Commun Stat Theory Methods 11:879;
Wallis 2014, Stat Sci 29:106):
    L(theta) = C exp(-(y - theta)^2 / (2 s^2)),  s = a for theta < y, s = b for theta > y,
C = 2 / (sqrt(2 pi) (a + b)); a = b gives the normal N(y; theta, a^2). With U not estimable
b = infinity: L is flat above y (a median beyond the one observed is not excluded by data whose
upper bound was not reached), the one-sided (censored) limit of the split normal, taken with
C = 1 / (sqrt(2 pi) a): below y the normal likelihood of SE a, above y its maximum.

Marginal over theta ~ N(eta, tau^2), d = y - eta: each piece is a normal density times a
normal CDF (the product of two normal densities, integrated over a half line),
    M = C sqrt(2 pi) [ a N(y; eta, a^2 + tau^2) Phi(d / (tau q_a^1/2))
                     + b N(y; eta, b^2 + tau^2) Phi(-d / (tau q_b^1/2)) ],  q_s = 1 + tau^2 / s^2,
with b N(y; eta, b^2 + tau^2) -> 1/sqrt(2 pi) as b -> infinity. Given eta, tau and y, theta is
the two-piece mixture of N(eta + d tau^2/(s^2 + tau^2), tau^2 / q_s) truncated to theta < y
(s = a) and theta > y (s = b), with the two terms of M as weights.

This NumPy version serves the exact engines, the frequentist fit and the pointwise
log-likelihood; the PyMC model evaluates the marginal and its gradient with the numba Op of
``bayes/split_op.py``, tested against this one.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, ndtri_exp

LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def _ratio(d, t):
    """d / t with t = 0 read as the limit (+-inf, or 0 when d = 0 too)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d == 0, 0.0, np.asarray(d, float) / t)


def log_scale(s_lo, s_hi):
    """log C sqrt(2 pi): log 2/(a + b), or -log a when b is infinite (constant in eta and tau)."""
    s_lo, s_hi = np.asarray(s_lo, float), np.asarray(s_hi, float)
    return np.where(np.isinf(s_hi), -np.log(s_lo), np.log(2.0) - np.log(s_lo + np.where(np.isinf(s_hi), 0.0, s_hi)))


def _piece(d, s, tau):
    """log[ s N(y; eta, s^2 + tau^2) Phi(d / (tau sqrt(q))) ], q = 1 + tau^2/s^2 (s may be infinite)."""
    q = 1.0 + tau**2 / s**2
    return -LOG_SQRT_2PI - 0.5 * np.log1p(tau**2 / s**2) - d**2 / (2 * (s**2 + tau**2)) \
        + log_ndtr(_ratio(d, tau * np.sqrt(q)))


def log_marginal(y, s_lo, s_hi, eta, tau, scale=None):
    """log int L(theta) N(theta; eta, tau^2) dtheta, elementwise (tau = 0: log L(eta)); ``scale``:
    ``log_scale(s_lo, s_hi)`` when already computed."""
    d = y - eta
    scale = log_scale(s_lo, s_hi) if scale is None else scale
    return scale + np.logaddexp(_piece(d, s_lo, tau), _piece(-d, s_hi, tau))


def loglik_grid(y, s_lo, s_hi, mu, tau):
    """Sum over studies of ``log_marginal`` at each (mu, tau) (arrays of one shape)."""
    y, s_lo, s_hi = (np.asarray(a, float) for a in (y, s_lo, s_hi))
    mu, tau = np.broadcast_arrays(np.asarray(mu, float), np.asarray(tau, float))
    scale = log_scale(s_lo, s_hi)
    return log_marginal(y, s_lo, s_hi, mu[..., None], tau[..., None], scale).sum(-1)


def study_effect_draws(y, s_lo, s_hi, eta, tau, rng: np.random.Generator):
    """theta_i | y_i, eta_i, tau drawn exactly (draws..., study): a piece by its weight, then its
    truncated normal by inversion in log space (``ndtri_exp``, accurate far in the tails); theta = eta
    when tau = 0. ``eta``: (draws..., study); ``tau``: (draws...)."""
    y, s_lo, s_hi = (np.asarray(a, float) for a in (y, s_lo, s_hi))
    eta, tau = np.asarray(eta, float), np.asarray(tau, float)[..., None]
    d = y - eta
    log_lo, log_hi = _piece(d, s_lo, tau), _piece(-d, s_hi, tau)
    lower = rng.random(eta.shape) < np.exp(log_lo - np.logaddexp(log_lo, log_hi))
    s = np.where(lower, s_lo, s_hi)
    sign = np.where(lower, 1.0, -1.0)
    q = 1.0 + tau**2 / s**2
    sd = tau / np.sqrt(q)
    centre = eta + d * (tau**2 / s**2) / q
    limit = _ratio(sign * d, tau * np.sqrt(q))  # the truncation point, standardised, with the piece's sign
    x = ndtri_exp(np.log(rng.random(eta.shape)) + log_ndtr(limit))  # x < limit
    return np.where(tau > 0, centre + sign * sd * x, eta)
