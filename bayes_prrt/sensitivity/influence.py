"""Influence of single studies: Bayesian PSIS leave-one-out beside the frequentist one.

For study i the PSIS-LOO weights 1/p(y_i | theta_s) move the posterior to the one without
study i (Vehtari et al. 2017, Stat Comput 27:1413). The shift of the pooled posterior median
is read off the reweighted draws. Where Pareto k > 0.7 the weights cannot be trusted, and
the study is left out and the model refitted exactly by quadrature: for the binomial model
the cached likelihood grid is a sum over studies, so the refit subtracts one study's term.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd

from ..bayes import quadrature
from ..bayes.exact import exact_posterior
from ..bayes.fit import model_data
from ..bayes.summaries import to_scale
from ..errors import AnalysisError
from ..effects import study_effects
from ..freq.pool import leave_one_out
from ..priors import resolve_priors
from .reweight import K_MAX, weighted_quantile


def influence(result, rows: pd.DataFrame, priors: dict[str, str] | None, settings) -> pd.DataFrame:
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
        exact = _exact_without(result, rows, i, priors, settings) if k > K_MAX else None
        if exact is not None:
            shifted, method = exact, "exact refit"
        else:
            log_w, _ = az.psislw(-loglik.isel(study=i).to_numpy().ravel())
            w = np.exp(log_w - log_w.max())
            shifted, method = float(weighted_quantile(pooled, w, 0.5)), "PSIS"
        out.append({"study": str(study), "pareto_k": k, "pooled_without": shifted, "shift": shifted - full,
                    "method": method, **freq.get(str(study), {})})
    return pd.DataFrame(out)


def _exact_without(result, rows, i, priors, settings) -> float | None:
    """Pooled posterior median without study i, by quadrature (no MCMC); None when the grid cannot hold that
    posterior (the PSIS value is kept, with its Pareto k shown)."""
    try:
        return _exact_refit(result, rows, i, priors, settings)
    except AnalysisError:
        return None


def _exact_refit(result, rows, i, priors, settings) -> float:
    resolved = resolve_priors(result.kind, priors)
    if result.kind == "binary":
        likelihood = quadrature._likelihood(tuple(rows["events"].astype(int)), tuple(rows["n"].astype(int)))
        return float(to_scale("binary", likelihood.posterior(resolved, settings.seed, drop=i).mu_quantile(0.5)))
    if result.median_likelihood == "split":  # the exact engine on the other studies (``bayes/exact.py``)
        data, _, _ = model_data(rows, resolved, result.median_se, "split")
        keep = np.arange(data.k) != i
        post = exact_posterior("median", data.y[keep], data.scale[keep], np.zeros((keep.sum(), 0)), resolved,
                               scale_hi=data.scale_hi[keep])
        return float(post.mu.quantile(0.5, outcome=True))
    eff, _ = study_effects(rows, "LOGMEDIAN", result.median_se)
    keep = np.arange(len(eff.yi)) != i
    post = quadrature.normal_normal(eff.yi[keep], np.sqrt(eff.vi[keep]), resolved, settings.seed)
    return float(to_scale("median", post.mu_quantile(0.5)))


def _frequentist(rows, kind) -> dict:
    measure = "PFT" if kind == "binary" else "LOGMEDIAN"
    try:
        loo = leave_one_out(rows, measure, "DL")
    except AnalysisError:
        return {}
    full = loo.attrs.get("full")
    return {r.omitted: {"freq_without": r.estimate, "freq_shift": r.estimate - full} for r in loo.itertuples()}
