"""Small-study effects: Egger's regression test, the rank correlation test, trim-and-fill.

As metafor 3.8-1 (``regtest``, ``ranktest``, ``trimfill``), on the effects y_i, v_i of a measure:

Egger's test (Egger et al. 1997, BMJ 315:629) in metafor's default form (model "rma", predictor
"sei"): the mixed-effects model y_i = b0 + b1 sqrt(v_i) + u_i + e_i, u_i ~ N(0, tau2), fitted by
``rma`` with the chosen tau2 estimator; z = b1 / SE(b1). b0 is the limit estimate (the effect of a
study of infinite precision) with its Wald CI.
Rank correlation (Begg & Mazumdar 1994, Biometrics 50:1088): Kendall's tau between the
standardised deviates (y_i - y_FE) / sqrt(v_i - 1/sum w_j), w = 1/v, and v_i (``kendall.py``).
Trim-and-fill (Duval & Tweedie 2000, Biometrics 56:455; 2000, JASA 95:89), L0 estimator: the
side with missing studies is the one opposite to the sign of the slope of y on sqrt(v) (left when
it is >= 0); with y flipped when it is the right, and sorted, repeat: pool the k - k0 smallest,
rank |y_i - b| over all k, S = sum of the ranks of the y_i > b,
k0 = max(0, round((4S - k(k+1)) / (2k - 1))) until k0 repeats. The k0 most extreme studies are
mirrored about b (y* = 2b - y, same v) and all k + k0 are pooled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..effects import back_transform, default_measure, study_effects
from ..errors import AnalysisError
from .kendall import KendallTest, kendall_test
from .rma import RmaFit, rma

MIN_K = 3  # fewest studies the tests accept (two coefficients and tau2 in Egger's model)
FEW_K = 10  # below this the tests have little power (Sterne et al. 2011, BMJ 343:d4002)
MAXITER = 100


def check_effects(vi, outcome: str = "the outcome") -> None:
    """At least MIN_K studies, and not all with the same variance (no slope, no rank correlation then)."""
    k = len(vi)
    if k < MIN_K:
        raise AnalysisError(f"{outcome}: {k} study(ies) with an effect; small-study tests need at least {MIN_K} "
                            f"(and have little power below {FEW_K})")
    if np.all(np.asarray(vi) == vi[0]):
        raise AnalysisError(f"{outcome}: every study has the same standard error, so there is no small-study "
                            f"effect to test (e.g. equal n with PFT)")


@dataclass
class EggerTest:
    """Egger's regression test: slope on sqrt(v) and its test, intercept = limit estimate."""

    z: float  # t under HKSJ
    p: float
    df: int | None
    slope: float
    limit: float
    limit_ci: tuple[float, float]
    tau2: float


def egger_test(yi, vi, method: str = "REML", hksj: bool = False) -> EggerTest:
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    check_effects(vi)
    fit = rma(yi, vi, X=np.column_stack([np.ones(len(yi)), np.sqrt(vi)]), method=method, hksj=hksj,
              coef_names=["intrcpt", "sei"])
    return EggerTest(z=float(fit.stat[1]), p=float(fit.pval[1]), df=fit.df, slope=float(fit.b[1]),
                     limit=float(fit.b[0]), limit_ci=(float(fit.ci_low[0]), float(fit.ci_high[0])), tau2=fit.tau2)


def rank_test(yi, vi) -> KendallTest:
    """Begg-Mazumdar: Kendall's tau of the standardised deviates against v (``KendallTest``)."""
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    check_effects(vi)
    w = 1 / vi
    deviates = (yi - np.sum(w * yi) / w.sum()) / np.sqrt(vi - 1 / w.sum())
    return kendall_test(deviates, vi)


@dataclass
class TrimFill:
    """Trim-and-fill on the analysis scale; ``mirrored`` indexes the observed study each filled one mirrors."""

    side: str
    k0: int
    se_k0: float
    fit: RmaFit  # of the observed plus the filled studies (the observed alone when k0 = 0)
    filled_yi: np.ndarray
    filled_vi: np.ndarray
    mirrored: np.ndarray


def _l0(centred: np.ndarray) -> tuple[float, float]:
    """L0 and its SE from the signed ranks of |centred| (ties ranked in order of appearance)."""
    from scipy.stats import rankdata  # here: scipy.stats takes longer to import than a light command's budget

    k = len(centred)
    signed = np.sign(centred) * rankdata(np.abs(centred), method="ordinal")
    s = signed[signed > 0].sum()
    k0 = (4 * s - k * (k + 1)) / (2 * k - 1)
    var = (k * (k + 1) * (2 * k + 1) + 10 * k0**3 + 27 * k0**2 + 17 * k0 - 18 * k * k0**2 - 18 * k * k0
           + 6 * k**2 * k0) / 24
    return k0, 4 * np.sqrt(var) / (2 * k - 1) if var >= 0 else float("nan")


def missing_side(yi, vi, method: str) -> str:
    """'left' when the slope of y on sqrt(v) (Egger's model) is >= 0, else 'right'."""
    return "right" if egger_test(yi, vi, method).slope < 0 else "left"


