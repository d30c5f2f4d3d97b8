"""PyMC models for the hierarchical meta-analyses.

Binomial (DCR, ORR, any events/n outcome; exact likelihood, so 0 or n events need no
correction), non-centred:
    y_i ~ Binomial(n_i, p_i),  logit p_i = mu + x_i'beta + tau z_i,  z_i ~ N(0, 1).
Log-median (PFS, OS), study effects integrated out (no funnel when tau is small):
    log m_i ~ N(mu + x_i'beta, sqrt(s_i^2 + tau^2));
theta_i are drawn afterwards from their conditional posterior (``summaries.py``).
Joint DCR/ORR: responders r_i ~ Bin(n_i, pR_i), stable s_i ~ Bin(n_i - r_i, pS_i),
(logit pR_i, logit pS_i) = (muR, muS) + L z_i with an LKJ(2) correlation prior, so
ORR = pR <= DCR = pR + (1 - pR) pS by construction.
"""

from __future__ import annotations

import numpy as np
import pymc as pm

from ..priors import Prior, PriorError


def _linear(X: np.ndarray | None, priors: dict[str, Prior]):
    """mu + X beta (X without an intercept column), or mu alone."""
    mu = priors["mu"].to_pymc("mu")
    if X is None or X.shape[1] == 0:
        return mu
    return mu + pm.math.dot(X, priors["beta"].to_pymc("beta", dims="coef"))


def _coords(studies, coef_names):
    coords = {"study": list(studies)}
    if coef_names:
        coords["coef"] = list(coef_names)
    return coords


def binomial_model(events, n, priors: dict[str, Prior], studies, X=None, coef_names=()) -> pm.Model:
    events, n = np.asarray(events, int), np.asarray(n, int)
    with pm.Model(coords=_coords(studies, coef_names)) as model:
        eta = _linear(X, priors)
        tau = priors["tau"].to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        theta = pm.Deterministic("theta", eta + tau * z, dims="study")
        pm.Binomial("y", n=n, logit_p=theta, observed=events, dims="study")
    return model


def logmedian_model(y, se, priors: dict[str, Prior], studies, X=None, coef_names=()) -> pm.Model:
    y, se = np.asarray(y, float), np.asarray(se, float)
    with pm.Model(coords=_coords(studies, coef_names)) as model:
        eta = _linear(X, priors)
        tau = priors["tau"].to_pymc("tau")
        pm.Deterministic("eta", eta * np.ones(len(y)), dims="study")
        pm.Normal("y", mu=eta, sigma=pm.math.sqrt(se**2 + tau**2), observed=y, dims="study")
    return model


def joint_response_model(responders, stable, n, priors: dict[str, Prior], studies) -> pm.Model:
    r, s, n = (np.asarray(a, int) for a in (responders, stable, n))
    coords = {"study": list(studies), "response": ["responders", "stable"]}
    with pm.Model(coords=coords) as model:
        mu = priors["mu"].to_pymc("mu", dims="response")
        chol, corr, tau = pm.LKJCholeskyCov("chol", n=2, eta=2.0, sd_dist=_sd_dist(priors["tau"]),
                                            compute_corr=True)
        pm.Deterministic("tau", tau, dims="response")
        pm.Deterministic("rho", corr[0, 1])
        z = pm.Normal("z", 0.0, 1.0, dims=("study", "response"))
        theta = pm.Deterministic("theta", mu + pm.math.dot(z, chol.T), dims=("study", "response"))
        pm.Binomial("y_responders", n=n, logit_p=theta[:, 0], observed=r, dims="study")
        pm.Binomial("y_stable", n=n - r, logit_p=theta[:, 1], observed=s, dims="study")
    return model


def _sd_dist(prior: Prior):
    """The tau prior as an unnamed distribution for LKJCholeskyCov (half-normal family only)."""
    if prior.family == "halfnormal":
        return pm.HalfNormal.dist(sigma=prior.params[0], shape=2)
    if prior.family == "halfcauchy":
        return pm.HalfCauchy.dist(beta=prior.params[0], shape=2)
    if prior.family == "exponential":
        return pm.Exponential.dist(lam=prior.params[0], shape=2)
    if prior.family == "halfstudentt":
        return pm.HalfStudentT.dist(nu=prior.params[0], sigma=prior.params[1], shape=2)
    raise PriorError(f"the joint model takes a half-normal, half-Cauchy, half-t or exponential tau prior, "
                     f"not {prior}")
