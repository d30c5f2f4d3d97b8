"""PyMC models for the hierarchical meta-analyses.

Binomial (DCR, ORR, any events/n outcome; exact likelihood, so 0 or n events need no
correction), non-centred:
    y_i ~ Binomial(n_i, p_i),  logit p_i = mu + x_i'beta + tau z_i,  z_i ~ N(0, 1).
Log-median (PFS, OS), study effects integrated out (no funnel when tau is small):
    log m_i ~ N(mu + x_i'beta, sqrt(s_i^2 + tau^2));
or, with the split-normal likelihood (``scale_hi`` given: each half of the CI its own SE, a lower
bound only the one-sided term), the closed-form marginal of ``median_likelihood.py`` as a
``pm.Potential``, evaluated with its gradient by one numba Op (``split_op.py``); theta_i are
drawn afterwards from their conditional posterior (``summaries.py``).
Joint DCR/ORR: responders r_i ~ Bin(n_i, pR_i), stable s_i ~ Bin(n_i - r_i, pS_i),
(logit pR_i, logit pS_i) = (muR, muS) + L z_i with an LKJ(2) correlation prior, so
ORR = pR <= DCR = pR + (1 - pR) pS by construction.

In the binomial and log-median models every datum and every prior parameter is ``pm.Data``,
so one compiled model serves all data sets of its shape and all priors of its families
(``compiled.py``). A model may be padded to K >= k studies and P >= p covariate columns:
a padded study has n = 0 (binomial) or weight 0 (log-median) and a padded column is 0, so
its z or beta is a posteriori its prior, independent of the rest; the posterior of the
real parameters is exactly that of the unpadded model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from scipy.special import gammaln, log_expit

from .. import median_likelihood
from ..priors import Prior


PARAMETERS = ("mu", "tau", "beta")


@dataclass(frozen=True)
class ModelData:
    """One hierarchical model's data: y = events (binary) or log medians, scale = n or SE,
    X = covariates without the intercept column, shape (k, p) with p >= 0; ``scale_hi``: for the
    split-normal likelihood the upper half's SE (infinite: a lower bound only), ``scale`` then the
    lower half's; None for the normal likelihood."""

    kind: str
    y: np.ndarray
    scale: np.ndarray
    X: np.ndarray
    priors: dict[str, Prior]
    studies: list[str] = field(default_factory=list)
    coef_names: list[str] = field(default_factory=list)
    scale_hi: np.ndarray | None = None

    @property
    def split(self) -> bool:
        return self.scale_hi is not None

    @property
    def k(self) -> int:
        return len(self.y)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    def structure(self, K: int, P: int) -> tuple:
        """What a compiled model depends on: kind, prior families and padded shape."""
        split = ("split",) if self.split else ()
        return (self.kind, *(self.priors[name].family for name in PARAMETERS), K, P, *split)

    def arrays(self, K: int, P: int) -> dict[str, np.ndarray]:
        """Data and prior parameters, padded to K studies and P covariate columns."""
        k, p = self.k, self.p
        pad = np.zeros(K - k)
        out = {"X": np.pad(np.asarray(self.X, float), ((0, K - k), (0, P - p)))} if P else {}
        if self.kind == "binary":
            out |= {"events": np.concatenate([self.y, pad]).astype(np.int64),
                    "n": np.concatenate([self.scale, pad]).astype(np.int64)}
        else:
            out |= {"log_median": np.concatenate([self.y, pad]), "se": np.concatenate([self.scale, pad + 1.0]),
                    "weight": np.concatenate([np.ones(k), pad])}
            if self.split:
                out |= {"se_hi": np.concatenate([self.scale_hi, pad + 1.0]),
                        "log_scale": np.concatenate([median_likelihood.log_scale(self.scale, self.scale_hi), pad])}
        return out | {f"{name}_prior": np.asarray(self.priors[name].params, float) for name in PARAMETERS}


def hierarchical_model(data: ModelData, K: int | None = None, P: int | None = None) -> pm.Model:
    """The binomial or log-median model of ``data``, padded to K studies and P columns."""
    import pymc as pm  # here, not at the top: an analysis without MCMC never loads PyMC
    import pytensor.tensor as pt

    K = data.k if K is None else K
    P = data.p if P is None else P
    with pm.Model() as model:
        d = {name: pm.Data(name, value) for name, value in data.arrays(K, P).items()}
        eta = data.priors["mu"].to_pymc("mu", params=d["mu_prior"])
        if P:
            eta = eta + pt.dot(d["X"], data.priors["beta"].to_pymc("beta", params=d["beta_prior"], shape=P))
        tau = data.priors["tau"].to_pymc("tau", params=d["tau_prior"])
        if data.kind == "binary":
            z = pm.Normal("z", 0.0, 1.0, shape=K)
            theta = pm.Deterministic("theta", eta + tau * z)
            pm.Binomial("y", n=d["n"], logit_p=theta, observed=d["events"])
        else:
            eta = pm.Deterministic("eta", eta * pt.ones(K))
            if data.split:
                from .split_op import split_log_marginal

                pm.Potential("y", split_log_marginal(d, eta, tau))
            else:
                logp = pm.logp(pm.Normal.dist(eta, pt.sqrt(d["se"] ** 2 + tau**2)), d["log_median"])
                pm.Potential("y", pt.sum(d["weight"] * logp))
    return model


def joint_response_model(responders, stable, n, priors: dict[str, Prior], studies) -> pm.Model:
    import pymc as pm

    r, s, n = (np.asarray(a, int) for a in (responders, stable, n))
    coords = {"study": list(studies), "response": ["responders", "stable"]}
    with pm.Model(coords=coords) as model:
        mu = priors["mu"].to_pymc("mu", dims="response")
        chol, corr, tau = pm.LKJCholeskyCov("chol", n=2, eta=2.0, sd_dist=priors["tau"].to_pymc_dist(shape=2),
                                            compute_corr=True)
        pm.Deterministic("tau", tau, dims="response")
        pm.Deterministic("rho", corr[0, 1])
        z = pm.Normal("z", 0.0, 1.0, dims=("study", "response"))
        theta = pm.Deterministic("theta", mu + pm.math.dot(z, chol.T), dims=("study", "response"))
        pm.Binomial("y_responders", n=n, logit_p=theta[:, 0], observed=r, dims="study")
        pm.Binomial("y_stable", n=n - r, logit_p=theta[:, 1], observed=s, dims="study")
    return model


def log_likelihood(data: ModelData, eta, tau) -> np.ndarray:
    """Pointwise log-likelihood (chain, draw, study) of the binomial model given theta (``eta``)
    or of the log-median model given eta and tau (the study effect integrated out)."""
    eta = np.asarray(eta, float)
    if data.kind == "binary":
        x, n = data.y.astype(float), data.scale.astype(float)
        return gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1) + x * log_expit(eta) + (n - x) * log_expit(-eta)
    tau = np.asarray(tau, float)[..., None]
    if data.split:
        return median_likelihood.log_marginal(data.y, data.scale, data.scale_hi, eta, tau)
    return stats.norm.logpdf(data.y, eta, np.sqrt(data.scale**2 + tau**2))
