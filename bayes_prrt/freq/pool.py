"""Frequentist pooling of one outcome: from dataset rows to a result on the outcome's scale.

``pool(rows, measure, tau2_method)`` fits the random-effects model (``tau2_method='FE'``
for the common-effect model) and back-transforms estimate, CI and prediction interval;
``single_study`` summarises an outcome with one study (its own estimate and CI, no pooling);
``subgroups`` pools within each level of a covariate and tests the difference between
levels; ``leave_one_out`` refits without each study; ``meta_regression`` lives in
``metareg.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .. import distributions as dist
from ..errors import AnalysisError
from .glmm import fit_glmm
from ..design import known_covariates
from ..effects import (BINARY_MEASURES, Effects, back_transform, clopper_pearson, ipft, median_se_constant,
                       study_effects, typical_variance)
from .rma import i2_interval, rma
from .split import split_ml

@dataclass
class Pooled:
    """One pooled result; estimate/CI/PI on the outcome's scale, ``*_t`` on the analysis scale."""

    outcome: str
    measure: str
    tau2_method: str
    hksj: bool
    k: int
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    estimate_t: float
    se_t: float
    tau2: float
    tau2_ci: tuple[float, float] | None
    I2: float
    I2_ci: tuple[float, float] | None
    H2: float
    Q: float
    p_Q: float
    weights: dict[str, float]
    notes: list[str] = field(default_factory=list)
    single_study: bool = False  # one study summarised, nothing pooled (see ``single_study``)
    median_se: str | None = None  # medians: the rule for a median without a CI (effects.py)
    median_likelihood: str | None = None  # medians: "normal" or "split" (median_likelihood.py)
    rules: dict[str, str] = field(default_factory=dict)  # medians: study -> the rule that made its entry

    @property
    def model(self) -> str:
        if self.single_study:
            return "single study"
        return "common-effect" if self.tau2_method == "FE" else "random-effects"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["model"] = self.model
        return out


def _check_k(k: int, outcome: str, minimum: int) -> None:
    if k < minimum:
        raise AnalysisError(f"{outcome}: {k} poolable study(ies); pooling needs at least {minimum}")


def pool(rows: pd.DataFrame, measure: str, tau2_method: str = "DL", hksj: bool = False,
         min_k: int = 2, median_se: str = "ci", median_likelihood: str = "normal", q_profile: bool = True) -> Pooled:
    """Pool one outcome's rows (one per study); ``median_se``: the rule for medians without a CI
    ("ci": left out; "ci+n": SE c/sqrt(n), see ``effects.py``); ``median_likelihood``: "normal" (one
    SE per study, ``tau2_method``) or "split" (ML under the split-normal likelihood, ``split.py``);
    ``q_profile=False``: no CI for tau2 and I2."""
    outcome = str(rows["outcome"].iloc[0])
    eff, used = study_effects(rows, measure, median_se, median_likelihood)
    _check_k(len(used), outcome, min_k)
    if measure == "GLMM":  # a one-study level of ``subgroups``: its own estimate, exact CI
        return _pool_glmm(outcome, used, eff) if len(used) > 1 else single_study(used, measure)
    if eff.halves is not None and median_likelihood == "split":
        result = (_pool_split(outcome, used, eff, tau2_method, hksj) if len(used) > 1
                  else _pool_normal(outcome, used, eff, measure, tau2_method, hksj, q_profile))  # one study: its own value
    else:
        result = _pool_normal(outcome, used, eff, measure, tau2_method, hksj, q_profile)
    if eff.halves is not None:
        result.median_se, result.median_likelihood = str(median_se), median_likelihood
        result.rules = dict(zip(used["study"].astype(str), eff.rules, strict=True))
    return result


