"""Within-study subgroup contrasts pooled across studies: ``within_study(data, outcome, by, level, reference)``.

Each study contributes its own comparison of two subgroups of *its* patients (``data/within.py``),
so the contrast is free of the ecological bias of comparing different studies. The scale is the
log median ratio c = log(m_level / m_reference):

* from a hazard ratio, c = -log HR. Under proportional hazards S_level(t) = S_reference(t)^HR, so
  HR > 1 puts the level's median below the reference's whatever the baseline (the *sign* needs
  PH only). The *size* needs a baseline shape: for a Weibull baseline of shape k the median ratio
  is HR^(-1/k), and -log HR holds for the exponential (k = 1; Collett 2015, *Modelling Survival
  Data in Medical Research*, 3rd ed., chs. 5-6: the Weibull model is both PH and AFT). SE from
  the CI, (log U - log L)/(2 x 1.96);
* from two subgroup medians of one study, c = log m_level - log m_reference, SE sqrt(s_l^2 + s_r^2)
  (independent groups; each s from its CI, the lower half when the upper bound was not reached).

Per study one contrast: its hazard ratio where it has one (a Cox model uses every patient's
time), else its two medians. The contrasts are pooled by the normal-normal model
c_i ~ N(theta_i, s_i^2), theta_i ~ N(mu, tau^2), with the study effects integrated analytically
and tau by quadrature (the exact engine, ``exact.py``); mu, the mean within-study contrast,
has the prior of a covariate effect of the log-median model (beta, normal:0,1) and tau that
model's tau prior. With one study the data say nothing about tau, whose posterior is its prior,
and mu is that study's estimate widened by tau; the study's own contrast theta_1 barely depends
on the tau prior. A statement "A < B" is P(mu < 0) with A the level: the median of A below B's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import seeds
from ..effects import se_from_ci
from ..errors import AnalysisError
from ..formatting import fit_html, frame_text, interval, text_block
from ..priors import Prior, resolve_priors
from .exact import exact_posterior
from .result import exact_interval
from .statements import WITHIN_STUDY, compared_levels, parse
from .summaries import conditional_study_effects, summary

DRAWS = 10_000  # i.i.d. draws of the exact posterior, for the study effects and the hazard-ratio scale


def _median_se(row) -> float:
    return float(se_from_ci(row["ci_low"], row["ci_high"], row["estimate"]))


def within_contrasts(table: pd.DataFrame, outcome: str, by: str, level: str, reference: str,
                     value_source: str = "unadjusted") -> tuple[pd.DataFrame, list[str]]:
    """Per study the contrast c = log(m_level / m_reference) and its SE (module docstring), from the rows of
    a within-study table; returns them (study, y, se, statistic, source) and notes."""
    rows = table[(table["outcome"] == outcome) & (table["by"] == by) & (table["value_source"] == value_source)]
    out, notes = [], []
    for study, group in rows.groupby("study", sort=True):
        hr = group[group["statistic"] == "HR"]
        pair = hr[((hr["level"] == level) & (hr["reference"] == reference))
                  | ((hr["level"] == reference) & (hr["reference"] == level))]
        medians = group[group["statistic"] == "median"].set_index("level")
        if not pair.empty:
            row = pair.iloc[0]
            sign = -1.0 if row["level"] == level else 1.0
            out.append({"study": study, "y": sign * float(np.log(row["estimate"])),
                        "se": float(se_from_ci(row["ci_low"], row["ci_high"])), "statistic": "HR",
                        "source": row["source"]})
        elif {level, reference} <= set(medians.index):
            a, b = medians.loc[level], medians.loc[reference]
            out.append({"study": study, "y": float(np.log(a["estimate"] / b["estimate"])),
                        "se": float(np.hypot(_median_se(a), _median_se(b))), "statistic": "medians",
                        "source": a["source"]})
        elif {level, reference} <= set(hr["level"]) | set(hr["reference"]):
            notes.append(f"{study}: {level} and {reference} are each compared with another level; their contrast "
                         f"needs the covariance of the two hazard ratios, which is not reported: left out")
    if not out:
        available = sorted({f"{r.level} vs {r.reference}" if r.statistic == "HR" else r.level
                            for r in rows.itertuples()})
        raise AnalysisError(f"no within-study {outcome} contrast of {by} {level} vs {reference} ({value_source}); "
                            f"the within-study data have: {', '.join(available) or 'none for this outcome and ' + by}")
    frame = pd.DataFrame(out)
    if set(frame["statistic"]) == {"HR", "medians"}:
        notes.append("hazard ratios and median ratios pooled on one scale: log median ratio = -log HR holds for an "
                     "exponential baseline (a Weibull of shape k gives -log HR / k)")
    return frame, notes


def within_priors(priors: dict | None = None) -> dict[str, Prior]:
    """mu (the mean contrast) and tau: by default the log-median model's beta and tau priors."""
    base = resolve_priors("median")
    given = {name: value for name, value in (priors or {}).items() if value not in (None, "")}
    return resolve_priors("median", {"mu": base["beta"], "tau": base["tau"], **given})


