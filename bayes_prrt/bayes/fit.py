"""Bayesian pooling of one outcome: rows in, one result object out (MCMC or quadrature).

``bayes_pool(rows, priors=..., by=..., engine=...)`` fits the hierarchical model without
covariates for the overall estimate and, with ``by``, the model with that categorical
covariate (treatment coding against the first level in sorted order, one tau shared by
all levels) for the subgroups and their pairwise contrasts. A study whose covariate is
missing is left out of the covariate model with a note: imputing a study-level category
would need a model of which studies report it, and would be driven by the prior. The
level ``unknown`` (grade not reported) is a level, as in the frequentist engine.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ..design import design_matrix
from ..effects import study_effects
from ..priors import Prior, resolve_priors
from . import quadrature
from .models import ModelData
from .sampling import DEFAULT_SETTINGS, Diagnostics, Settings, prior_draws, sample
from .summaries import (conditional_study_effects, population_average, predictive, summary, to_scale)

ENGINES = ("mcmc", "quadrature")


@dataclass
class BayesPooled:
    """Posterior summaries on the outcome's scale; ``draws`` keeps (chain, draw) arrays."""

    outcome: str
    kind: str
    engine: str
    k: int
    pooled: dict
    pop_average: dict | None
    predictive: dict
    tau: dict
    mu: dict
    priors: dict[str, str]
    diagnostics: Diagnostics | None
    studies: pd.DataFrame
    draws: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    by: str | None = None
    levels: dict[str, dict] = field(default_factory=dict)
    contrasts: dict[str, dict] = field(default_factory=dict)
    beta: dict[str, dict] = field(default_factory=dict)
    idata: object | None = None
    covariate_diagnostics: Diagnostics | None = None
    covariate_idata: object | None = None

    @property
    def converged(self) -> bool:
        return all(d is None or d.converged for d in (self.diagnostics, self.covariate_diagnostics))

    def to_dict(self) -> dict:
        out = {"outcome": self.outcome, "method": "bayes", "engine": self.engine, "k": self.k,
               "estimate": self.pooled["median"], "ci_low": self.pooled["ci_low"], "ci_high": self.pooled["ci_high"],
               "pooled": self.pooled, "pop_average": self.pop_average,
               "pi_low": self.predictive["ci_low"], "pi_high": self.predictive["ci_high"],
               "tau": {k: self.tau[k] for k in ("median", "ci_low", "ci_high", "mean", "sd")},
               "priors": self.priors, "diagnostics": _diag_dict(self.diagnostics), "converged": self.converged,
               "studies": self.studies.to_dict(orient="records"), "notes": self.notes}
        if self.by:
            out.update(by=self.by, subgroups=self.levels, contrasts=self.contrasts)
        if self.beta:
            out.update(beta=self.beta, covariate_diagnostics=_diag_dict(self.covariate_diagnostics))
        return out


def _diag_dict(diag: Diagnostics | None) -> dict:
    if diag is None:
        return {"rhat_max": None, "ess_bulk_min": None, "ess_tail_min": None, "divergences": None,
                "converged": True, "note": "exact quadrature, no MCMC"}
    return diag.to_dict()


@dataclass
class _Data:
    """What a model needs from the rows of one outcome."""

    kind: str
    studies: list[str]
    rows: pd.DataFrame
    y: np.ndarray  # events (binary) or log median
    n_or_se: np.ndarray  # n (binary) or SE of the log median
    notes: list[str]


def _prepare(rows: pd.DataFrame) -> _Data:
    kind = rows["kind"].iloc[0]
    if kind == "binary":
        return _Data(kind, rows["study"].astype(str).tolist(), rows, rows["events"].to_numpy(int),
                     rows["n"].to_numpy(int), [])
    eff, used = study_effects(rows, "LOGMEDIAN")
    return _Data(kind, used["study"].astype(str).tolist(), used, eff.yi, np.sqrt(eff.vi), list(eff.notes))


def _model_data(data: _Data, priors, X=None, names=()) -> ModelData:
    X = np.zeros((len(data.y), 0)) if X is None else X
    return ModelData(data.kind, data.y, data.n_or_se, X, priors, data.studies, list(names))


def _draws(idata, name):
    return idata.posterior[name].to_numpy()


def _study_table(data: _Data, theta) -> pd.DataFrame:
    observed = (data.y / data.n_or_se) if data.kind == "binary" else np.exp(data.y)
    rows = []
    for i, study in enumerate(data.studies):
        s = summary(to_scale(data.kind, theta[..., i])) if theta is not None else {}
        rows.append({"study": study, "observed": float(observed[i]), "shrunken": s.get("median", np.nan),
                     "ci_low": s.get("ci_low", np.nan), "ci_high": s.get("ci_high", np.nan)})
    return pd.DataFrame(rows)


def _fit_overall(data: _Data, priors, engine, settings):
    rng = np.random.default_rng(settings.seed)
    if engine == "quadrature":
        fit = (quadrature.binomial(data.y, data.n_or_se, priors, settings.seed) if data.kind == "binary"
               else quadrature.normal_normal(data.y, data.n_or_se, priors, settings.seed))
        mu, tau, idata, diag = fit.mu, fit.tau, None, None
        theta = None
        if data.kind == "median":
            theta = conditional_study_effects(data.y, data.n_or_se, mu[..., None], tau, rng)
    else:
        model_data = _model_data(data, priors)
        idata, diag = sample(model_data, settings)
        idata.add_groups(prior=prior_draws(model_data, settings))
        mu, tau = _draws(idata, "mu"), _draws(idata, "tau")
        theta = (_draws(idata, "theta") if data.kind == "binary"
                 else conditional_study_effects(data.y, data.n_or_se, mu[..., None], tau, rng))
    pred = predictive(data.kind, mu, tau, rng)
    if idata is not None:
        import xarray as xr
        idata.add_groups(posterior_predictive=xr.Dataset(
            {"new_study": (("chain", "draw"), pred), "theta": (("chain", "draw", "study"), theta)},
            coords={"chain": idata.posterior.chain, "draw": idata.posterior.draw, "study": data.studies}))
    return mu, tau, theta, pred, idata, diag


