"""Effect measures (study-level yi, vi) and their back-transforms.

Proportions (x events of n):
  PFT  Freeman-Tukey double arcsine, yi = [asin sqrt(x/(n+1)) + asin sqrt((x+1)/(n+1))]/2,
       vi = 1/(4n+2); back-transform by Miller (1978, Am Stat 32:138) at the harmonic
       mean of n (metafor ``transf.ipft.hm``).
  PLO  logit, yi = log(x/(n-x)), vi = 1/x + 1/(n-x); PR raw proportion, vi = p(1-p)/n.
       For PLO and PR a study with 0 or n events gets 1/2 added to both cells (x+1/2 of
       n+1), as metafor's ``escalc`` default (add=1/2, to="only0").
Medians (months, 95% CI L-U):
  LOGMEDIAN  yi = log m, SE = (log U - log L)/(2 x 1.96); with U not estimable the lower
             half alone, SE = (log m - log L)/1.96.  MEDIAN the same on the raw scale.
  A median without a CI is left out (``median_se="ci"``, the default) or, with
  ``median_se="ci+n"`` (LOGMEDIAN only), gets SE = c/sqrt(n). Under an exponential model
  SE(log median) = 1/sqrt(d), d the number of events (Collett 2015, Modelling Survival Data,
  sec. 2.4), so SE = c/sqrt(n) with c^2 = n/d, the inverse event fraction; c^2 is estimated as the
  mean of SE_i^2 n_i over the studies with a two-sided CI and n (named in the note), and never
  below 1 (d <= n: at most every patient has an event).
  ``Effects.halves`` keeps each half of the CI as its own SE, (f(m) - f(L))/1.96 and
  (f(U) - f(m))/1.96 (infinite with U not estimable; both c/sqrt(n) for a median given its SE from n),
  for the split-normal likelihood (``median_likelihood.py``); ``Effects.rules`` says per study which
  rule made its entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import distributions as dist
from .errors import AnalysisError
from .names import (BINARY_MEASURES, MEDIAN_LIKELIHOODS, MEDIAN_MEASURES, MEDIAN_SE_RULES,  # noqa: F401 (re-exported)
                    PROPORTION_MEASURES)

Z95 = 1.96  # the constant used to turn a reported 95% CI into an SE


@dataclass
class Effects:
    """Study-level effects on the analysis scale with what was done to get them."""

    yi: np.ndarray
    vi: np.ndarray
    measure: str
    n: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    halves: tuple[np.ndarray, np.ndarray] | None = None  # medians: the lower and upper half's SE (module docstring)
    rules: list[str] | None = None  # medians: the rule that made each study's entry (``ENTRY_RULES``)


def pft(x, n):
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def proportion_effects(events, n, measure: str, studies=None) -> Effects:
    x, n = np.asarray(events, float), np.asarray(n, float)
    notes = []
    if measure == "PFT":
        return Effects(pft(x, n), 1.0 / (4 * n + 2), measure, n, notes)
    edge = (x == 0) | (x == n)
    if edge.any():
        names = [str(s) for s in np.asarray(studies)[edge]] if studies is not None else []
        notes.append(f"{measure}: 0.5 added to both cells for {edge.sum()} study(ies) with 0 or n events"
                     + (f" ({', '.join(names)})" if names else ""))
    xc, nc = np.where(edge, x + 0.5, x), np.where(edge, n + 1.0, n)
    if measure == "PLO":
        return Effects(np.log(xc / (nc - xc)), 1 / xc + 1 / (nc - xc), measure, n, notes)
    if measure == "PR":
        p = xc / nc
        return Effects(p, p * (1 - p) / nc, measure, n, notes)
    raise ValueError(f"unknown proportion measure {measure}")


def se_from_ci(ci_low, ci_high, median=None, transform=np.log):
    """SE on the ``transform`` scale from a 95% CI: (f(U) - f(L))/(2 x 1.96); with U missing (not
    estimable) the lower half alone, (f(m) - f(L))/1.96 (NaN without a median)."""
    lo, hi = transform(np.asarray(ci_low, float)), transform(np.asarray(ci_high, float))
    half = (transform(np.asarray(median, float)) - lo) / Z95 if median is not None else np.nan
    return np.where(np.isnan(hi), half, (hi - lo) / (2 * Z95))


ENTRY_RULES = {  # (how the study reported its median, likelihood) -> the rule in the study tables
    ("two-sided", "normal"): "95% CI, one symmetric SE",
    ("two-sided", "split"): "95% CI, split normal (an SE per half)",
    ("lower only", "normal"): "lower bound only, its half mirrored",
    ("lower only", "split"): "lower bound only, censored (flat above the median)",
    ("no CI", "normal"): "no CI, SE c/sqrt(n)",
    ("no CI", "split"): "no CI, SE c/sqrt(n)",
}


def check_median_likelihood(likelihood: str) -> str:
    if likelihood not in MEDIAN_LIKELIHOODS:
        raise AnalysisError(f"unknown median_likelihood '{likelihood}'; choose one of {', '.join(MEDIAN_LIKELIHOODS)}")
    return likelihood


def median_effects(median, ci_low, ci_high, measure: str, studies, n=None,
                   median_se: str | float = "ci", likelihood: str = "normal") -> tuple[Effects, np.ndarray]:
    """Effects of the medians that have a CI (and, with ``median_se`` "ci+n" or a given constant c,
    of those with n only); returns them and the mask of rows used. ``likelihood`` ("normal" or
    "split") words the notes and ``rules``; both representations are in the result."""
    check_median_likelihood(likelihood)
    m, lo, hi = (np.asarray(a, float) for a in (median, ci_low, ci_high))
    studies = np.asarray(studies).astype(str)
    f = np.log if measure == "LOGMEDIAN" else (lambda a: a)
    has_ci = ~np.isnan(lo)
    one_sided = has_ci & np.isnan(hi)
    notes = []
    if one_sided.any():
        how = ("SE from the lower half alone" if likelihood == "normal"
               else "one-sided (censored) term, flat above the median")
        notes.append(f"upper CI bound not estimable, {how}: " + ", ".join(studies[one_sided]))
    se = se_from_ci(lo, hi, m, f)
    with np.errstate(invalid="ignore"):
        s_lo, s_hi = (f(m) - f(lo)) / Z95, np.where(np.isnan(hi), np.inf, (f(hi) - f(m)) / Z95)
    used = has_ci
    if _se_constant(median_se) is not None and (~has_ci).any():
        if measure != "LOGMEDIAN":
            raise AnalysisError("median_se='ci+n' is defined on the log scale; use measure LOGMEDIAN")
        n = np.full(len(se), np.nan) if n is None else pd.Series(n).astype("Float64").to_numpy(float, na_value=np.nan)
        c, source = ((median_se, "given") if median_se != "ci+n" else _estimate_c(se, has_ci & ~one_sided, n, studies))
        used = has_ci | (n > 0)
        fill = used & ~has_ci
        se = np.where(fill, c / np.sqrt(np.where(fill, n, 1.0)), se)
        s_lo, s_hi = np.where(fill, se, s_lo), np.where(fill, se, s_hi)
        notes.append(f"no CI: SE(log median) = c/sqrt(n), c = {c:.3g} {source} (exponential model, c^2 = n/events): "
                     + (", ".join(f"{s} (n = {int(k)})" for s, k in zip(studies[fill], n[fill], strict=True))
                        or "none has n"))
    if (~used).any():
        notes.append("left out, no CI reported: " + ", ".join(studies[~used]))
    how = np.where(~has_ci, "no CI", np.where(one_sided, "lower only", "two-sided"))[used]
    rules = [ENTRY_RULES[(h, likelihood)] for h in how]
    return Effects(f(m)[used], (se**2)[used], measure, None, notes, (s_lo[used], s_hi[used]), rules), used


def typical_variance(vi) -> float:
    """Higgins & Thompson's (2002, Stat Med 21:1539) typical within-study variance,
    s2 = (k - 1) sum w / ((sum w)^2 - sum w^2), w = 1/vi: the one behind I2 = tau2 / (tau2 + s2)."""
    w = 1.0 / np.asarray(vi, float)
    return float((len(w) - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum()))


def _se_constant(median_se):
    """None for "ci", else "ci+n" or the given c (checked)."""
    if median_se == "ci":
        return None
    constant = isinstance(median_se, float | int) and not isinstance(median_se, bool)
    if median_se == "ci+n" or (constant and median_se > 0):
        return median_se
    raise AnalysisError(f"unknown median_se rule '{median_se}'; choose one of {', '.join(MEDIAN_SE_RULES)} "
                        f"(or a constant c > 0)")


def _estimate_c(se, calib, n, studies) -> tuple[float, str]:
    """c^2 = mean of SE_i^2 n_i over the studies with a two-sided CI and n; at least 1 (d <= n)."""
    calib = calib & (n > 0)
    if not calib.any():
        raise AnalysisError("median_se='ci+n' needs at least one study with a two-sided CI and n to estimate c")
    return max(1.0, float(np.sqrt(np.mean(se[calib] ** 2 * n[calib])))), f"from {', '.join(studies[calib])}"


def median_se_constant(rows: pd.DataFrame, median_se: str | float = "ci") -> str | float:
    """The rule with "ci+n" resolved to the c of all of ``rows``, for models fitted to parts of them
    (subgroups): every part then uses the c of the whole outcome."""
    if median_se != "ci+n" or rows["kind"].iloc[0] != "median":
        return median_se
    se = se_from_ci(rows["ci_low"], rows["ci_high"], rows["median"])
    two_sided = ~np.isnan(np.asarray(rows["ci_low"], float)) & ~np.isnan(np.asarray(rows["ci_high"], float))
    n = pd.Series(rows["n"]).astype("Float64").to_numpy(float, na_value=np.nan)
    return _estimate_c(se, two_sided, n, np.asarray(rows["study"]).astype(str))[0]


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial CI (Clopper & Pearson 1934, Biometrika 26:404): Beta(a/2; x, n-x+1) and
    Beta(1-a/2; x+1, n-x) quantiles, 0 and 1 at the edges."""
    alpha = 1 - level
    low = 0.0 if x == 0 else float(dist.beta_ppf(alpha / 2, x, n - x + 1))
    high = 1.0 if x == n else float(dist.beta_ppf(1 - alpha / 2, x + 1, n - x))
    return low, high


