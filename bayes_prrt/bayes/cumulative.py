"""Bayesian cumulative meta-analysis: the posterior after each study, in a column's order.

Studies sorted as ``data.order`` does (stable, default publication year); step k is the exact
posterior (``bayes_pool``, quadrature) of the first k studies: median and 95% equal-tailed
interval of the pooled value and of tau. The sequence starts at k = 2: the model pools, and a
single study's posterior of tau would be its prior.
"""

from __future__ import annotations

import pandas as pd

from ..data.order import YEAR, Cumulative, poolable_sorted, step
from .fit import bayes_pool


def bayes_cumulative(rows: pd.DataFrame, order: str = YEAR, priors: dict[str, str] | None = None) -> Cumulative:
    measure = "PLO" if rows["kind"].iloc[0] == "binary" else "LOGMEDIAN"  # the model's scale
    ordered = poolable_sorted(rows, measure, order)
    steps, res = [], None
    for k in range(2, len(ordered) + 1):
        res = bayes_pool(ordered.iloc[:k].reset_index(drop=True), priors=priors, engine="quadrature")
        p, tau = res.pooled, res.tau
        steps.append(step(ordered.iloc[k - 1], k, p["median"], p["ci_low"], p["ci_high"],
                          tau=tau["median"], tau_ci_low=tau["ci_low"], tau_ci_high=tau["ci_high"]))
    priors_text = ", ".join(f"{name} ~ {text}" for name, text in res.priors.items() if name != "beta")
    return Cumulative(str(rows["outcome"].iloc[0]), "bayes", "bayes", order, steps,
                      notes=[f"first step: {ordered['study'].iloc[0]} and {ordered['study'].iloc[1]} pooled; "
                             f"priors {priors_text}"])
