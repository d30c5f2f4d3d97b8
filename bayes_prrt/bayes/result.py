"""``BayesFit``: one fitted hierarchical model, with everything a user asks of it.

A fit stores its data rows, priors, settings, ArviZ ``InferenceData`` (the one store of draws:
posterior, posterior_predictive, prior) and convergence diagnostics; every summary is computed
from those. On the outcome's scale (``summaries.py``): ``pooled`` = expit(mu) or exp(mu), the
value of the median study; ``pop_average`` (proportions) = E_u[expit(mu + tau u)];
``predictive`` = a new study's true value; ``I2`` = 100 tau^2 / (tau^2 + v~), v~ the typical
within-study variance of Higgins & Thompson (2002, Stat Med 21:1539). A covariate model
(``by`` or ``covariates``) carries the model without covariates as ``overall``: the pooled
quantities come from it, the levels, contrasts and coefficients from the covariate model.
Like metafor's ``rma`` objects: ``print(fit)``, ``fit.summary()``, ``fit.prob(...)``,
``fit.plot_forest()``, ``fit.to_netcdf(path)`` and ``bayes_prrt.load_fit(path)``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..effects import se_from_ci, study_effects
from ..errors import AnalysisError
from .. import seeds
from ..formatting import fit_html
from ..likelihood import study_effect_draws
from ..priors import Prior
from .sampling import Diagnostics, Settings
from .summaries import bayesian_i2, population_average, summary, to_scale

SUMMARY_COLUMNS = ("median", "mean", "sd", "ci_low", "ci_high", "mcse", "rhat", "ess_bulk", "ess_tail")


@dataclass(eq=False)
class BayesFit:
    outcome: str
    kind: str
    engine: str
    rows: pd.DataFrame  # the rows fitted, one per study
    priors: dict[str, Prior]
    settings: Settings
    idata: object  # arviz.InferenceData
    diagnostics: Diagnostics | None  # None: exact quadrature, no MCMC
    notes: list[str] = field(default_factory=list)
    by: str | None = None
    covariates: list[str] = field(default_factory=list)
    reference: dict[str, str] = field(default_factory=dict)
    overall: BayesFit | None = None
    values: str | None = None  # the value-source policy the rows were selected with
    data_sha256: str | None = None
    exact: object | None = None  # exact.ExactPosterior of an exact fit: its quantiles and linear probabilities
    median_se: str = "ci"  # the rule for medians without a CI (effects.MEDIAN_SE_RULES)
    median_likelihood: str = "normal"  # a median's CI: one symmetric SE, or split normal (names.MEDIAN_LIKELIHOODS)

    # ------------------------------------------------------------------ draws
    def _post(self, name: str) -> np.ndarray:
        return self.idata.posterior[name].to_numpy()

    @property
    def studies_fitted(self) -> list[str]:
        return [str(s) for s in self.rows["study"]]

    @property
    def k(self) -> int:
        return len(self.rows) if self.overall is None else self.overall.k

    @property
    def coef_names(self) -> list[str]:
        return [str(c) for c in self.idata.posterior["coef"].values] if "beta" in self.idata.posterior else []

    @property
    def level_names(self) -> list[str]:
        return sorted(self.rows[self.by].astype(str).unique()) if self.by else []

    def level_eta(self, level: str) -> np.ndarray:
        """mu + beta_level (the reference level: mu) on the analysis scale."""
        if level not in self.level_names:
            raise AnalysisError(f"'{level}' is not a level of {self.by}; levels: {', '.join(self.level_names)}")
        mu = self._post("mu")
        if level == self.reference.get(self.by):
            return mu
        return mu + self._post("beta")[..., self.coef_names.index(f"{self.by}[{level}]")]

    def quantity(self, name: str) -> np.ndarray:
        """Draws (chain, draw) on the outcome's scale: ``pooled``, ``new`` (a new study) or a level."""
        if name in ("pooled", "new") and self.overall is not None:
            return self.overall.quantity(name)
        if name == "pooled":
            return to_scale(self.kind, self._post("mu"))
        if name == "new":
            return self.idata.posterior_predictive["new_study"].to_numpy()
        if self.by:
            return to_scale(self.kind, self.level_eta(name))
        raise AnalysisError(f"'{name}' is not a quantity of this {self.outcome} fit: use the outcome name, 'new', "
                            f"a level or 'A - B' (spaces around the minus); fit with by=COLUMN for subgroups")

    @property
    def draws(self) -> dict[str, np.ndarray]:
        """Derived draws by name (computed from ``idata``): pooled, predictive, tau and ``by=level``."""
        out = {"pooled": self.quantity("pooled"), "predictive": self.quantity("new"), "tau": self._post("tau")}
        return out | {f"{self.by}={level}": self.quantity(level) for level in self.level_names}

    # ------------------------------------------------------------------ summaries (dicts)
    def _overall_or_self(self) -> BayesFit:
        return self.overall if self.overall is not None else self

    def _marginal(self, name: str):
        """The exact marginal of ``pooled``, ``new``, ``tau``, ``mu``, a level or ``beta NAME`` (outcome scale by
        its link), or None when the fit is MCMC or the quantity is not a marginal the exact engine gives."""
        if name in ("pooled", "new", "mu") and self.overall is not None:
            return self.overall._marginal(name)
        if self.exact is None:
            return None
        if name in ("pooled", "mu"):
            return self.exact.mu
        if name == "new":
            return self.exact.predictive() if self.exact.p == 0 else None
        if name == "tau":
            return self.exact.tau
        if name.startswith("beta "):
            return self.exact.beta[name[5:]]
        return self.exact.level(name) if self.by else None

    def _summary(self, name: str, draws, outcome: bool = True, marginal=None) -> dict:
        """``summary(draws)``, with the median and the 95% equal-tailed interval from the exact CDF when there is
        one (``exact``: True); mean, SD and HDI stay those of the i.i.d. draws."""
        return summary(draws) | exact_interval(marginal or self._marginal(name), outcome and name != "tau")

    @property
    def pooled(self) -> dict:
        return self._summary("pooled", self.quantity("pooled"))

    @property
    def predictive(self) -> dict:
        return self._summary("new", self.quantity("new"))

    @property
    def pop_average(self) -> dict | None:
        base = self._overall_or_self()
        return summary(population_average(base._post("mu"), base._post("tau"))) if self.kind == "binary" else None

    @property
    def mu(self) -> dict:
        return self._summary("mu", self._overall_or_self()._post("mu"), outcome=False)

    @property
    def tau(self) -> dict:
        """tau of this model (the residual between-study SD of a covariate model)."""
        return self._summary("tau", self._post("tau"))

    def i2_draws(self) -> np.ndarray:
        """Bayesian I2 (%) per draw of tau, with the within-study variances of the model's own scale (logit for
        proportions, 0.5 added to a 0-or-n cell; log months for medians)."""
        base = self._overall_or_self()
        vi = study_effects(base.rows, "PLO" if self.kind == "binary" else "LOGMEDIAN", base.median_se)[0].vi
        return bayesian_i2(base._post("tau"), vi)

    @property
    def studies(self) -> pd.DataFrame:
        """Each study's observed value and shrunken estimate (posterior median, 95% interval); for medians the
        rule that made its entry (``effects.ENTRY_RULES``)."""
        base = self._overall_or_self()
        theta = base._study_effects()
        observed = base._observed()
        rules = (study_effects(base.rows, "LOGMEDIAN", base.median_se, base.median_likelihood)[0].rules
                 if self.kind == "median" else None)
        rows = []
        for i, study in enumerate(base.studies_fitted):
            s = summary(to_scale(self.kind, theta[..., i])) if theta is not None else {}
            rows.append({"study": study, "observed": float(observed[i]), "shrunken": s.get("median", np.nan),
                         "ci_low": s.get("ci_low", np.nan), "ci_high": s.get("ci_high", np.nan)}
                        | ({"rule": rules[i]} if rules else {}))
        return pd.DataFrame(rows)

    def _study_effects(self) -> np.ndarray | None:
        """Each study's effect per draw (draws..., study): sampled (MCMC), conditional (log-median) or, for an
        exact binomial fit, drawn on first use by SIR (``likelihood.study_effect_draws``, its own seed stream,
        so the draws do not depend on when they are asked for) and kept in ``posterior_predictive``."""
        if "theta" in self.idata.posterior:
            return self._post("theta")
        pp = getattr(self.idata, "posterior_predictive", None)
        if pp is None:
            return None
        if "theta" not in pp and self.kind == "binary" and self.overall is None:
            theta = study_effect_draws(self.rows["events"].to_numpy(float), self.rows["n"].to_numpy(float),
                                       self._post("mu"), self._post("tau"), seeds.rng(self.settings.seed, "study_effects"))
            pp["theta"] = (("chain", "draw", "study"), theta)
            pp.coords["study"] = self.studies_fitted
        return pp["theta"].to_numpy() if "theta" in pp else None

    def _observed(self) -> np.ndarray:
        if self.kind == "binary":
            return (self.rows["events"].astype(float) / self.rows["n"].astype(float)).to_numpy()
        return self.rows["median"].astype(float).to_numpy()

    @property
    def levels(self) -> dict[str, dict]:
        counts = self.rows[self.by].astype(str).value_counts() if self.by else {}
        pp = self.idata.posterior_predictive if self.by else None
        return {level: {"k": int(counts[level]), **self._summary(level, self.quantity(level)),
                        "pi": self._level_pi(level, pp["new_study"].sel(level=level).to_numpy())}
                for level in self.level_names}

    def _level_pi(self, level: str, draws) -> dict:
        return self._summary(level, draws, marginal=self.exact.predictive(level) if self.exact is not None else None)

    @property
    def contrasts(self) -> dict[str, dict]:
        out = {}
        for a, b in itertools.combinations(self.level_names, 2):
            diff = self.quantity(a) - self.quantity(b)
            exact = self.exact.contrast(a, b).prob_above(0.0) if self.exact is not None else None
            out[f"{a} - {b}"] = {**summary(diff), "p_gt_0": float((diff > 0).mean()) if exact is None else exact}
        return out

    @property
    def beta(self) -> dict[str, dict]:
        if "beta" not in self.idata.posterior:
            return {}
        beta = self._post("beta")
        return {name: self._summary(f"beta {name}", beta[..., i], outcome=False) for i, name in enumerate(self.coef_names)}

    @property
    def converged(self) -> bool:
        own = self.diagnostics is None or self.diagnostics.converged
        return own and (self.overall is None or self.overall.converged)

    # ------------------------------------------------------------------ user-facing
    def exact_prob(self, st) -> float | None:
        """P(statement) from the exact CDF when the statement is linear in the model's parameters (a quantity
        against a number, or one level against another), else None (``statements.probability`` then uses the
        draws)."""
        from scipy.special import logit

        lhs, rhs = st.lhs, st.rhs
        if len(lhs) != 1 or (not isinstance(rhs, float) and len(rhs) != 1):
            return None
        if isinstance(rhs, float):
            marginal = self._marginal(lhs[0]) if lhs[0] in ("pooled", "new") or self.by else None
            if marginal is None:
                return None
            if self.kind == "binary" and not 0 < rhs < 1 or self.kind == "median" and rhs <= 0:
                above = 1.0 if rhs <= 0 else 0.0  # every proportion is above 0 and below 1; every median above 0
            else:
                above = marginal.prob_above(float(logit(rhs) if self.kind == "binary" else np.log(rhs)))
        elif self.exact is not None and self.by and {lhs[0], rhs[0]} <= set(self.level_names):
            above = self.exact.contrast(lhs[0], rhs[0]).prob_above(0.0)
        else:
            return None
        return above if st.op in (">", ">=") else 1.0 - above

    def prob(self, statement: str) -> dict:
        """P(statement | data) from the stored draws, with its MCSE (grammar: ``statements.py``)."""
        from .statements import probability

        return probability(self, statement)

    def predict(self, n: int | None = None, se: float | None = None, ci_low: float | None = None,
                ci_high: float | None = None, observed: float | None = None) -> dict:
        """What a new study would show (``predict.py``): ``true`` (median, pi_low, pi_high of theta_new
        = mu + tau u) and ``observed`` (its sampling distribution: Bin(n, p_new)/n for proportions,
        log m ~ N(theta_new, se^2) for medians, se given or from the CI as (log U - log L)/(2 x 1.96));
        with ``observed`` (on the outcome's scale) the two-sided predictive p-value."""
        from . import predict as pr

        base = self._overall_or_self()
        mu, tau = base._post("mu"), base._post("tau")
        out = {"outcome": self.outcome, "k": self.k, "engine": base.engine, "converged": base.converged,
               "diagnostics": diagnostics_dict(base.diagnostics), "true": pr.true_value(self.kind, mu, tau)}
        if self.kind == "binary":
            if se is not None or ci_low is not None or ci_high is not None:
                raise AnalysisError(f"{self.outcome} is a proportion: give the new study's n, not an SE or a CI")
            if n is None or int(n) != n or n < 1:
                raise AnalysisError(f"{self.outcome}: the new study's n must be a whole number >= 1, not {n}")
            n, p_new = int(n), base.quantity("new")
            out |= {"n": n, "observed": pr.binomial_observed(p_new, n)}
            if observed is not None:
                if not 0 <= observed <= 1:
                    raise AnalysisError(f"{self.outcome}: the observed proportion must lie in [0, 1], not {observed}")
                x = int(round(observed * n))
                out |= {"observed_events": x, **pr.binomial_p_value(p_new, n, x)}
            return out
        se = _median_se(self.outcome, se, ci_low, ci_high, observed)
        out |= {"se": se, "observed": pr.median_observed(mu, tau, se)}
        if observed is not None:
            if not observed > 0:
                raise AnalysisError(f"{self.outcome}: the observed median must be > 0 months, not {observed}")
            out |= pr.median_p_value(mu, tau, se, observed)
        return out

    def summary(self) -> pd.DataFrame:
        """One row per quantity: pooled value, population average, predictive, tau, I2, mu; levels,
        contrasts and coefficients of a covariate model; each study's observed and shrunken value.
        Columns median/mean/sd/ci_low/ci_high, and mcse/rhat/ess_bulk/ess_tail (MCMC); ``exact``: the median and
        interval come from the exact CDF (mean, SD and MCSE from its i.i.d. draws)."""
        base = self._overall_or_self()
        rows = [(f"pooled {self.outcome}", self.quantity("pooled"), base, "pooled"),
                (f"predictive {self.outcome} (new study)", self.quantity("new"), base, "new")]
        if self.kind == "binary":
            rows.append((f"population average {self.outcome}",
                         population_average(base._post("mu"), base._post("tau")), base, None))
        rows += [("tau", base._post("tau"), base, "tau"), ("I2 (%)", self.i2_draws(), base, None),
                 ("mu", base._post("mu"), base, "mu")]
        if self.overall is not None:
            rows.append(("tau (covariate model)", self._post("tau"), self, "tau"))
        rows += [(f"{self.by}: {level}", self.quantity(level), self, level) for level in self.level_names]
        rows += [(f"{self.by}: {a} - {b}", self.quantity(a) - self.quantity(b), self, None)
                 for a, b in itertools.combinations(self.level_names, 2)]
        if "beta" in self.idata.posterior:
            beta = self._post("beta")
            rows += [(f"beta {name}", beta[..., i], self, f"beta {name}") for i, name in enumerate(self.coef_names)]
        theta = base._study_effects()
        if theta is not None:
            rows += [(f"study {s}", to_scale(self.kind, theta[..., i]), base, None)
                     for i, s in enumerate(base.studies_fitted)]
        records = []
        for _, values, fit, key in rows:
            marginal = fit._marginal(key) if key else None
            exact = exact_interval(marginal, key not in ("mu", "tau") and not str(key).startswith("beta "))
            records.append(_row(values, fit.diagnostics is not None) | exact | {"exact": bool(exact)})
        frame = pd.DataFrame(records, index=pd.Index([name for name, *_ in rows], name="quantity"))
        observed = dict(zip((f"study {s}" for s in base.studies_fitted), base._observed(), strict=True))
        frame.insert(0, "observed", [observed.get(name, np.nan) for name in frame.index])
        return frame

    def to_dict(self) -> dict:
        """The CLI's JSON (``pool --method bayes --json``)."""
        base = self._overall_or_self()
        out = {"values": self.values, "data_sha256": self.data_sha256, "seed": self.settings.seed,
               "outcome": self.outcome, "method": "bayes", "engine": base.engine, "k": self.k,
               "estimate": self.pooled["median"], "ci_low": self.pooled["ci_low"], "ci_high": self.pooled["ci_high"],
               "pooled": self.pooled, "pop_average": self.pop_average,
               "pi_low": self.predictive["ci_low"], "pi_high": self.predictive["ci_high"],
               "tau": {k: base.tau[k] for k in ("median", "ci_low", "ci_high", "mean", "sd")},
               "priors": {k: str(v) for k, v in self.priors.items()}, "diagnostics": diagnostics_dict(base.diagnostics),
               "converged": self.converged, "studies": self.studies.to_dict(orient="records"),
               "notes": [*base.notes, *(self.notes if self.overall is not None else [])]}
        if self.kind == "median":
            out.update(median_se=base.median_se, median_likelihood=base.median_likelihood)
        if self.by:
            out.update(by=self.by, subgroups=self.levels, contrasts=self.contrasts)
        if self.overall is not None:
            out.update(beta=self.beta, covariate_diagnostics=diagnostics_dict(self.diagnostics),
                       tau_covariate_model=self.tau)
        return out

    def __str__(self) -> str:
        from .text import bayes_text

        return bayes_text(self)

    def __repr__(self) -> str:
        model = f", by={self.by!r}" if self.by else (f", covariates={self.covariates!r}" if self.covariates else "")
        return f"<BayesFit {self.outcome}: k={self.k}, engine={self._overall_or_self().engine}{model}>"

    def _repr_html_(self) -> str:
        return fit_html(str(self), self.summary())

    def plot_forest(self, ax=None):
        """Forest plot drawn from this fit alone: each study observed and shrunken, the pooled value."""
        from ..plots.forest import fit_forest

        base = self._overall_or_self()
        return fit_forest(base.rows, self.outcome, bayes=base, ax=ax)

    def to_netcdf(self, path) -> None:
        """Save the fit (draws and everything needed to rebuild it) to one netCDF file."""
        from .store import save_fit

        save_fit(self, path)


