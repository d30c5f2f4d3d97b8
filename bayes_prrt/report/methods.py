"""The report's Methods paragraphs, written from what the run actually did.

Every fact stated (measures, tau2 estimator, priors, sampler, engines, value policy, data source,
covariates, sensitivity grid) is read from the run's spec, data and settings, so that the text
describes a user's own analysis as faithfully as the default one.
"""

from __future__ import annotations

import html

from ..bayes.sampling import ESS_MIN, RHAT_MAX

_MEASURES = {"PFT": "the Freeman-Tukey double arcsine transform (back-transformed at the harmonic mean of n)",
             "PLO": "the logit transform", "PR": "raw proportions", "GLMM": "a binomial-normal GLMM (ML, adaptive "
             "Gauss-Hermite quadrature)", "LOGMEDIAN": "log medians", "MEDIAN": "raw medians"}
_TAU2 = {"DL": "DerSimonian-Laird", "REML": "restricted maximum likelihood", "PM": "Paule-Mandel",
         "ML": "maximum likelihood", "FE": "a common-effect model (no between-study variance)"}
_SAMPLERS = {"nutpie": "nutpie's NUTS (compiled once per model structure)", "pymc": "PyMC's NUTS (pm.sample)"}


def _priors(priors: dict) -> str:
    return ", ".join(f"{name} ~ {prior}" for name, prior in priors.items())


def _median_rules(spec) -> str:
    """How a reported median entered the models (the spec's ``[medians]`` rules)."""
    if spec.median_likelihood == "split":
        how = ("a split-normal likelihood, each half of the 95% CI its own SE on the log scale, (log m - log L)/1.96 "
               "below and (log U - log m)/1.96 above (John 1982), and a lower bound only (U not estimable) as its "
               "one-sided limit, flat above the median; the frequentist value is then the maximum-likelihood "
               "estimate under the same likelihood with a Wald CI")
    else:
        how = ("log m_i ~ N(theta_i, s_i^2), s_i from the 95% CI, (log U - log L)/(2 x 1.96), or the lower half "
               "alone when U is not estimable")
    without = ("medians without a CI are left out" if spec.median_se == "ci" else
               "a median without a CI gets SE c/sqrt(n), c^2 = n/events under an exponential model estimated from "
               "the studies with a two-sided CI and n (at least 1)")
    return f"{how}; {without}"


def methods_paragraphs(run) -> list[str]:
    """The Methods section as plain-text paragraphs (the template escapes them)."""
    spec, settings, data = run.spec, run.settings, run.data
    kinds = {o.kind for o in run.outcomes}
    out = [f"Data: {data.source} (sha256 {data.sha256[:16]}...), value policy '{spec.values}'; outcomes "
           f"{', '.join(spec.outcomes)}."]
    models = []
    if "binary" in kinds:
        models.append("proportions with a binomial random-effects model, y_i ~ Binomial(n_i, p_i), logit p_i = mu "
                      "+ x_i'beta + tau z_i, z_i ~ N(0, 1); the pooled value is expit(mu), that of the median study, "
                      "and the population average E[expit(mu + tau u)] is shown too")
    if "median" in kinds:
        models.append("median survival on the log scale, y_i = log m_i with true value theta_i ~ N(mu + x_i'beta, "
                      "tau^2), integrated out; " + _median_rules(spec))
    out.append("Bayesian models: " + "; ".join(models) + ". The Bayesian I2 is tau^2 / (tau^2 + s^2) per posterior "
               "draw, s^2 the typical within-study variance of Higgins and Thompson (2002) on the model's scale "
               "(logit, or log months).")
    out.append("Priors: " + "; ".join(f"{'proportions (logit scale)' if k == 'binary' else 'medians (log months)'}: "
                                      f"{_priors(spec.priors[k])}" for k in sorted(kinds)) + ".")
    if settings is not None:
        out.append(f"Computation: {', '.join(run.engines)}. MCMC by {_SAMPLERS[settings.sampler]}, "
                   f"{settings.chains} chains of {settings.draws} draws after {settings.tune} tuning steps, target "
                   f"acceptance {settings.target_accept}, seed {settings.seed}; a fit counts only with R-hat <= "
                   f"{RHAT_MAX}, bulk and tail ESS >= {ESS_MIN} and no divergent transition, and is refitted once "
                   f"otherwise. Exact posteriors (models without covariates) by quadrature on a grid.")
    measures = sorted({o.freq.measure for o in run.outcomes})
    out.append(f"Frequentist values: {', '.join(_MEASURES[m] for m in measures)} with "
               f"{_TAU2[spec.tau2]} random effects{' and the Knapp-Hartung adjustment' if spec.hksj else ''}; the "
               f"engine agrees with R metafor to 1e-6"
               + (", with the method of the published meta-analysis (Wang et al. 2026)" if data.embedded else "")
               + ("; medians under the split-normal likelihood by maximum likelihood instead (no DerSimonian-Laird, "
                  "REML or Paule-Mandel estimator is defined for it)" if "median" in kinds
                  and spec.median_likelihood == "split" else "")
               + ".")
    if spec.covariates:
        out.append(f"Subgroups by {', '.join(spec.covariates)}: one categorical covariate at a time, treatment coded, "
                   f"with a tau shared by the levels; contrasts are posterior differences of the level values; a "
                   f"study whose covariate is unknown is left out of that model.")
    if any(st.get("comparison") == "within-study" for st in spec.statements):
        out.append("Within-study statements: each study's own hazard ratio (or two subgroup medians) of the two "
                   "subgroups, as a log median ratio (-log HR, exact for an exponential baseline; its sign needs "
                   "proportional hazards only), pooled by the normal-normal random-effects model computed exactly, "
                   "the mean contrast with the covariate-effect prior; not an ecological comparison of studies.")
    table = spec.sensitivity
    grid = ", ".join(str(p) for p in table[f"tau_{sorted(kinds)[0]}"])
    out.append(f"Sensitivity: a grid of tau priors ({grid}) and mu priors computed exactly by quadrature; "
               + (f"data scenarios {', '.join(table['scenarios'])}; " if data.embedded else "")
               + f"PSIS leave-one-out and power-scaling; a statement is decided at P <= {table['thresholds'][0]} or "
                 f">= {table['thresholds'][1]}.")
    return out


def methods_html(run) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in methods_paragraphs(run))
