"""Binomial-normal random-intercept model (GLMM) by maximum likelihood.

x_i ~ Binomial(n_i, expit(mu + tau u_i)), u_i ~ N(0, 1) (Hamza et al. 2008, J Clin
Epidemiol 61:41; metafor ``rma.glmm(measure="PLO")``). Each study's integral over u_i
is computed by adaptive Gauss-Hermite quadrature: nodes centred at the mode of the
integrand and scaled by its curvature (Pinheiro & Bates 1995, J Comput Graph Stat 4:12),
the rule lme4 uses with ``nAGQ`` nodes. The profile likelihood in tau is maximised by
Brent's method with mu maximised inside; Var(mu) is from the inverse of the numerical
Hessian of the log-likelihood in (mu, tau), as lme4's default ``vcov``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.optimize import minimize_scalar
from scipy.special import expit, gammaln

from ..errors import AnalysisError

NODES = 25
_BLOCK = 4_000_000
_TAU_MAX = 20.0


@dataclass
class GlmmFit:
    mu: float
    se: float
    tau2: float
    loglik: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    k: int
    nodes: int
    converged: bool


def _log_binom(x, n, eta):
    """x log p + (n - x) log(1 - p) with p = expit(eta), as x eta - n log(1 + e^eta)."""
    return x * eta - n * np.logaddexp(0.0, eta)


def _modes(x, n, mu, tau, iters: int = 50):
    """Mode u* and curvature of h(u) = log Binom(x | n, expit(mu + tau u)) - u^2/2, per study
    (broadcast over mu and tau). Newton's method from the normal approximation's mode
    u0 = tau w (eta_i - mu) / (tau^2 w + 1), eta_i = logit((x + 1/2)/(n + 1)), w = n p(1 - p),
    with steps clipped to +-2: far in the tails, where p saturates, a full step overshoots."""
    p_hat = (x + 0.5) / (n + 1.0)
    w = n * p_hat * (1 - p_hat)
    u = tau * w * (np.log(p_hat / (1 - p_hat)) - mu) / (tau**2 * w + 1)
    for _ in range(iters):
        p = expit(mu + tau * u)
        grad = tau * (x - n * p) - u
        hess = -(tau**2) * n * p * (1 - p) - 1
        step = np.clip(grad / hess, -2.0, 2.0)
        u = u - step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = expit(mu + tau * u)
    return u, np.sqrt(1.0 / (tau**2 * n * p * (1 - p) + 1))


def loglik_grid(x, n, mu, tau, nodes: int = NODES):
    """Marginal log-likelihood at each (mu_g, tau_g) by adaptive GH quadrature (binomial
    coefficients included); mu and tau are arrays of the same shape, the result too. Studies
    are taken in blocks of at most ``_BLOCK`` (grid point x study x node) terms, so memory
    stays bounded for any k."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    mu, tau = np.broadcast_arrays(np.asarray(mu, float), np.asarray(tau, float))
    shape = mu.shape
    mu, tau = mu.reshape(-1, 1), tau.reshape(-1, 1)
    step = max(1, _BLOCK // (mu.shape[0] * nodes))
    total = sum(_log_integrals(x[i:i + step], n[i:i + step], mu, tau, nodes).sum(-1) for i in range(0, len(x), step))
    return total.reshape(shape)


def _log_integrals(x, n, mu, tau, nodes):
    """log of each study's integral (grid point, study)."""
    t, w = np.polynomial.hermite.hermgauss(nodes)
    const = gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)
    safe_tau = np.where(tau > 0, tau, 1.0)
    mode, scale = _modes(x, n, mu, safe_tau)
    u = mode[..., None] + np.sqrt(2) * scale[..., None] * t
    h = _log_binom(x[:, None], n[:, None], mu[..., None] + safe_tau[..., None] * u) - u**2 / 2 + t**2
    top = h.max(-1)
    log_int = np.log(scale / np.sqrt(np.pi)) + np.log(np.exp(h - top[..., None]) @ w) + top
    return np.where(tau > 0, log_int, _log_binom(x, n, mu)) + const  # tau = 0: no random effect


def loglik(x, n, mu: float, tau: float, nodes: int = NODES) -> float:
    """Marginal log-likelihood at one (mu, tau)."""
    return float(loglik_grid(x, n, mu, tau, nodes))


def _best_mu(x, n, tau, nodes):
    centre = np.log((x.sum() + 0.5) / (n.sum() - x.sum() + 0.5))
    res = minimize_scalar(lambda m: -loglik(x, n, m, tau, nodes), bracket=(centre - 1, centre + 1),
                          options={"xtol": 1e-12})
    return float(res.x), -float(res.fun)


def _hessian(f, point, step=1e-4):
    point = np.asarray(point, float)
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * step, np.eye(2)[j] * step
            H[i, j] = (f(point + ei + ej) - f(point + ei - ej) - f(point - ei + ej) + f(point - ei - ej)) / (4 * step**2)
    return H


def fit_glmm(events, n, nodes: int = NODES, level: float = 0.95) -> GlmmFit:
    x, n = np.asarray(events, float), np.asarray(n, float)
    if len(x) < 2:
        raise AnalysisError("the GLMM needs at least 2 studies")
    profile = lambda tau: -_best_mu(x, n, tau, nodes)[1]  # noqa: E731
    res = minimize_scalar(profile, bounds=(0.0, _TAU_MAX), method="bounded", options={"xatol": 1e-10})
    tau = float(res.x)
    if profile(0.0) <= res.fun:
        tau = 0.0
    mu, ll = _best_mu(x, n, tau, nodes)
    if tau > 1e-6:
        H = _hessian(lambda p: loglik(x, n, p[0], p[1], nodes), (mu, tau))
        var_mu = float(np.linalg.inv(-H)[0, 0])
    else:
        h = 1e-4
        d2 = (loglik(x, n, mu + h, 0.0) - 2 * ll + loglik(x, n, mu - h, 0.0)) / h**2
        var_mu = -1.0 / d2
    se = np.sqrt(var_mu)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    half_pi = z * np.sqrt(var_mu + tau**2)
    return GlmmFit(mu=mu, se=float(se), tau2=tau**2, loglik=ll, ci_low=mu - z * se, ci_high=mu + z * se,
                   pi_low=mu - half_pi, pi_high=mu + half_pi, k=len(x), nodes=nodes,
                   converged=bool(tau < _TAU_MAX * 0.999))