def ipft(t, n):
    """Inverse Freeman-Tukey (Miller 1978) at sample size n, clipped as metafor does."""
    t = np.asarray(t, float)
    s = np.sin(2 * t)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 0.5 * (1 - np.sign(np.cos(2 * t)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    p = np.where(t > pft(n, n), 1.0, p)
    return np.where(t < pft(0.0, n), 0.0, p)


def harmonic_mean(n) -> float:
    n = np.asarray(n, float)
    return float(1.0 / np.mean(1.0 / n))


def back_transform(values, measure: str, n=None):
    """To the outcome's scale: proportion (PFT at the harmonic mean of n, PLO, PR) or months."""
    values = np.asarray(values, float)
    if measure == "PFT":
        return ipft(values, harmonic_mean(n))
    if measure in ("PLO", "GLMM"):
        return 1.0 / (1.0 + np.exp(-values))
    if measure == "LOGMEDIAN":
        return np.exp(values)
    return values


def default_measure(rows: pd.DataFrame) -> str:
    """PFT for a binary outcome, LOGMEDIAN for a median one."""
    return "PFT" if rows["kind"].iloc[0] == "binary" else "LOGMEDIAN"


def study_effects(rows: pd.DataFrame, measure: str, median_se: str = "ci",
                  median_likelihood: str = "normal") -> tuple[Effects, pd.DataFrame]:
    """Effects of the rows that can be pooled with ``measure``, and those rows (``median_se``: the
    rule for medians without a CI, see the module docstring; ``median_likelihood``: "normal" or
    "split", ``median_likelihood.py``)."""
    kind, outcome = rows["kind"].iloc[0], rows["outcome"].iloc[0]
    if kind == "binary":
        if measure not in BINARY_MEASURES:
            raise AnalysisError(f"{outcome} is a binary outcome: measure {measure} does not apply; "
                                f"use one of {', '.join(BINARY_MEASURES)}")
        eff = proportion_effects(rows["events"].astype(float), rows["n"].astype(float),
                                 "PLO" if measure == "GLMM" else measure, rows["study"])
        return eff, rows
    if measure not in MEDIAN_MEASURES:
        raise AnalysisError(f"{outcome} is a median outcome: measure {measure} does not apply; "
                            f"use one of {', '.join(MEDIAN_MEASURES)}")
    eff, used = median_effects(rows["median"], rows["ci_low"], rows["ci_high"], measure, rows["study"],
                               rows["n"] if "n" in rows.columns else None, median_se, median_likelihood)
    used_rows = rows[used].reset_index(drop=True)
    flat = ~(eff.vi > 0)
    if flat.any():
        study = used_rows["study"].astype(str)[flat].iloc[0]
        raise AnalysisError(f"{outcome}, study '{study}': its 95% CI has zero width (ci_low = ci_high, or ci_low = "
                            f"median with no ci_high), so its SE is 0 and it would take all the weight; check the CI")
    half = ~((eff.halves[0] > 0) & (eff.halves[1] > 0))
    if median_likelihood == "split" and half.any():
        row = used_rows[half].iloc[0]
        raise AnalysisError(f"{outcome}, study '{row['study']}': the median {row['median']:g} equals a bound of its "
                            f"95% CI ({row['ci_low']:g}-{row['ci_high']:g}), so one half of the split-normal "
                            f"likelihood has SE 0; check the CI, or use median_likelihood 'normal'")
    return eff, used_rows
