"""The Python API: ``pool`` (as the ``pool`` command) and ``load_fit``.

>>> import bayes_prrt
>>> data = bayes_prrt.load_dataset()
>>> fit = bayes_prrt.pool(data, "DCR")                      # frequentist, PFT + DerSimonian-Laird
>>> round(fit.estimate, 3), fit.k
(0.83, 12)
"""

from __future__ import annotations

from .data.dataset import Dataset
from .effects import study_effects
from .errors import AnalysisError
from .names import DEFAULT_MEDIAN_LIKELIHOOD, TAU2_CHOICES

METHODS = ("freq", "bayes")


def _check(name: str, value, allowed) -> None:
    if value not in allowed:
        raise AnalysisError(f"unknown {name}={value!r}; choose one of {', '.join(map(str, allowed))}")


def pool(data: Dataset, outcome: str, method: str = "freq", *, values: str = "published", by: str | None = None,
         covariates: list[str] | None = None, reference: str | None = None,
         measure: str | None = None, tau2: str = "DL", hksj: bool = False,
         priors: dict | None = None, engine: str = "mcmc", sampler: str = "nutpie", draws: int = 1000,
         chains: int = 4, seed: int = 20261123, overall=None, median_se: str = "ci", separate_tau: bool = False,
         median_likelihood: str = DEFAULT_MEDIAN_LIKELIHOOD):
    """Pool one outcome of ``data`` (a ``Dataset``), as ``bayes-prrt pool`` does.

    ``method='freq'``: random effects (``tau2``: DL, REML, PM, ML, or FE for the common-effect model)
    on ``measure`` (PFT, PLO, PR, GLMM for proportions; LOGMEDIAN, MEDIAN for medians), with
    subgroups (``by``) or a meta-regression (``covariates``); returns a ``FreqFit``. With one
    poolable study, its own estimate and exact CI (nothing pooled).
    ``method='bayes'``: the hierarchical model (``priors`` by parameter over the defaults;
    ``engine`` 'mcmc' or 'quadrature'); with ``by`` or ``covariates`` the covariate model, which
    carries the model without them as ``.overall`` (pass ``overall`` to reuse a fit); returns a
    ``BayesFit``. ``median_se``: "ci" (a median without a CI is left out) or "ci+n" (its SE from
    n, ``effects.py``), in both methods; ``median_likelihood``: "split" (each half of a median's CI its own
    SE, a lower bound only one-sided; the frequentist fit is then ML) or "normal" (one symmetric SE), in both
    methods. ``separate_tau`` (bayes, with ``by``): a separate mean and tau per level,
    exact (``bayes/separate.py``; a ``SeparateTauFit``), as the frequentist subgroups have a tau2 per level.
    """
    _check("method", method, METHODS)
    rows = data.select(outcome, values)
    if method == "bayes":
        from .bayes.fit import bayes_pool
        from .bayes.sampling import Settings

        fit = bayes_pool(rows, priors=priors, by=by, engine=engine,
                         settings=Settings(draws=draws, tune=draws, chains=chains, seed=seed, sampler=sampler),
                         covariates=list(covariates or []) or None, reference=reference, overall=overall,
                         median_se=median_se, separate_tau=separate_tau, median_likelihood=median_likelihood)
        fit.values, fit.data_sha256 = values, data.sha256
        if fit.overall is not None:
            fit.overall.values, fit.overall.data_sha256 = values, data.sha256
        return fit
    from .freq.metareg import meta_regression
    from .freq.pool import pool as freq_pool
    from .freq.pool import single_study, subgroups
    from .freq.result import FreqFit

    kind = rows["kind"].iloc[0]
    measure = (measure or ("PFT" if kind == "binary" else "LOGMEDIAN")).upper()
    tau2 = tau2.upper()
    _check("tau2", tau2, TAU2_CHOICES)
    if by and covariates:
        raise AnalysisError("give either a subgroup covariate (by) or meta-regression covariates, not both")
    if not by and not covariates and len(study_effects(rows, measure, median_se, median_likelihood)[1]) == 1:
        return FreqFit(single_study(rows, measure), rows, values=values, data_sha256=data.sha256)
    if covariates and kind == "median" and median_likelihood == "split":
        raise AnalysisError("a frequentist meta-regression of medians is defined for median_likelihood='normal' only "
                            "(the split likelihood has no weighted least-squares form); use the Bayesian model")
    return FreqFit(freq_pool(rows, measure, tau2, hksj, median_se=median_se, median_likelihood=median_likelihood), rows,
                   subgroups=subgroups(rows, by, measure, tau2, hksj, median_se, median_likelihood) if by else None,
                   regression=(meta_regression(rows, list(covariates), measure, tau2, hksj,
                                               {covariates[0]: reference} if reference else None, median_se)
                               if covariates else None),
                   values=values, data_sha256=data.sha256)


def load_fit(path):
    """A ``BayesFit`` saved with ``fit.to_netcdf(path)`` (or ``pool --method bayes --idata``)."""
    from .bayes.store import load_fit as _load

    return _load(path)