def within_study(data, outcome: str, by: str, level: str, reference: str, value_source: str = "unadjusted",
                 priors: dict | None = None, seed: int = 20261123) -> WithinFit:
    """Pool the within-study contrasts of ``level`` against ``reference`` (``by`` e.g. grade) for ``outcome``.

    ``data``: a ``Dataset`` with within-study rows (the embedded data) or such a table itself;
    ``value_source``: "unadjusted" (univariate Cox, subgroup medians) or "adjusted" (multivariate Cox);
    ``priors``: "mu" and "tau" over the defaults (``within_priors``)."""
    table = getattr(data, "within", data)
    if table is None:
        raise AnalysisError("these data have no within-study subgroup rows (data/within_study.csv)")
    contrasts, notes = within_contrasts(table, outcome, by, level, reference, value_source)
    resolved = within_priors(priors)
    y, se = contrasts["y"].to_numpy(), contrasts["se"].to_numpy()
    exact = exact_posterior("median", y, se, np.zeros((len(y), 0)), {"mu": resolved["mu"], "tau": resolved["tau"]})
    rng = seeds.rng(seed, "within")
    d = exact.draws(DRAWS, rng)
    theta = conditional_study_effects(y, se, d["mu"][:, None], d["tau"], rng)
    if len(y) == 1:
        notes.append(f"one study ({contrasts['study'].iloc[0]}): tau's posterior is its prior ({resolved['tau']}); "
                     f"the mean contrast is that study's estimate widened by tau, its own contrast (under studies) "
                     f"rests on its estimate and barely on the tau prior")
    return WithinFit(outcome, by, level, reference, value_source, contrasts, resolved, exact,
                     {"mu": d["mu"], "tau": d["tau"], "theta": theta}, notes)


def statement_fit(data, statement: dict, priors: dict[str, Prior], seed: int = 20261123) -> WithinFit:
    """The within-study fit a spec statement ({outcome, by, text} with text "A < B" or "A > B") rests on, A the
    level and B the reference; ``priors``: the log-median model's, whose beta and tau priors it takes."""
    return within_study(data, statement["outcome"], statement["by"],
                        *compared_levels(parse(statement["text"], statement["outcome"])),
                        priors={"mu": priors["beta"], "tau": priors["tau"]}, seed=seed)


