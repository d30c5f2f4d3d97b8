"""Maximum-likelihood random-effects pooling of log medians under the split-normal likelihood.

l(mu, tau) = sum_i log M_i(mu, tau), M_i the closed-form marginal of ``median_likelihood.py``
(each half of a study's CI its own SE; a lower bound only enters as the one-sided term). For
each tau, l is concave in mu (M_i is a log-concave kernel convolved with a normal density, so it
is log-concave in eta: Prekopa 1973, Acta Sci Math 34:335), so mu_hat(tau) is unique; the profile
in tau is scanned on a grid (0 and 60 log-spaced points) and refined by Brent's method around its
best point. Only ML is defined: DerSimonian-Laird and Paule-Mandel are moment estimators and REML a
residual likelihood of the *normal* model, none of which has a counterpart for this likelihood.
SE(mu_hat) = (-d2 l/dmu2)^(-1/2) at (mu_hat, tau_hat), the observed information of mu given tau_hat
(central differences), as metafor's rma(method="ML") reports for the normal model (there it is
(sum w_i)^(-1/2), and this fit equals that one when every CI is symmetric); a study's weight is its
share of that information (w_i = 1/(v_i + tau^2) in the normal model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AnalysisError
from ..median_likelihood import log_marginal, log_scale

_GRID = 60


@dataclass
class SplitFit:
    mu: float
    se: float
    tau2: float
    loglik: float
    weights: np.ndarray  # percent


def split_ml(y, s_lo, s_hi, fixed_tau: float | None = None) -> SplitFit:
    """ML estimate of (mu, tau^2) from log medians y and their half SEs (s_hi may be infinite);
    ``fixed_tau``: tau held at that value (0: the common-effect model)."""
    from scipy import optimize  # here: the light commands (validate, pool) import this module, not scipy.optimize

    y, s_lo, s_hi = (np.asarray(a, float) for a in (y, s_lo, s_hi))
    if np.isinf(s_hi).all():
        raise AnalysisError("every study reports a lower CI bound only: the split-normal likelihood then has no "
                            "finite maximum (it is flat above the largest median); use median_likelihood 'normal'")
    scale = log_scale(s_lo, s_hi)
    finite = np.concatenate([s_lo, s_hi[np.isfinite(s_hi)]])
    spread = max(float(np.ptp(y)), float(finite.max()))
    bounds = (float(y.min()) - 20 * spread, float(y.max()) + 20 * spread)

    def study_loglik(mu, tau):
        return log_marginal(y, s_lo, s_hi, mu, tau, scale)

    def mu_hat(tau):
        res = optimize.minimize_scalar(lambda m: -study_loglik(m, tau).sum(), bounds=bounds, method="bounded",
                                       options={"xatol": 1e-12 * spread})
        return float(res.x), -float(res.fun)

    if fixed_tau is None:
        tau = _profile_max(lambda t: mu_hat(t)[1], spread)
    else:
        tau = float(fixed_tau)
    mu, loglik = mu_hat(tau)
    h = 1e-3 * float(finite.min())
    info = -(study_loglik(mu + h, tau) - 2 * study_loglik(mu, tau) + study_loglik(mu - h, tau)) / h**2
    return SplitFit(mu=mu, se=float(1 / np.sqrt(info.sum())), tau2=tau**2, loglik=loglik,
                    weights=100 * info / info.sum())


def _profile_max(profile, spread: float) -> float:
    """tau maximising ``profile`` on [0, inf): the best point of a grid, refined between its neighbours."""
    from scipy import optimize

    grid = np.concatenate([[0.0], np.geomspace(1e-6 * spread, 100 * spread, _GRID)])
    values = np.array([profile(t) for t in grid])
    i = int(np.argmax(values))
    if i == len(grid) - 1:
        raise AnalysisError("the split-normal likelihood increases without bound in tau (the studies' lower bounds "
                            "do not limit the spread); use median_likelihood 'normal'")
    lo, hi = grid[max(i - 1, 0)], grid[i + 1]
    res = optimize.minimize_scalar(lambda t: -profile(t), bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-10 * spread})
    return float(res.x) if -res.fun > values[i] else float(grid[i])