def _pool_normal(outcome: str, used: pd.DataFrame, eff: Effects, measure: str, tau2_method: str,
                 hksj: bool, q_profile: bool = True) -> Pooled:
    fit = rma(eff.yi, eff.vi, method=tau2_method, hksj=hksj, q_profile=q_profile)
    pi = fit.predict() if tau2_method != "FE" else (fit.ci_low[0], fit.ci_high[0])
    bt = back_transform([fit.estimate, fit.ci_low[0], fit.ci_high[0], *pi], measure, eff.n)
    notes = list(eff.notes)
    if len(used) == 1:
        notes.append("single study: its own estimate, no pooling")
    if measure == "PFT":
        notes += _pft_n_dependence(fit.estimate, eff.n, bt[0], bt[2] - bt[1])
    if measure == "PR":
        bt = _clip_proportion(bt, notes)
    if measure == "MEDIAN" and min(bt[1], bt[3]) < 0:
        notes.append("the CI or prediction interval on the raw median scale reaches below 0 months; "
                     "LOGMEDIAN keeps it positive")
    return Pooled(
        outcome=outcome, measure=measure, tau2_method=tau2_method, hksj=hksj, k=fit.k,
        estimate=bt[0], ci_low=bt[1], ci_high=bt[2], pi_low=bt[3], pi_high=bt[4],
        estimate_t=fit.estimate, se_t=float(fit.se[0]), tau2=fit.tau2, tau2_ci=fit.tau2_ci,
        I2=fit.I2, I2_ci=i2_interval(fit, eff.vi), H2=fit.H2, Q=fit.QE, p_Q=fit.p_QE,
        weights=dict(zip(used["study"].astype(str), fit.weights.round(10), strict=True)), notes=notes,
    )


def _pool_split(outcome: str, used: pd.DataFrame, eff: Effects, tau2_method: str, hksj: bool) -> Pooled:
    """ML under the split-normal likelihood (``split.py``); Wald CI mu +- 1.96 SE and prediction interval
    mu +- 1.96 sqrt(SE^2 + tau^2), as metafor's; I2 and Cochran's Q from the symmetric SEs (``eff.vi``)."""
    fit = split_ml(eff.yi, *eff.halves, fixed_tau=0.0 if tau2_method == "FE" else None)
    z = float(dist.norm_ppf(0.975))
    half, pi_half = z * fit.se, z * np.sqrt(fit.se**2 + fit.tau2)
    bt = back_transform([fit.mu, fit.mu - half, fit.mu + half, fit.mu - pi_half, fit.mu + pi_half], eff.measure)
    notes = list(eff.notes) + ["split-normal likelihood (each half of a CI its own SE): maximum likelihood"
                               + ("" if tau2_method in ("ML", "FE") else f"; {tau2_method} is an estimator of the "
                                  f"normal model, not defined for it") + ("; HKSJ not applied (defined for the "
                                                                          "normal model)" if hksj else "")]
    vt = typical_variance(eff.vi)
    heterogeneity = rma(eff.yi, eff.vi, method="FE")  # Q of the symmetric SEs, a heterogeneity statistic beside ML
    return Pooled(
        outcome=outcome, measure=eff.measure, tau2_method="FE" if tau2_method == "FE" else "ML", hksj=False,
        k=len(eff.yi), estimate=bt[0], ci_low=bt[1], ci_high=bt[2], pi_low=bt[3], pi_high=bt[4],
        estimate_t=fit.mu, se_t=fit.se, tau2=fit.tau2, tau2_ci=None, I2=float(100 * fit.tau2 / (vt + fit.tau2)),
        I2_ci=None, H2=float((vt + fit.tau2) / vt), Q=heterogeneity.QE, p_Q=heterogeneity.p_QE,
        weights=dict(zip(used["study"].astype(str), fit.weights.round(10), strict=True)), notes=notes,
    )


def _clip_proportion(bt, notes: list[str]):
    """PR's normal-theory bounds (estimate +- 1.96 se on the raw proportion) can leave [0, 1] when
    the proportions are near 0 or 1; they are clipped to it, with a note giving the raw bounds.
    metafor's rma(measure="PR") prints the raw bounds (it clips only in its transf functions)."""
    clipped = np.clip(bt, 0.0, 1.0)
    if np.any(clipped != bt):
        notes.append(f"PR: the normal-approximation CI/PI [{bt[1]:.4g}, {bt[2]:.4g}] / [{bt[3]:.4g}, {bt[4]:.4g}] "
                     f"leaves [0, 1] and is clipped to it (metafor reports the raw bounds); PLO, PFT or GLMM "
                     f"stay inside")
    return [float(v) for v in clipped]


