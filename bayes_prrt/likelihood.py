"""Marginal likelihood of the binomial-normal random-effects model, shared by the GLMM and
the exact Bayesian engine.

x_i ~ Binomial(n_i, expit(mu + tau u_i)), u_i ~ N(0, 1). Each study's integral over u_i is
computed by adaptive Gauss-Hermite quadrature: nodes centred at the mode of the integrand
and scaled by its curvature (Pinheiro & Bates 1995, J Comput Graph Stat 4:12), the rule
lme4 uses with ``nAGQ`` nodes.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln

NODES = 25
_BLOCK = 4_000_000


def _log_binom(x, n, eta):
    """x log p + (n - x) log(1 - p) with p = expit(eta), as x eta - n log(1 + e^eta)."""
    return x * eta - n * np.logaddexp(0.0, eta)


def study_effect_draws(x, n, mu, tau, rng: np.random.Generator, proposals: int = 32):
    """theta_i = mu + tau u_i drawn from p(u_i | x_i, mu, tau) for each draw of (mu, tau) (arrays of one
    shape) and study: sampling-importance-resampling (Rubin 1988) from the Laplace approximation at
    the mode (``_modes``), its SD widened 1.5-fold, ``proposals`` per draw and study. Returns
    (draws..., study)."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    mu, tau = np.asarray(mu, float)[..., None], np.asarray(tau, float)[..., None]
    safe = np.where(tau > 0, tau, 1.0)
    mode, scale = _modes(x, n, mu, safe)
    sd = 1.5 * scale[..., None]
    u = mode[..., None] + sd * rng.standard_normal(mode.shape + (proposals,))
    eta = mu[..., None] + safe[..., None] * u
    log_w = _log_binom(x[:, None], n[:, None], eta) - u**2 / 2 + ((u - mode[..., None]) / sd) ** 2 / 2
    pick = np.argmax(log_w + rng.gumbel(size=log_w.shape), axis=-1)  # Gumbel-max: one proposal by its weight
    chosen = np.take_along_axis(u, pick[..., None], axis=-1)[..., 0]
    return np.where(tau > 0, mu + safe * chosen, np.broadcast_to(mu, chosen.shape))


def _modes(x, n, mu, tau, iters: int = 50):
    """Mode u* and curvature of h(u) = log Binom(x | n, expit(mu + tau u)) - u^2/2, per study
    (broadcast over mu and tau). Newton's method from the normal approximation's mode
    u0 = tau w (eta_i - mu) / (tau^2 w + 1), eta_i = logit((x + 1/2)/(n + 1)), w = n p(1 - p),
    with steps clipped to +-2: far in the tails, where p saturates, a full step overshoots.
    The step is h'(u) / -h''(u) = (tau (x - n p) - u) / (tau^2 n p (1 - p) + 1), made in place."""
    p_hat = (x + 0.5) / (n + 1.0)
    w = n * p_hat * (1 - p_hat)
    u = tau * w * (np.log(p_hat / (1 - p_hat)) - mu) / (tau**2 * w + 1)
    curvature = tau**2 * n  # (grid, study), as u
    p, step, bend = np.empty_like(u), np.empty_like(u), np.empty_like(u)
    for _ in range(iters):
        expit(np.add(np.multiply(tau, u, out=p), mu, out=p), out=p)
        np.subtract(x, np.multiply(n, p, out=step), out=step)
        np.subtract(np.multiply(step, tau, out=step), u, out=step)  # h'(u)
        np.multiply(np.multiply(np.subtract(1.0, p, out=bend), p, out=bend), curvature, out=bend)
        np.clip(np.divide(step, np.add(bend, 1.0, out=bend), out=step), -2.0, 2.0, out=step)
        u += step
        if max(step.max(), -step.min()) < 1e-10:
            break
    expit(np.add(np.multiply(tau, u, out=p), mu, out=p), out=p)
    return u, np.sqrt(1.0 / (curvature * p * (1 - p) + 1))


def loglik_grid(x, n, mu, tau, nodes: int = NODES):
    """Marginal log-likelihood at each (mu_g, tau_g) by adaptive GH quadrature (binomial
    coefficients included); mu and tau are arrays of the same shape, the result too. Studies
    with the same (x, n) are computed once and counted; the distinct ones are taken in blocks of
    at most ``_BLOCK`` (grid point x study x node) terms, so memory stays bounded for any k."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    (x, n), counts = _distinct(x, n)
    mu, tau = np.broadcast_arrays(np.asarray(mu, float), np.asarray(tau, float))
    shape = mu.shape
    mu, tau = mu.reshape(-1, 1), tau.reshape(-1, 1)
    step = max(1, _BLOCK // (mu.shape[0] * nodes))
    total = sum(_log_integrals(x[i:i + step], n[i:i + step], mu, tau, nodes) @ counts[i:i + step]
                for i in range(0, len(x), step))
    return total.reshape(shape)


def _distinct(x, n):
    """The distinct (x, n) pairs (as two arrays) and how many studies have each."""
    pairs, counts = np.unique(np.column_stack([x, n]), axis=0, return_counts=True)
    return (pairs[:, 0], pairs[:, 1]), counts.astype(float)


def _log_integrals(x, n, mu, tau, nodes):
    """log of each study's integral (grid point, study). With the nodes u_k = u* + c t_k (c = sqrt(2) x
    scale) and eta_k = mu + tau u_k = eta* + tau c t_k, the integrand's log h_k = x eta_k - n log(1 + e^eta_k)
    - u_k^2 / 2 + t_k^2 is taken relative to its value at the mode, h* (x eta* - n log(1 + e^eta*) - u*^2/2):
    h_k - h* = (x tau c - u* c) t_k + (1 - c^2 / 2) t_k^2 - n (log(1 + e^eta_k) - log(1 + e^eta*)), at most
    t_k^2 (h - t^2 is concave with its maximum at the mode), so exp(h_k - h*) neither overflows nor needs
    a maximum taken."""
    t, w = np.polynomial.hermite.hermgauss(nodes)
    const = gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)
    safe_tau = np.where(tau > 0, tau, 1.0)
    mode, scale = _modes(x, n, mu, safe_tau)
    c = np.sqrt(2) * scale
    eta0, d = mu + safe_tau * mode, safe_tau * c
    soft0 = np.logaddexp(0.0, eta0)
    shifted = ((x * d - mode * c)[..., None] * t + (1.0 - c * c / 2)[..., None] * t**2
               - n[:, None] * (np.logaddexp(0.0, eta0[..., None] + d[..., None] * t) - soft0[..., None]))
    top = x * eta0 - n * soft0 - mode**2 / 2
    log_int = np.log(scale / np.sqrt(np.pi)) + np.log(np.exp(shifted) @ w) + top
    return np.where(tau > 0, log_int, _log_binom(x, n, mu)) + const  # tau = 0: no random effect


def loglik(x, n, mu: float, tau: float, nodes: int = NODES) -> float:
    """Marginal log-likelihood at one (mu, tau)."""
    return float(loglik_grid(x, n, mu, tau, nodes))