@dataclass(eq=False)
class WithinFit:
    """The pooled within-study contrast of ``level`` against ``reference`` (see ``within_study``)."""

    outcome: str
    by: str
    level: str
    reference: str
    value_source: str
    contrasts: pd.DataFrame  # per study: study, y (log median ratio), se, statistic, source
    priors: dict[str, Prior]
    exact: object  # exact.ExactPosterior of the normal-normal model
    draws: dict[str, np.ndarray]  # mu, tau (draws,), theta (draws, studies)
    notes: list[str] = field(default_factory=list)
    comparison: str = WITHIN_STUDY

    @property
    def k(self) -> int:
        return len(self.contrasts)

    @property
    def name(self) -> str:
        return f"{self.level} vs {self.reference}"

    @property
    def ratio(self) -> dict:
        """The mean within-study median ratio exp(mu) (exact median and interval)."""
        return summary(np.exp(self.draws["mu"])) | exact_interval(self.exact.mu, True)

    @property
    def hazard_ratio(self) -> dict:
        """exp(-mu), the hazard ratio under an exponential baseline (exact median and interval)."""
        return summary(np.exp(-self.draws["mu"])) | {k: 1.0 / self.ratio[j] for k, j in
                                                       (("median", "median"), ("ci_low", "ci_high"),
                                                        ("ci_high", "ci_low"))} | {"exact": True}

    @property
    def predictive(self) -> dict:
        """The median ratio in a new study, exp(mu + tau u)."""
        return exact_interval(self.exact.predictive(), True)

    @property
    def tau(self) -> dict:
        return summary(self.draws["tau"]) | exact_interval(self.exact.tau, False)

    @property
    def studies(self) -> pd.DataFrame:
        """Each study's observed and shrunken median ratio (posterior median, 95% interval)."""
        out = []
        for i, row in enumerate(self.contrasts.itertuples()):
            s = summary(np.exp(self.draws["theta"][:, i]))
            out.append({"study": row.study, "statistic": row.statistic, "observed": float(np.exp(row.y)),
                        "shrunken": s["median"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                        f"P({self.level} < {self.reference})": float((self.draws["theta"][:, i] < 0).mean())})
        return pd.DataFrame(out)

    def p_shorter(self) -> float:
        """P(median of level < median of reference) = P(mu < 0), from the exact CDF."""
        return 1.0 - self.exact.mu.prob_above(0.0)

    def prob(self, statement: str) -> dict:
        """P(statement) for "A < B" or "A > B" (A, B the two levels): the median of A below (above) B's, within
        studies; from the exact CDF (method exact)."""
        st = parse(statement, self.outcome)
        if set(compared_levels(st)) != {self.level, self.reference}:
            raise AnalysisError(f"within-study statement '{st.text}': compare the two levels, "
                                f"'{self.level} < {self.reference}' or '{self.level} > {self.reference}'")
        below = self.p_shorter() if st.lhs[0] == self.level else 1.0 - self.p_shorter()
        return {"statement": st.text, "outcome": self.outcome, "probability": below if "<" in st.op else 1.0 - below,
                "mcse": 0.0, "draws": int(self.draws["mu"].size), "method": "exact", "comparison": WITHIN_STUDY,
                "by": self.by, "k": self.k, "value_source": self.value_source,
                "studies": ", ".join(self.contrasts["study"])}

    def summary(self) -> pd.DataFrame:
        """One row per quantity: the mean median ratio, the hazard ratio, a new study's ratio, tau, each study."""
        rows = {f"median ratio {self.name}": self.ratio, f"hazard ratio {self.name}": self.hazard_ratio,
                f"predictive median ratio {self.name} (new study)": self.predictive, "tau": self.tau}
        rows |= {f"study {r.study}": {"median": r.shrunken, "ci_low": r.ci_low, "ci_high": r.ci_high}
                 for r in self.studies.itertuples()}
        return pd.DataFrame([{k: s.get(k, np.nan) for k in ("median", "ci_low", "ci_high")}
                             | {"exact": bool(s.get("exact"))}
                             for s in rows.values()], index=pd.Index(list(rows), name="quantity"))

    def to_dict(self) -> dict:
        """The CLI's JSON (``within --json``)."""
        return {"outcome": self.outcome, "by": self.by, "level": self.level, "reference": self.reference,
                "comparison": WITHIN_STUDY, "value_source": self.value_source, "k": self.k,
                "median_ratio": self.ratio, "hazard_ratio": self.hazard_ratio, "predictive": self.predictive,
                "tau": self.tau, f"p_{self.level}_shorter": self.p_shorter(),
                "priors": {k: str(v) for k, v in self.priors.items() if k in ("mu", "tau")},
                "studies": self.studies.to_dict(orient="records"), "notes": self.notes}

    def __str__(self) -> str:
        values = [(f"Median ratio {self.name} (mean over studies)", self.ratio),
                  ("Hazard ratio (exponential baseline)", self.hazard_ratio),
                  ("Predictive median ratio (new study)", self.predictive), ("tau", self.tau)]
        width = max(len(label) for label, _ in values) + 2
        lines = [f"Within-study contrast of {self.outcome} by {self.by}: {self.name} (k = {self.k}, "
                 f"{self.value_source}; exact normal-normal model)",
                 f"Priors: mu (log median ratio) ~ {self.priors['mu']}, tau ~ {self.priors['tau']}", "",
                 *(f"{label + ':':<{width}}{interval(s)}" for label, s in values),
                 f"P(median {self.level} < median {self.reference}) = {self.p_shorter():.3f}  (exact)"]
        return text_block(["\n".join(lines), "Studies: observed and shrunken median ratio", frame_text(self.studies)],
                          self.notes)

    def __repr__(self) -> str:
        return f"<WithinFit {self.outcome} by {self.by}: {self.name}, k={self.k}>"

    def _repr_html_(self) -> str:
        return fit_html(str(self), self.summary())