def exact_interval(marginal, outcome: bool) -> dict:
    """Median and 95% equal-tailed interval of an exact marginal (on the outcome's scale by its link), or {}."""
    if marginal is None:
        return {}
    low, median, high = marginal.quantile([0.025, 0.5, 0.975], outcome=outcome)
    return {"median": float(median), "ci_low": float(low), "ci_high": float(high), "exact": True}


def _row(values, mcmc: bool) -> dict:
    import arviz as az

    x = np.asarray(values, float)
    s = summary(x)
    out = {k: s[k] for k in ("median", "mean", "sd", "ci_low", "ci_high")}
    if mcmc and x.ndim == 2 and x.shape[0] > 1 and np.ptp(x) > 0:
        ds = az.convert_to_dataset({"x": x})  # dims (chain, draw)
        out.update(mcse=float(az.mcse(ds, method="mean")["x"]), rhat=float(az.rhat(ds)["x"]),
                   ess_bulk=float(az.ess(ds, method="bulk")["x"]), ess_tail=float(az.ess(ds, method="tail")["x"]))
    else:  # i.i.d. draws of an exact posterior (or a constant)
        out.update(mcse=float(s["sd"] / np.sqrt(x.size)), rhat=np.nan, ess_bulk=float(x.size), ess_tail=float(x.size))
    return out