def bayes_pool(rows: pd.DataFrame, priors: dict[str, str] | None = None, by: str | None = None,
               engine: str = "mcmc", settings: Settings = DEFAULT_SETTINGS,
               covariates: list[str] | None = None, reference: str | None = None) -> BayesPooled:
    """Hierarchical Bayesian pooling of one outcome (one row per study).

    ``by``: a categorical covariate; adds subgroups and contrasts (``reference`` names its
    reference level). ``covariates``: a meta-regression (numeric or categorical), adding the
    posterior of each coefficient in ``beta``.
    """
    if engine not in ENGINES:
        raise AnalysisError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    data = _prepare(rows)
    outcome = str(rows["outcome"].iloc[0])
    if len(data.studies) < 2:
        raise AnalysisError(f"{outcome}: {len(data.studies)} poolable study(ies); pooling needs at least 2")
    resolved = resolve_priors(data.kind, priors)
    mu, tau, theta, pred, idata, diag = _fit_overall(data, resolved, engine, settings)
    pooled = to_scale(data.kind, mu)
    result = BayesPooled(
        outcome=outcome, kind=data.kind, engine=engine, k=len(data.studies), pooled=summary(pooled),
        pop_average=summary(population_average(mu, tau)) if data.kind == "binary" else None,
        predictive=summary(pred), tau=summary(tau), mu=summary(mu),
        priors={k: str(v) for k, v in resolved.items()}, diagnostics=diag,
        studies=_study_table(data, theta), draws={"pooled": pooled, "predictive": pred, "tau": tau},
        notes=list(data.notes), idata=idata)
    if data.kind == "binary" and engine == "quadrature":
        result.notes.append("shrunken study estimates of the binomial model need --engine mcmc")
    if by and covariates:
        raise AnalysisError("give either a subgroup covariate (by) or meta-regression covariates, not both")
    if by or covariates:
        _add_covariate_model(result, data, [by] if by else list(covariates), by, reference, resolved, engine,
                             settings)
    return result


def _covariate_fit(result: BayesPooled, data: _Data, columns: list[str], reference: dict, priors, engine,
                   settings):
    """Fit mu + X beta on the studies whose covariates are known; returns draws and design."""
    if engine != "mcmc":
        raise AnalysisError("subgroups and meta-regression need the covariate model, which only --engine mcmc fits")
    for col in columns:
        if col not in data.rows.columns:
            raise AnalysisError(f"covariate column '{col}' does not exist")
    known = data.rows[columns].notna().all(axis=1).to_numpy()
    if (~known).any():
        result.notes.append(f"left out of the covariate model, {', '.join(columns)} missing: "
                            + ", ".join(np.asarray(data.studies)[~known]))
    sub = _Data(data.kind, list(np.asarray(data.studies)[known]), data.rows[known].reset_index(drop=True),
                data.y[known], data.n_or_se[known], [])
    X, names, reference = design_matrix(sub.rows, columns, reference)
    if X.shape[0] <= X.shape[1]:
        raise AnalysisError(f"{X.shape[0]} studies with known {', '.join(columns)} cannot inform "
                            f"{X.shape[1]} coefficients")
    idata, diag = sample(_model_data(sub, priors, X[:, 1:], names[1:]), settings)
    result.beta = {name: summary(_draws(idata, "beta")[..., i]) for i, name in enumerate(names[1:])}
    result.covariate_diagnostics, result.covariate_idata = diag, idata
    return sub, idata, names, reference


def _add_covariate_model(result: BayesPooled, data: _Data, columns: list[str], by: str | None,
                         reference_level: str | None, priors: dict[str, Prior], engine: str,
                         settings: Settings) -> None:
    reference = {by: reference_level} if by and reference_level else {}
    sub, idata, names, reference = _covariate_fit(result, data, columns, reference, priors, engine, settings)
    if not by:
        return
    levels = sorted(sub.rows[by].astype(str).unique())
    if len(levels) < 2:
        raise AnalysisError(f"'{by}' has {len(levels)} level(s) with data; a subgroup comparison needs 2")
    mu, beta, tau = _draws(idata, "mu"), _draws(idata, "beta"), _draws(idata, "tau")
    rng = np.random.default_rng(settings.seed + 7)
    counts = sub.rows[by].astype(str).value_counts()
    for level in levels:
        eta = mu + (beta[..., names.index(f"{by}[{level}]") - 1] if level != reference[by] else 0.0)
        value = to_scale(data.kind, eta)
        result.draws[f"{by}={level}"] = value
        result.levels[level] = {"k": int(counts[level]), **summary(value),
                                "pi": summary(predictive(data.kind, eta, tau, rng))}
    for a, b in itertools.permutations(levels, 2):
        if a < b:
            diff = result.draws[f"{by}={a}"] - result.draws[f"{by}={b}"]
            result.contrasts[f"{a} - {b}"] = {**summary(diff), "p_gt_0": float((diff > 0).mean())}
    result.by = by
