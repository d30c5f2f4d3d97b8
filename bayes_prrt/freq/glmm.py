"""Binomial-normal random-intercept model (GLMM) by maximum likelihood.

x_i ~ Binomial(n_i, expit(mu + tau u_i)), u_i ~ N(0, 1) (Hamza et al. 2008, J Clin
Epidemiol 61:41; metafor ``rma.glmm(measure="PLO")``). Each study's integral over u_i
is computed by adaptive Gauss-Hermite quadrature (``likelihood.py``). The profile
likelihood in tau is maximised by Brent's method with mu maximised inside; Var(mu) is
from the inverse of the numerical Hessian of the log-likelihood in (mu, tau), as lme4's default ``vcov``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import distributions as dist
from ..errors import AnalysisError
from ..likelihood import NODES, loglik

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


def _best_mu(x, n, tau, nodes):
    from scipy.optimize import minimize_scalar  # here: slow to import, and only the GLMM needs it

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
    from scipy.optimize import minimize_scalar

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
    z = dist.norm_ppf(1 - (1 - level) / 2)
    half_pi = z * np.sqrt(var_mu + tau**2)
    return GlmmFit(mu=mu, se=float(se), tau2=tau**2, loglik=ll, ci_low=mu - z * se, ci_high=mu + z * se,
                   pi_low=mu - half_pi, pi_high=mu + half_pi, k=len(x), nodes=nodes,
                   converged=bool(tau < _TAU_MAX * 0.999))
