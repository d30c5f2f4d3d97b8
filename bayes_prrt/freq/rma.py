"""Common-effect and random-effects (meta-regression) models on study-level effects.

Given tau2 (see ``tau2.py``), b = (X'WX)^-1 X'Wy with W = diag(1/(v + tau2)),
Var(b) = (X'WX)^-1; Wald z tests, or with the Knapp-Hartung adjustment (HKSJ; Knapp &
Hartung 2003, Stat Med 22:2693) Var(b) scaled by s2 = y'Py/(k-p) and t(k-p) quantiles.
Heterogeneity as in metafor: QE = y'P0 y, I2 = 100 tau2/(tau2 + vt), H2 = (tau2 + vt)/vt,
vt = (k-p)/tr(P0) (Higgins & Thompson 2002, Stat Med 21:1539). The prediction interval
is b +/- crit sqrt(Var(b) + tau2) with crit from N(0,1), or t(k-p) under HKSJ. The
Q-profile CI for tau2 (Viechtbauer 2007, Stat Med 26:37) solves y'P(tau2)y = chi2 quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import distributions as dist
from .tau2 import estimate_tau2, forms, q_generalised, root_decreasing

FIXED = "FE"


@dataclass
class RmaFit:
    """A fitted model on the analysis scale; names follow metafor."""

    method: str
    hksj: bool
    k: int
    coef_names: list[str]
    b: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pval: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    crit: float
    df: int | None
    tau2: float
    tau2_ci: tuple[float, float] | None
    QE: float
    p_QE: float
    I2: float
    H2: float
    QM: float | None
    p_QM: float | None
    weights: np.ndarray  # percent

    @property
    def estimate(self) -> float:
        return float(self.b[0])

    def predict(self) -> tuple[float, float]:
        """95% prediction interval for the intercept (a new study, no moderators)."""
        half = self.crit * np.sqrt(self.vb[0, 0] + self.tau2)
        return self.estimate - half, self.estimate + half


def _i2_h2(tau2: float, vt: float) -> tuple[float, float]:
    return 100 * tau2 / (vt + tau2), (vt + tau2) / vt


def q_profile_ci(y, v, X, level: float = 0.95) -> tuple[float, float]:
    """tau2 values where the generalised Q equals the chi2(k-p) quantiles; 0 where Q(0) is below."""
    k, p = X.shape
    df = k - p
    lo_target, hi_target = dist.chi2_ppf(np.array([(1 + level) / 2, (1 - level) / 2]), df)

    def solve(target):
        return root_decreasing(lambda t: q_generalised(y, v, X, t) - target, float(np.var(y)))

    return solve(lo_target), solve(hi_target)


def rma(y, v, X=None, method: str = "REML", hksj: bool = False, coef_names=None,
        level: float = 0.95, q_profile: bool = True) -> RmaFit:
    """Fit the common-effect (``method='FE'``) or random-effects model; ``q_profile=False`` skips the
    Q-profile CI of tau2 (``tau2_ci`` None), the slowest part, for callers that do not report it."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    X = np.ones((len(y), 1)) if X is None else np.asarray(X, float)
    k, p = X.shape
    tau2 = 0.0 if method == FIXED else estimate_tau2(y, v, X, method)
    fit = forms(y, v, X, tau2)
    w, b = fit.w, fit.b
    vb = np.linalg.inv(fit.XtWX)
    df = None
    alpha = 1 - level
    if hksj:
        df = k - p
        vb = vb * fit.yPy / df
        crit = dist.t_ppf(1 - alpha / 2, df)
    else:
        crit = dist.norm_ppf(1 - alpha / 2)
    se = np.sqrt(np.diag(vb))
    stat = b / se
    pval = 2 * (dist.t_sf(np.abs(stat), df) if hksj else dist.norm_sf(np.abs(stat)))
    f0 = forms(y, v, X, 0.0)
    qe = f0.yPy
    if method == FIXED:
        I2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 and k > p else 0.0  # k = p: Q is 0 up to rounding
        H2 = qe / (k - p) if k > p else 1.0
    else:
        I2, H2 = _i2_h2(tau2, (k - p) / f0.trP) if k > p else (0.0, 1.0)
    QM = p_QM = None
    if p > 1:
        idx = slice(1, p)
        QM = float(b[idx] @ np.linalg.solve(vb[idx, idx], b[idx]))
        if hksj:
            QM /= p - 1
            p_QM = float(dist.f_sf(QM, p - 1, df))
        else:
            p_QM = float(dist.chi2_sf(QM, p - 1))
    tau2_ci = q_profile_ci(y, v, X, level) if q_profile and method != FIXED and k - p >= 1 else None
    return RmaFit(
        method=method, hksj=hksj, k=k,
        coef_names=list(coef_names) if coef_names is not None else ["intrcpt"],
        b=b, vb=vb, se=se, stat=stat, pval=pval,
        ci_low=b - crit * se, ci_high=b + crit * se, crit=float(crit), df=df,
        tau2=float(tau2), tau2_ci=tau2_ci, QE=qe,
        p_QE=float(dist.chi2_sf(qe, k - p)) if k > p else 1.0,
        I2=float(I2), H2=float(H2), QM=QM, p_QM=p_QM,
        weights=100 * w / w.sum(),
    )


def i2_interval(fit: RmaFit, v, X=None) -> tuple[float, float] | None:
    """I2 at the Q-profile tau2 bounds (metafor's confint)."""
    if fit.tau2_ci is None:
        return None
    X = np.ones((len(v), 1)) if X is None else X
    v = np.asarray(v, float)
    vt = (X.shape[0] - X.shape[1]) / forms(np.zeros_like(v), v, X, 0.0).trP
    return tuple(_i2_h2(t, vt)[0] for t in fit.tau2_ci)
