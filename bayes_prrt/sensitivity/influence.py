"""Influence of single studies: Bayesian PSIS leave-one-out beside the frequentist one.

For study i the PSIS-LOO weights 1/p(y_i | theta_s) move the posterior to the one without
study i (Vehtari et al. 2017, Stat Comput 27:1413). The shift of the pooled posterior median
is read off the reweighted draws. Where Pareto k > 0.7 the weights cannot be trusted, and
the study is left out and the model refitted by the exact engine (``bayes/exact.py``).
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd

from ..bayes.fit import exact_model, model_data
from ..errors import AnalysisError
from ..freq.pool import leave_one_out
from ..priors import resolve_priors
from .reweight import K_MAX, weighted_quantile


def influence(result, rows: pd.DataFrame, priors: dict[str, str] | None) -> pd.DataFrame:
    """One row per study: Pareto k, Bayesian shift of the pooled median, frequentist shift."""
    idata = result.idata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = az.loo(idata, pointwise=True)
    loglik = idata.log_likelihood["y"]
    pooled = result.draws["pooled"]
    full = float(np.median(pooled))
    freq = _frequentist(rows, result.kind)
    out = []
    for i, study in enumerate(loglik["study"].values):
        k = float(loo.pareto_k.sel(study=study))
        exact = _exact_without(result, i, priors) if k > K_MAX else None
        if exact is not None:
            shifted, method = exact, "exact refit"
        else:
            log_w, _ = az.psislw(-loglik.isel(study=i).to_numpy().ravel())
            w = np.exp(log_w - log_w.max())
            shifted, method = float(weighted_quantile(pooled, w, 0.5)), "PSIS"
        out.append({"study": str(study), "pareto_k": k, "pooled_without": shifted, "shift": shifted - full,
                    "method": method, **freq.get(str(study), {})})
    return pd.DataFrame(out)


def _exact_without(result, i, priors) -> float | None:
    """Pooled posterior median without study i, exact (no MCMC); None when the exact engine cannot hold that
    posterior (the PSIS value is kept, with its Pareto k shown)."""
    try:
        return _exact_refit(result, i, priors)
    except AnalysisError:
        return None


def _exact_refit(result, i, priors) -> float:
    """The exact engine's (``bayes/exact.py``) pooled posterior median of the rows without row i, under the
    fit's rules for medians."""
    fitted = result.rows  # in the order of the log-likelihood's studies
    data, _, _ = model_data(fitted.drop(index=fitted.index[i]).reset_index(drop=True),
                            resolve_priors(result.kind, priors), result.median_se, result.median_likelihood)
    return float(exact_model(data).mu.quantile(0.5, outcome=True))


def _frequentist(rows, kind) -> dict:
    measure = "PFT" if kind == "binary" else "LOGMEDIAN"
    try:
        loo = leave_one_out(rows, measure, "DL")
    except AnalysisError:
        return {}
    full = loo.attrs.get("full")
    return {r.omitted: {"freq_without": r.estimate, "freq_shift": r.estimate - full} for r in loo.itertuples()}
