"""Bayesian pooling of one outcome: rows in, one ``BayesFit`` out (MCMC or quadrature).

``bayes_pool(rows)`` fits the hierarchical model without covariates, by MCMC (``engine='mcmc'``) or
exactly (``engine='quadrature'``: ``exact.py``, with i.i.d. draws of the exact posterior kept for
the derived quantities). With ``by`` (a
categorical covariate: treatment coding against the first level in sorted order or
``reference``, one tau shared by all levels) or ``covariates`` (a meta-regression, numeric
or categorical) it fits the covariate model and returns it, carrying the model without
covariates as ``overall``; pass an ``overall`` fit already made to reuse it instead of
fitting it again. A study whose covariate is missing is left out of the covariate model
with a note: imputing a study-level category would need a model of which studies report it,
and would be driven by the prior.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from .. import seeds
from ..design import design_matrix, known_covariates
from ..effects import study_effects
from ..errors import AnalysisError
from .. import median_likelihood
from ..names import ENGINES
from ..priors import resolve_priors
from .models import ModelData
from .result import BayesFit
from .sampling import DEFAULT_SETTINGS, Settings, prior_draws, sample
from .summaries import conditional_study_effects, predictive, to_scale

DRAWS = 10_000  # i.i.d. draws of an exact posterior, for derived (non-linear) quantities and the netCDF file
MCMC_MAX_STUDIES = 5_000  # above this an MCMC fit takes hours (benchmarks/results.md, section 5): refused



def model_data(rows: pd.DataFrame, priors, median_se: str = "ci",
               median_likelihood: str = "normal") -> tuple[ModelData, pd.DataFrame, list[str]]:
    """The model's data for one outcome's rows: events and n, or log medians and their SEs (rows
    without a CI are left out, or with ``median_se="ci+n"`` get SE c/sqrt(n): ``effects.study_effects``;
    with ``median_likelihood="split"`` the SEs of the CI's two halves). Returns it, the rows used and notes."""
    scale_hi = None
    if rows["kind"].iloc[0] == "binary":
        y, scale, used, notes = rows["events"].to_numpy(int), rows["n"].to_numpy(int), rows, []
    else:
        eff, used = study_effects(rows, "LOGMEDIAN", median_se, median_likelihood)
        y, scale, notes = eff.yi, np.sqrt(eff.vi), list(eff.notes)
        if median_likelihood == "split":
            scale, scale_hi = eff.halves
    used = used.reset_index(drop=True)
    studies = used["study"].astype(str).tolist()
    return (ModelData(used["kind"].iloc[0], y, scale, np.zeros((len(y), 0)), priors, studies, scale_hi=scale_hi),
            used, notes)


def _posterior_predictive(data: ModelData, posterior: xr.Dataset, seed: int) -> xr.Dataset:
    """A new study's value (``new_study``) and, for the log-median model, each study's effect drawn
    from its conditional posterior (``theta``; an exact binomial fit draws them when first asked,
    ``BayesFit._study_effects``); by level for a categorical covariate model."""
    mu, tau = posterior["mu"].to_numpy(), posterior["tau"].to_numpy()
    coords = {"chain": posterior.chain.values, "draw": posterior.draw.values, "study": data.studies}
    out = {"new_study": (("chain", "draw"), predictive(data.kind, mu, tau, seeds.rng(seed, "predictive")))}
    if data.kind == "median":
        eta = posterior["eta"].to_numpy() if "eta" in posterior else np.broadcast_to(mu[..., None], mu.shape + (data.k,))
        rng = seeds.rng(seed, "study_effects")
        theta = (median_likelihood.study_effect_draws(data.y, data.scale, data.scale_hi, eta, tau, rng) if data.split
                 else conditional_study_effects(data.y, data.scale, eta, tau, rng))
        out["theta"] = (("chain", "draw", "study"), theta)
    return xr.Dataset(out, coords=coords)


def exact_model(data: ModelData, levels: list[str] | None = None):
    """The exact posterior (``exact.py``) of ``data``'s model; ``levels``: a categorical covariate's levels,
    the reference first, in the order of the design's columns."""
    from .exact import exact_posterior

    return exact_posterior(data.kind, data.y, data.scale, data.X, data.priors, data.coef_names, levels,
                           scale_hi=data.scale_hi)


def _separation(rows: pd.DataFrame, by: str) -> list[str]:
    """Levels whose studies all have 0 events, or all events in every patient: the likelihood pushes that
    level's coefficient to infinity and its posterior is set by the prior on beta (complete separation)."""
    out = []
    for level, group in rows.groupby(rows[by].astype(str)):
        events, n = group["events"].astype(int), group["n"].astype(int)
        if (events == 0).all() or (events == n).all():
            what = "0" if (events == 0).all() else "all"
            out.append(f"separation: every study of {by} = {level} has {what} events ({int(events.sum())}/{int(n.sum())});"
                       f" its coefficient is set by the prior on beta, not by the data, and its level value and "
                       f"contrasts are not estimable from these studies")
    return out


def _levels(by: str | None, reference: dict, names: list[str]) -> list[str] | None:
    """A categorical covariate's levels, the reference first, in the order of the design's columns
    (named ``by[level]`` by ``design_matrix``)."""
    return [reference[by]] + [name[len(by) + 1:-1] for name in names[1:]] if by else None


def attach_exact(fit: BayesFit) -> None:
    """Recompute the exact posterior of an exact fit (e.g. one loaded from a file, which stores draws only)."""
    data, _, _ = model_data(fit.rows, fit.priors, fit.median_se, fit.median_likelihood)
    names, reference = ["intrcpt"], {}
    if fit.covariates:
        X, names, reference = design_matrix(fit.rows, fit.covariates, dict(fit.reference))
        data = replace(data, X=X[:, 1:], coef_names=names[1:])
    fit.exact = exact_model(data, _levels(fit.by, reference, names))


def _exact_idata(data: ModelData, exact, seed: int):
    """i.i.d. draws of the exact posterior as InferenceData (one chain), for the derived quantities."""
    import arviz as az

    d = exact.draws(DRAWS, seeds.rng(seed, "quadrature"))
    variables = {"mu": (("chain", "draw"), d["mu"][None]), "tau": (("chain", "draw"), d["tau"][None])}
    coords = {"chain": [0], "draw": np.arange(DRAWS)}
    if data.p:
        variables["beta"] = (("chain", "draw", "coef"), d["beta"][None])
        coords["coef"] = list(data.coef_names)
        variables["eta"] = (("chain", "draw", "study"), (d["mu"][:, None] + d["beta"] @ data.X.T)[None])
        coords["study"] = list(data.studies)
    return az.InferenceData(posterior=xr.Dataset(variables, coords=coords))


def _fit(data: ModelData, engine: str, settings: Settings, levels: list[str] | None = None):
    """InferenceData (posterior, posterior_predictive, prior), diagnostics (None when exact) and the exact
    posterior (None for MCMC)."""
    exact = None
    if engine == "quadrature":
        exact = exact_model(data, levels)
        idata, diag = _exact_idata(data, exact, settings.seed), None
    else:
        idata, diag = sample(data, settings)
    groups = {"prior": prior_draws(data, settings)}
    if not data.p:
        groups["posterior_predictive"] = _posterior_predictive(data, idata.posterior, settings.seed)
    idata.add_groups(**groups)
    return idata, diag, exact


def bayes_pool(rows: pd.DataFrame, priors: dict | None = None, by: str | None = None,
               engine: str = "mcmc", settings: Settings = DEFAULT_SETTINGS,
               covariates: list[str] | None = None, reference: str | None = None,
               overall: BayesFit | None = None, median_se: str = "ci", separate_tau: bool = False,
               median_likelihood: str = "normal") -> BayesFit:
    """Hierarchical Bayesian pooling of one outcome (one row per study).

    ``priors``: ``Prior`` objects or their texts by parameter (mu, tau, beta), over the defaults
    of the outcome's kind. ``by``: a categorical covariate (subgroups and contrasts; ``reference``
    names its reference level). ``covariates``: a meta-regression. ``overall``: the fit without
    covariates under the same priors and settings, reused by a covariate model. ``median_se``:
    "ci" (a median without a CI is left out) or "ci+n" (its SE from n, ``effects.py``);
    ``median_likelihood``: "normal" (one SE per study) or "split" (``median_likelihood.py``). ``separate_tau``: with
    ``by``, a separate mean and tau per level (``separate.py``, always exact; returns a ``SeparateTauFit``).
    """
    if engine not in ENGINES:
        raise AnalysisError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    if by and covariates:
        raise AnalysisError("give either a subgroup covariate (by) or meta-regression covariates, not both")
    outcome = str(rows["outcome"].iloc[0])
    resolved = resolve_priors(rows["kind"].iloc[0], priors)
    data, used, notes = model_data(rows, resolved, median_se, median_likelihood)
    if separate_tau:
        from .separate import separate_tau_pool

        if not by or covariates:
            raise AnalysisError("a separate tau per level needs a subgroup covariate (by), and no meta-regression")
        return separate_tau_pool(data, used, by, resolved, notes, settings.seed)
    if data.k < 2:
        raise AnalysisError(f"{outcome}: {data.k} poolable study(ies); pooling needs at least 2")
    if engine == "mcmc" and data.k > MCMC_MAX_STUDIES:
        raise AnalysisError(f"{outcome}: {data.k:,} studies; an MCMC fit of more than {MCMC_MAX_STUDIES:,} takes hours "
                            f"(one latent effect per study): use engine='quadrature' (exact, linear in k)")
    columns = [by] if by else list(covariates or [])
    if columns:
        overall = overall or bayes_pool(rows, resolved, engine=engine, settings=settings, median_se=median_se,
                                        median_likelihood=median_likelihood)
        return _covariate_fit(overall, data, used, columns, by, reference, settings, engine)
    idata, diag, exact = _fit(data, engine, settings)
    return BayesFit(outcome=outcome, kind=data.kind, engine=engine, rows=used, priors=resolved, settings=settings,
                    idata=idata, diagnostics=diag, notes=notes, exact=exact, median_se=median_se,
                    median_likelihood=median_likelihood)


def _covariate_fit(overall: BayesFit, data: ModelData, used: pd.DataFrame, columns: list[str], by: str | None,
                   reference_level: str | None, settings: Settings, engine: str) -> BayesFit:
    """The model mu + x'beta on the studies whose covariates are known."""
    for col in columns:
        if col not in used.columns:
            raise AnalysisError(f"covariate column '{col}' does not exist")
    known, notes = known_covariates(used, columns)
    sub = used[known].reset_index(drop=True)
    if by and data.kind == "binary":
        notes += _separation(sub, by)
    X, names, reference = design_matrix(sub, columns, {by: reference_level} if by and reference_level else {})
    if X.shape[0] <= X.shape[1]:
        raise AnalysisError(f"{X.shape[0]} studies with known {', '.join(columns)} cannot inform "
                            f"{X.shape[1]} coefficients")
    if by and sub[by].astype(str).nunique() < 2:
        raise AnalysisError(f"'{by}' has {sub[by].nunique()} level(s) with data; a subgroup comparison needs 2")
    cov_data = replace(data, y=data.y[known], scale=data.scale[known], X=X[:, 1:],
                       studies=sub["study"].astype(str).tolist(), coef_names=names[1:],
                       scale_hi=data.scale_hi[known] if data.split else None)
    idata, diag, exact = _fit(cov_data, engine, settings, _levels(by, reference, names))
    fit = BayesFit(outcome=overall.outcome, kind=data.kind, engine=engine, rows=sub, priors=data.priors,
                   settings=settings, idata=idata, diagnostics=diag, notes=notes, by=by, covariates=columns,
                   reference=reference, overall=overall, exact=exact, median_se=overall.median_se,
                   median_likelihood=overall.median_likelihood)
    if by:
        idata.add_groups(posterior_predictive=_level_predictive(fit, settings.seed))
    return fit


def _level_predictive(fit: BayesFit, seed: int) -> xr.Dataset:
    """A new study's value in each level of ``by`` (``new_study`` by level)."""
    post = fit.idata.posterior
    levels = fit.level_names
    eta = np.stack([fit.level_eta(level) for level in levels], axis=-1)
    tau = post["tau"].to_numpy()[..., None]
    value = to_scale(fit.kind, eta + tau * seeds.rng(seed, "level_predictive").standard_normal(eta.shape))
    return xr.Dataset({"new_study": (("chain", "draw", "level"), value)},
                      coords={"chain": post.chain.values, "draw": post.draw.values, "level": levels})
