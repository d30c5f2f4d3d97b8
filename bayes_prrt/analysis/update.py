"""Updating a meta-analysis with new studies: the pooled results before and after, side by side.

For each outcome of the new file, ``update`` pools the base rows (a value policy of the embedded
data, or a user's CSV) and the base rows plus the new ones: frequentist random effects (``pool``,
default measure, DL) and the exact Bayesian posterior (``bayes_pool``, quadrature, default or given
priors; same seed, same numbers). The statements say how far the pooled value moved, whether each
new study lies inside the earlier 95% prediction interval (a check of consistency: the interval
is for a new study's true value, before its own sampling error), and, for probability statements
such as ``> 0.30`` (``bayes.statements``), their posterior probability before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..bayes.fit import bayes_pool
from ..bayes.statements import probability
from ..data.dataset import Dataset
from ..effects import default_measure
from ..errors import AnalysisError, DataError
from ..freq.pool import pool


@dataclass
class OutcomeUpdate:
    outcome: str
    kind: str
    added: list[str]
    observed: dict[str, float]  # the new studies' own values (events/n or median)
    before: dict
    after: dict
    probabilities: list[dict] = field(default_factory=list)


@dataclass
class Update:
    outcomes: list[OutcomeUpdate]
    values: str
    statements: list[dict]

    def to_dict(self) -> dict:
        return {"values": self.values,
                "before": {u.outcome: u.before for u in self.outcomes},
                "after": {u.outcome: u.after for u in self.outcomes},
                "added": {u.outcome: u.added for u in self.outcomes},
                "statements": self.statements}


def _summary(rows: pd.DataFrame, priors: dict | None):
    freq = pool(rows, default_measure(rows))
    bayes = bayes_pool(rows, priors=priors, engine="quadrature")
    out = {"k": bayes.k, "studies": bayes.studies["study"].tolist(),
           "freq": {"measure": freq.measure, "estimate": freq.estimate, "ci_low": freq.ci_low, "ci_high": freq.ci_high,
                    "tau2": freq.tau2, "I2": freq.I2},
           "bayes": {"median": bayes.pooled["median"], "ci_low": bayes.pooled["ci_low"],
                     "ci_high": bayes.pooled["ci_high"], "pi_low": bayes.predictive["ci_low"],
                     "pi_high": bayes.predictive["ci_high"], "tau": bayes.tau["median"], "priors": bayes.priors}}
    return out, bayes


def _observed(rows: pd.DataFrame) -> dict[str, float]:
    if rows["kind"].iloc[0] == "binary":
        return {str(r.study): r.events / r.n for r in rows.itertuples()}
    return {str(r.study): float(r.median) for r in rows.itertuples()}


def _new_rows(base_rows: pd.DataFrame, added: Dataset, outcome: str) -> pd.DataFrame:
    new = added.select(outcome)
    frame = added.outcomes
    for study in new["study"]:
        if study in set(base_rows["study"]):
            index = frame.index[(frame["outcome"] == outcome) & (frame["study"] == study)][0]
            raise DataError(added.source, f"{outcome} of this study is already in the base data", row=index + 2,
                            study=study, column="study")
    if new["kind"].iloc[0] != base_rows["kind"].iloc[0]:
        raise AnalysisError(f"{outcome} is {base_rows['kind'].iloc[0]} in the base data but {new['kind'].iloc[0]} "
                            f"in {added.source}")
    return new


def _statements(u: OutcomeUpdate) -> list[dict]:
    b, a = u.before["bayes"], u.after["bayes"]
    out = [{"outcome": u.outcome, "kind": "shift", "before": b["median"], "after": a["median"],
            "text": f"{u.outcome}: pooled {b['median']:.4g} ({b['ci_low']:.4g}-{b['ci_high']:.4g}) with "
                    f"{u.before['k']} studies, {a['median']:.4g} ({a['ci_low']:.4g}-{a['ci_high']:.4g}) with "
                    f"{', '.join(u.added)} added"}]
    for study, value in u.observed.items():
        inside = b["pi_low"] <= value <= b["pi_high"]
        out.append({"outcome": u.outcome, "kind": "consistency", "study": study, "observed": value,
                    "inside_prediction_interval": inside,
                    "text": f"{u.outcome}: {study} ({value:.4g}) lies {'inside' if inside else 'OUTSIDE'} the 95% "
                            f"prediction interval of the earlier studies ({b['pi_low']:.4g}-{b['pi_high']:.4g})"})
    for p in u.probabilities:
        out.append({"outcome": u.outcome, "kind": "probability", **p,
                    "text": f"{u.outcome}: P({p['statement']}) {p['before']:.3f} before, {p['after']:.3f} after"})
    return out


def update(base: Dataset, added: Dataset, outcomes: list[str] | None = None, values: str = "published",
           statements: list[str] | None = None, priors: dict[str, str] | None = None) -> Update:
    """Before/after pooled results for each outcome (default: every outcome of ``added``)."""
    results = []
    for outcome in outcomes or added.outcome_names():
        base_rows = base.select(outcome, values)
        new = _new_rows(base_rows, added, outcome)
        before, fit_before = _summary(base_rows, priors)
        after, fit_after = _summary(pd.concat([base_rows, new], ignore_index=True), priors)
        probs = [{"statement": s, "before": probability(fit_before, s)["probability"],
                  "after": probability(fit_after, s)["probability"]} for s in statements or []]
        results.append(OutcomeUpdate(outcome, str(base_rows["kind"].iloc[0]), new["study"].astype(str).tolist(),
                                     _observed(new), before, after, probs))
    return Update(results, values, [s for u in results for s in _statements(u)])