def trim_and_fill(yi, vi, method: str = "REML", side: str | None = None) -> TrimFill:
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    k = len(yi)
    check_effects(vi)
    side = side or missing_side(yi, vi, method)
    if side not in ("left", "right"):
        raise AnalysisError(f"side must be 'left' or 'right', not '{side}'")
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * yi, kind="stable")
    y, v = sign * yi[order], vi[order]
    k0, previous = 0, -1
    for _ in range(MAXITER):
        if k0 == previous:
            break
        previous = k0
        b = rma(y[:k - k0], v[:k - k0], method=method).estimate
        raw, se_k0 = _l0(y - b)
        k0 = max(0, int(np.round(raw)))
    else:
        raise AnalysisError(f"trim-and-fill did not converge in {MAXITER} iterations")
    if k0 == 0:
        return TrimFill(side, 0, se_k0, rma(yi, vi, method=method), np.empty(0), np.empty(0), np.empty(0, int))
    tail = slice(k - k0, k)
    filled = sign * (2 * b - y[tail])
    fit = rma(np.concatenate([yi, filled]), np.concatenate([vi, v[tail]]), method=method)
    return TrimFill(side, k0, se_k0, fit, filled, v[tail], order[tail])


@dataclass
class SmallStudyEffects:
    """The three analyses of one outcome; ``*_t`` on the measure's scale, the rest on the outcome's."""

    outcome: str
    measure: str
    tau2_method: str
    studies: list[str]
    yi: np.ndarray
    vi: np.ndarray
    n: np.ndarray | None
    egger: EggerTest
    rank: KendallTest
    trimfill: TrimFill
    unadjusted: tuple[float, float, float]  # the random-effects estimate and CI of the observed studies
    limit: tuple[float, float, float]  # Egger's limit estimate and CI
    filled: tuple[float, float, float]  # the trim-and-fill estimate and CI
    notes: list[str] = field(default_factory=list)

    @property
    def k(self) -> int:
        return len(self.yi)

    def funnel_points(self) -> pd.DataFrame:
        """Study, effect (x) and SE (y) of the observed and the filled studies, as metafor's ``funnel``."""
        tf = self.trimfill
        labels = [f"filled ({self.studies[i]})" for i in tf.mirrored]
        return pd.DataFrame({"study": self.studies + labels,
                             "yi": np.concatenate([self.yi, tf.filled_yi]),
                             "sei": np.sqrt(np.concatenate([self.vi, tf.filled_vi])),
                             "filled": [False] * self.k + [True] * tf.k0})

    def to_dict(self) -> dict:
        e, tf = self.egger, self.trimfill
        return {
            "outcome": self.outcome, "measure": self.measure, "tau2_method": self.tau2_method, "k": self.k,
            "unadjusted": dict(zip(("estimate", "ci_low", "ci_high"), self.unadjusted)),
            "egger": {"z": e.z, "p": e.p, "df": e.df, "limit_estimate": self.limit[0], "ci_low": self.limit[1],
                      "ci_high": self.limit[2], "slope_t": e.slope, "limit_estimate_t": e.limit, "tau2": e.tau2},
            "rank": {"kendall_tau": self.rank.tau, "p": self.rank.p, "exact": self.rank.exact},
            "trimfill": {"k0": tf.k0, "se_k0": tf.se_k0, "side": tf.side, "estimate": self.filled[0],
                         "ci_low": self.filled[1], "ci_high": self.filled[2], "estimate_t": tf.fit.estimate,
                         "tau2": tf.fit.tau2,
                         "filled_studies": self.funnel_points()[lambda d: d["filled"]]
                         .drop(columns="filled").to_dict(orient="records")},
            "notes": self.notes,
        }


def small_study_effects(rows: pd.DataFrame, measure: str | None = None, tau2_method: str = "DL"
                        ) -> SmallStudyEffects:
    """Egger, rank correlation and trim-and-fill for one outcome's rows (one per study).

    Estimates are back-transformed as ``pool`` does: PFT at the harmonic mean of the n of the
    studies in the fit (for trim-and-fill the observed and the filled ones).
    """
    outcome = str(rows["outcome"].iloc[0])
    measure = (measure or default_measure(rows)).upper()
    if measure == "GLMM":
        raise AnalysisError("small-study tests work on study-level effects; use PFT, PLO or PR, not GLMM")
    eff, used = study_effects(rows, measure)
    check_effects(eff.vi, outcome)
    egger = egger_test(eff.yi, eff.vi, tau2_method)
    tf = trim_and_fill(eff.yi, eff.vi, tau2_method)
    observed = rma(eff.yi, eff.vi, method=tau2_method)
    n = eff.n
    n_filled = None if n is None else np.concatenate([n, n[tf.mirrored]])

    def bt(values, sizes):
        return tuple(float(x) for x in back_transform(values, measure, sizes))

    notes = list(eff.notes)
    if len(used) < FEW_K:
        notes.append(f"only {len(used)} studies: the tests have little power below {FEW_K} "
                     f"(Sterne et al. 2011, BMJ 343:d4002)")
    if eff.n is not None:
        notes.append("funnel asymmetry in proportions is weak evidence of publication bias (Hunter et al. 2014, "
                     "J Clin Epidemiol 67:897)")
    return SmallStudyEffects(
        outcome=outcome, measure=measure, tau2_method=tau2_method, studies=used["study"].astype(str).tolist(),
        yi=eff.yi, vi=eff.vi, n=n, egger=egger, rank=rank_test(eff.yi, eff.vi), trimfill=tf,
        unadjusted=bt([observed.estimate, observed.ci_low[0], observed.ci_high[0]], n),
        limit=bt([egger.limit, *egger.limit_ci], n),
        filled=bt([tf.fit.estimate, tf.fit.ci_low[0], tf.fit.ci_high[0]], n_filled),
        notes=notes)