def _pft_n_dependence(t: float, n, estimate: float, ci_width: float) -> list[str]:
    """A note when the PFT back-transform depends on the sample size more than the CI allows.

    Miller's inverse needs one n; metafor (and this package) use the harmonic mean. With very
    unequal study sizes the pooled proportion then moves with that choice, and it can fall outside
    the CI of a study carrying nearly all the weight (Schwarzer et al. 2019, Res Synth Methods
    10:476). Flagged when back-transforming at the smallest and at the largest n differs by more
    than half the CI width (on the embedded DCR and ORR data it stays below 0.45 of it).
    """
    n = np.asarray(n, float)
    low, high = sorted(float(ipft(t, m)) for m in (n.min(), n.max()))
    if high - low <= ci_width / 2:
        return []
    return [f"PFT back-transform depends on n here: {estimate:.4g} at the harmonic mean n, but {low:.4g}-{high:.4g} "
            f"across the studies' n ({n.min():.0f}-{n.max():.0f}), more than half the CI width; prefer PLO or GLMM "
            f"(Schwarzer et al. 2019, Res Synth Methods 10:476)"]


def single_study(rows: pd.DataFrame, measure: str) -> Pooled:
    """Summary of an outcome with exactly one poolable study: nothing is pooled.

    A proportion is the study's events/n with the exact (Clopper-Pearson) 95% CI; a median is
    the study's reported median and 95% CI (the upper bound NaN when not estimable). There is
    no between-study variance, heterogeneity statistic or prediction interval (NaN), and the
    result is labelled ``single_study``. ``estimate_t``/``se_t`` are the study's effect on the
    measure's scale.
    """
    outcome = str(rows["outcome"].iloc[0])
    eff, used = study_effects(rows, measure)
    if len(used) != 1:
        raise AnalysisError(f"{outcome}: {len(used)} poolable study(ies); a single-study summary needs exactly 1")
    row, nan = used.iloc[0], float("nan")
    if row["kind"] == "binary":
        x, n = int(row["events"]), int(row["n"])
        estimate = x / n
        ci_low, ci_high = clopper_pearson(x, n)
        how = f"{x}/{n} with the exact (Clopper-Pearson) 95% CI"
    else:
        estimate, ci_low, ci_high = (float(row[c]) for c in ("median", "ci_low", "ci_high"))
        how = "its reported median and 95% CI"
    notes = [note for note in eff.notes if not note.startswith(f"{measure}: 0.5 added")]
    notes.append(f"single study ({row['study']}): {how}; nothing pooled, no between-study variance "
                 f"or prediction interval")
    return Pooled(
        outcome=outcome, measure=measure, tau2_method="none", hksj=False, k=1,
        estimate=estimate, ci_low=ci_low, ci_high=ci_high, pi_low=nan, pi_high=nan,
        estimate_t=float(eff.yi[0]), se_t=float(np.sqrt(eff.vi[0])), tau2=nan, tau2_ci=None,
        I2=nan, I2_ci=None, H2=nan, Q=nan, p_Q=nan, weights={str(row["study"]): 100.0}, notes=notes,
        single_study=True,
    )


