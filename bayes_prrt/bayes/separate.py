"""Subgroups with a separate tau per level: ``bayes_pool(rows, by=..., separate_tau=True)``.

Each level j of ``by`` has its own mean and between-study SD, y_i ~ the outcome's likelihood with
theta_i ~ N(mu_j, tau_j^2) for the studies i of level j, and independent priors mu_j ~ the mu
prior, tau_j ~ the tau prior of the outcome's kind. The posterior factorises into one model
without covariates per level, each computed exactly (``exact.py``); the levels are independent a
posteriori, so P(mu_a > mu_b) = int F_b(x) dF_a(x), evaluated from the two exact CDFs on 2^14
points, and differences on the outcome's scale come from independent i.i.d. draws. This is the
Bayesian counterpart of the frequentist subgroups (a tau^2 per level, ``freq.pool.subgroups``). With
one study in a level, its tau is informed by its prior alone (the posterior differs from the
prior only through the prior on the mean) and its mean is that study's value widened by tau.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import logit

from .. import seeds
from ..design import known_covariates
from ..errors import AnalysisError
from ..formatting import fit_html, frame_text, text_block
from ..outcomes import UNITS
from ..priors import Prior
from .exact import exact_posterior
from .result import diagnostics_dict, exact_interval
from .summaries import summary, to_scale

DRAWS = 10_000  # i.i.d. draws per level, for the differences on the outcome's scale
GRID = 2**14  # points of the integral P(mu_a > mu_b)


def prob_greater(a, b) -> float:
    """P(X > Y) for independent X ~ a, Y ~ b (``marginal.Marginal``s): sum over cells of F_b(midpoint) dF_a."""
    lo = min(a.support()[0], b.support()[0])
    hi = max(a.support()[1], b.support()[1])
    x = np.linspace(lo, hi, GRID + 1)
    return float(np.clip(np.diff(a.cdf(x)) @ b.cdf((x[1:] + x[:-1]) / 2), 0.0, 1.0))


def separate_tau_pool(data, used: pd.DataFrame, by: str, priors: dict[str, Prior], notes: list[str],
                      seed: int) -> SeparateTauFit:
    """The separate-tau model of ``data`` (``fit.model_data``: y and scale of the rows ``used``)."""
    if by not in used.columns:
        raise AnalysisError(f"covariate column '{by}' does not exist")
    known, more = known_covariates(used, [by])
    levels = used[by].astype(str).where(known)
    names = sorted(levels.dropna().unique())
    if len(names) < 2:
        raise AnalysisError(f"'{by}' has {len(names)} level(s) with data; a subgroup comparison needs 2")
    fits, draws, notes = {}, {}, [*notes, *more]
    rng = seeds.rng(seed, "separate")
    for name in names:
        at = (levels == name).to_numpy()
        fits[name] = exact_posterior(data.kind, data.y[at], data.scale[at], np.zeros((int(at.sum()), 0)),
                                     {"mu": priors["mu"], "tau": priors["tau"]})
        draws[name] = fits[name].draws(DRAWS, rng)
        if at.sum() == 1:
            notes.append(f"{by} = {name} has one study ({used.loc[at, 'study'].iloc[0]}): its tau is informed by its "
                         f"prior ({priors['tau']}) alone, and its mean is that study's value widened by tau")
    rows = used[known].reset_index(drop=True)
    return SeparateTauFit(str(used["outcome"].iloc[0]), data.kind, by, rows, priors, fits, draws, notes)


@dataclass(eq=False)
class SeparateTauFit:
    """Levels of ``by``, each with its own mean and tau (module docstring); like a ``BayesFit`` by level."""

    outcome: str
    kind: str
    by: str
    rows: pd.DataFrame  # the studies with a known level
    priors: dict[str, Prior]
    exact: dict[str, object]  # level -> exact.ExactPosterior of its own model
    draws: dict[str, dict[str, np.ndarray]]  # level -> i.i.d. draws of mu, tau
    notes: list[str] = field(default_factory=list)
    values: str | None = None  # the value-source policy the rows were selected with
    data_sha256: str | None = None
    engine: str = "quadrature"
    converged: bool = True  # exact: no MCMC
    overall = None  # no model without covariates inside
    diagnostics = None

    @property
    def k(self) -> int:
        return len(self.rows)

    @property
    def level_names(self) -> list[str]:
        return list(self.exact)

    def quantity(self, name: str) -> np.ndarray:
        """Draws (1, draws) of a level's value on the outcome's scale."""
        if name not in self.exact:
            raise AnalysisError(f"'{name}' is not a level of {self.by} ({', '.join(self.level_names)}); the "
                                f"separate-tau model has levels only, no pooled value")
        return to_scale(self.kind, self.draws[name]["mu"])[None]

    @property
    def levels(self) -> dict[str, dict]:
        counts = self.rows[self.by].astype(str).value_counts()
        return {name: {"k": int(counts[name]), **summary(self.quantity(name)), **exact_interval(e.mu, True),
                       "tau": summary(self.draws[name]["tau"]) | exact_interval(e.tau, False),
                       "pi": exact_interval(e.predictive(), True)} for name, e in self.exact.items()}

    @property
    def contrasts(self) -> dict[str, dict]:
        return {f"{a} - {b}": {**summary(self.quantity(a) - self.quantity(b)),
                               "p_gt_0": prob_greater(self.exact[a].mu, self.exact[b].mu)}
                for a, b in itertools.combinations(self.level_names, 2)}

    def exact_prob(self, st) -> float | None:
        """P(statement) from the exact CDFs: a level against a number or against another level."""
        lhs, rhs = st.lhs, st.rhs
        if len(lhs) != 1 or lhs[0] not in self.exact or (not isinstance(rhs, float) and
                                                          (len(rhs) != 1 or rhs[0] not in self.exact)):
            return None
        mu = self.exact[lhs[0]].mu
        if not isinstance(rhs, float):
            above = prob_greater(mu, self.exact[rhs[0]].mu)
        elif self.kind == "binary" and not 0 < rhs < 1 or self.kind == "median" and rhs <= 0:
            above = 1.0 if rhs <= 0 else 0.0
        else:
            above = mu.prob_above(float(logit(rhs) if self.kind == "binary" else np.log(rhs)))
        return above if st.op in (">", ">=") else 1.0 - above

    def prob(self, statement: str) -> dict:
        """P(statement | data) (grammar: ``statements.py``; levels only)."""
        from .statements import probability

        return probability(self, statement)

    def summary(self) -> pd.DataFrame:
        """One row per level (value, its tau, a new study's value) and per contrast."""
        rows = {}
        for name, s in self.levels.items():
            rows |= {f"{self.by}: {name}": s, f"tau ({self.by} = {name})": s["tau"],
                     f"predictive ({self.by} = {name}, new study)": s["pi"]}
        rows |= {f"{self.by}: {c}": s for c, s in self.contrasts.items()}
        return pd.DataFrame([{k: s.get(k, np.nan) for k in ("median", "ci_low", "ci_high", "p_gt_0")}
                             | {"exact": bool(s.get("exact"))} for s in rows.values()],
                            index=pd.Index(list(rows), name="quantity"))

    def to_dict(self) -> dict:
        """The CLI's JSON (``pool --method bayes --by COLUMN --separate-tau --json``)."""
        return {"values": self.values, "data_sha256": self.data_sha256, "outcome": self.outcome, "method": "bayes",
                "engine": self.engine, "tau_model": "separate", "diagnostics": diagnostics_dict(None),
                "by": self.by, "k": self.k, "subgroups": self.levels, "contrasts": self.contrasts,
                "priors": {k: str(v) for k, v in self.priors.items() if k in ("mu", "tau")}, "converged": True,
                "studies": self.rows["study"].astype(str).tolist(), "notes": self.notes}

    def __str__(self) -> str:
        levels = pd.DataFrame([{"level": name, "k": s["k"], "median": s["median"], "ci_low": s["ci_low"],
                                "ci_high": s["ci_high"], "tau": s["tau"]["median"]} for name, s in self.levels.items()])
        contrasts = pd.DataFrame([{"contrast": c, "median": s["median"], "ci_low": s["ci_low"],
                                   "ci_high": s["ci_high"], "P(>0)": s["p_gt_0"]} for c, s in self.contrasts.items()])
        head = [f"Bayesian subgroups by {self.by}, a separate tau per level (k = {self.k}; exact)   outcome "
                f"{self.outcome} ({UNITS[self.kind]})",
                f"Priors per level: mu ~ {self.priors['mu']}, tau ~ {self.priors['tau']}"]
        return text_block(["\n".join(head), frame_text(levels), "Contrasts", frame_text(contrasts)], self.notes)

    def __repr__(self) -> str:
        return f"<SeparateTauFit {self.outcome} by {self.by}: k={self.k}, levels={self.level_names}>"

    def _repr_html_(self) -> str:
        return fit_html(str(self), self.summary())
