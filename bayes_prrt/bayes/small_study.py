"""Bayesian small-study model (PET-style): the study's standard-error proxy as a covariate.

    binary:  logit p_i = mu + beta / sqrt(n_i) + tau z_i      (proxy 1/sqrt(n_i))
    median:  log m_i ~ N(mu + beta s_i, sqrt(s_i^2 + tau^2))  (proxy s_i, the SE of log m_i)
fitted with ``bayes_pool(rows, covariates=["se_proxy"])``, by MCMC or exactly (``engine``). The proxy is 0 for a study
of infinite size, so ``mu`` is the pooled value at infinite precision (the precision-effect
test's intercept; Stanley & Doucouliagos 2014, Res Synth Methods 5:60) and ``beta > 0`` says
that smaller studies report larger values (higher DCR, ORR, longer survival): the direction of
small-study inflation when larger values are the favourable ones. 1/sqrt(n) is used rather than
the SE of the logit, which depends on the observed proportion itself and so correlates with it
without any bias (Hunter et al. 2014, J Clin Epidemiol 67:897).
Default slope priors: N(0, 5^2) per unit of 1/sqrt(n) (logit scale; about 2 SEs of a logit at a
proportion of 0.8) and N(0, 2^2) per unit of s_i (2 SEs); ``priors`` overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..effects import study_effects
from .fit import bayes_pool
from .result import diagnostics_dict, exact_interval
from .sampling import DEFAULT_SETTINGS, Diagnostics, Settings
from .summaries import summary, to_scale

PROXY = "se_proxy"
SLOPE_PRIORS = {"binary": "normal:0,5", "median": "normal:0,2"}


def with_se_proxy(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows the model uses (a median needs its CI) with the column ``se_proxy``."""
    if rows["kind"].iloc[0] == "binary":
        return rows.assign(**{PROXY: 1 / np.sqrt(rows["n"].astype(float))})
    eff, used = study_effects(rows, "LOGMEDIAN")
    return used.assign(**{PROXY: np.sqrt(eff.vi)})


@dataclass
class SmallStudyModel:
    outcome: str
    kind: str
    k: int
    slope: dict  # posterior summary of beta (model scale, per unit of the proxy)
    p_inflation: float  # P(beta > 0 | data): smaller studies report larger values
    limit: dict  # pooled value at infinite precision (proxy 0), outcome's scale
    unadjusted: dict  # pooled value of the model without the proxy
    priors: dict[str, str]
    diagnostics: Diagnostics | None  # None: exact
    unadjusted_diagnostics: Diagnostics | None
    notes: list[str]

    @property
    def converged(self) -> bool:
        return all(d is None or d.converged for d in (self.diagnostics, self.unadjusted_diagnostics))

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "k": self.k, "covariate": PROXY, "slope": self.slope,
                "p_inflation": self.p_inflation, "limit": self.limit, "unadjusted": self.unadjusted,
                "priors": self.priors, "diagnostics": diagnostics_dict(self.diagnostics),
                "unadjusted_diagnostics": diagnostics_dict(self.unadjusted_diagnostics), "converged": self.converged,
                "notes": self.notes}


def small_study_model(rows: pd.DataFrame, priors: dict[str, str] | None = None,
                      settings: Settings = DEFAULT_SETTINGS, engine: str = "mcmc") -> SmallStudyModel:
    """Fit the model with and without the SE proxy; P(inflation) and the limit beside the unadjusted value.
    With ``engine="quadrature"`` both are exact: quantiles and P(inflation) from the exact CDF."""
    kind = rows["kind"].iloc[0]
    priors = {"beta": SLOPE_PRIORS[kind], **{k: v for k, v in (priors or {}).items() if v}}
    res = bayes_pool(with_se_proxy(rows), priors=priors, covariates=[PROXY], engine=engine, settings=settings)
    posterior = res.idata.posterior
    slope = posterior["beta"].to_numpy()[..., 0]
    limit = summary(to_scale(kind, posterior["mu"].to_numpy()))
    p_inflation = float((slope > 0).mean())
    if res.exact is not None:
        limit |= exact_interval(res.exact.mu, outcome=True)
        p_inflation = res.exact.beta[PROXY].prob_above(0.0)
    return SmallStudyModel(
        outcome=res.outcome, kind=kind, k=res.k, slope=res.beta[PROXY], p_inflation=p_inflation,
        limit=limit, unadjusted=res.pooled, priors={k: str(v) for k, v in res.priors.items()},
        diagnostics=res.diagnostics,
        unadjusted_diagnostics=res.overall.diagnostics, notes=[*res.overall.notes, *res.notes])