def _pool_glmm(outcome: str, used: pd.DataFrame, eff: Effects) -> Pooled:
    x, n = used["events"].astype(float).to_numpy(), used["n"].astype(float).to_numpy()
    for edge, label in ((0, "0 events"), (n, "events in every patient")):
        if np.all(x == edge):
            raise AnalysisError(f"{outcome}: every study has {label}; the GLMM has no maximum-likelihood "
                                f"estimate (its logit goes to infinity); use PFT, or the Bayesian model")
    fit = fit_glmm(x, n)
    bt = back_transform([fit.mu, fit.ci_low, fit.ci_high, fit.pi_low, fit.pi_high], "GLMM")
    heterogeneity = rma(eff.yi, eff.vi, method="FE")  # Q on the logit scale, as metafor reports beside a GLMM
    vt = (fit.k - 1) / (np.sum(1 / eff.vi) - np.sum(1 / eff.vi**2) / np.sum(1 / eff.vi))
    I2 = 100 * fit.tau2 / (vt + fit.tau2)
    notes = [f"binomial-normal model, ML with adaptive Gauss-Hermite quadrature ({fit.nodes} nodes)"]
    if not fit.converged:
        notes.append("tau reached the search bound; the fit is unreliable")
    return Pooled(
        outcome=outcome, measure="GLMM", tau2_method="ML", hksj=False, k=fit.k,
        estimate=bt[0], ci_low=bt[1], ci_high=bt[2], pi_low=bt[3], pi_high=bt[4],
        estimate_t=fit.mu, se_t=fit.se, tau2=fit.tau2, tau2_ci=None, I2=float(I2), I2_ci=None,
        H2=float((vt + fit.tau2) / vt), Q=heterogeneity.QE, p_Q=heterogeneity.p_QE,
        weights={}, notes=notes,
    )


@dataclass
class SubgroupAnalysis:
    by: str
    levels: dict[str, Pooled]
    Q_between: float
    df: int
    p_between: float
    notes: list[str]

    def to_dict(self) -> dict:
        return {"by": self.by, "subgroups": {k: v.to_dict() for k, v in self.levels.items()},
                "between": {"Q": self.Q_between, "df": self.df, "p": self.p_between}, "notes": self.notes}


def subgroups(rows: pd.DataFrame, by: str, measure: str, tau2_method: str = "DL", hksj: bool = False,
              median_se: str = "ci", median_likelihood: str = "normal") -> SubgroupAnalysis:
    """Pool within each level of ``by`` (separate tau2 per level; a single-study level is its own
    estimate) and test the levels' difference with the Q statistic of a common-effect model on
    the level estimates (Borenstein et al. 2009, ch. 19)."""
    if by not in rows.columns:
        raise AnalysisError(f"covariate column '{by}' does not exist; available: "
                            f"{', '.join(c for c in rows.columns if c not in ('kind',))}")
    known, notes = known_covariates(rows, [by])
    median_se = median_se_constant(rows, median_se)  # one c for the whole outcome
    rows = rows[known]
    levels = {str(level): pool(group.reset_index(drop=True), measure, tau2_method, hksj, min_k=1, median_se=median_se,
                               median_likelihood=median_likelihood)
              for level, group in sorted(rows.groupby(by), key=lambda item: str(item[0]))}
    if len(levels) < 2:
        raise AnalysisError(f"'{by}' has {len(levels)} level(s) with data; a subgroup comparison needs 2")
    est = np.array([p.estimate_t for p in levels.values()])
    se = np.array([p.se_t for p in levels.values()])
    between = rma(est, se**2, method="FE")
    df = len(levels) - 1
    return SubgroupAnalysis(by, levels, between.QE, df, float(dist.chi2_sf(between.QE, df)), notes)


def leave_one_out(rows: pd.DataFrame, measure: str, tau2_method: str = "DL", hksj: bool = False
                  ) -> pd.DataFrame:
    """One row per omitted study: the pooled result of the others."""
    eff, used = study_effects(rows, measure)
    _check_k(len(used), str(rows["outcome"].iloc[0]), 3)
    out = []
    for i, study in enumerate(used["study"].astype(str)):
        res = pool(used.drop(index=i).reset_index(drop=True), measure, tau2_method, hksj, q_profile=False)
        out.append({"omitted": study, "estimate": res.estimate, "ci_low": res.ci_low, "ci_high": res.ci_high,
                    "estimate_t": res.estimate_t, "se_t": res.se_t, "tau2": res.tau2, "I2": res.I2, "Q": res.Q})
    frame = pd.DataFrame(out)
    frame.attrs["full"] = pool(used, measure, tau2_method, hksj, q_profile=False).estimate  # with every study
    return frame