def _median_se(outcome: str, se, ci_low, ci_high, median) -> float:
    """The new study's SE of log median: given, or from its 95% CI (``effects.se_from_ci``)."""
    if (se is None) == (ci_low is None):
        raise AnalysisError(f"{outcome}: give the new study's SE of log median (se) or its 95% CI (ci_low and "
                            f"ci_high; ci_high may be left out with an observed median), one of the two")
    if se is None:
        if ci_high is None and median is None:
            raise AnalysisError(f"{outcome}: with ci_low alone the observed median is needed for the SE")
        if not 0 < ci_low <= (ci_high if ci_high is not None else median):
            raise AnalysisError(f"{outcome}: the CI must satisfy 0 < ci_low <= ci_high (and <= the median)")
        se = float(se_from_ci(ci_low, np.nan if ci_high is None else ci_high, median))
    if not se > 0:
        raise AnalysisError(f"{outcome}: the SE of log median must be > 0, not {se}")
    return float(se)


def diagnostics_dict(diag: Diagnostics | None) -> dict:
    if diag is None:
        return {"rhat_max": None, "ess_bulk_min": None, "ess_tail_min": None, "divergences": None,
                "converged": True, "note": "exact quadrature, no MCMC"}
    return diag.to_dict()


def fit_metadata(fit: BayesFit) -> str:
    """Everything but the draws, as JSON (stored beside them by ``store.save_fit``)."""
    return json.dumps({"outcome": fit.outcome, "kind": fit.kind, "engine": fit.engine,
                       "priors": {k: str(v) for k, v in fit.priors.items()},
                       "settings": asdict(fit.settings),
                       "diagnostics": None if fit.diagnostics is None else fit.diagnostics.to_dict(),
                       "notes": fit.notes, "values": fit.values, "data_sha256": fit.data_sha256, "median_se": fit.median_se,
                       "median_likelihood": fit.median_likelihood, "by": fit.by, "covariates": fit.covariates, "reference": fit.reference,
                       "rows": fit.rows.astype(object).where(fit.rows.notna(), None).to_dict(orient="list"),
                       "dtypes": {c: str(t) for c, t in fit.rows.dtypes.items()}})
