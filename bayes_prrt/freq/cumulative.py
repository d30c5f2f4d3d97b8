"""Cumulative meta-analysis (Lau et al. 1992, N Engl J Med 327:248), as metafor's ``cumul``.

Studies sorted by a column (``data.order``: stable, default publication year); step i pools the
first i with ``pool`` and the chosen tau2 estimator, back-transformed as ``pool`` does (PFT at
the harmonic mean of the n of those i studies). Step 1 is the first study's own effect with its
Wald CI (tau2 = 0), as in metafor.
"""

from __future__ import annotations

import pandas as pd

from ..data.order import YEAR, Cumulative, poolable_sorted, step
from ..effects import default_measure
from .pool import pool


def cumulative(rows: pd.DataFrame, measure: str | None = None, tau2_method: str = "DL", order: str = YEAR,
               hksj: bool = False) -> Cumulative:
    """Frequentist cumulative meta-analysis of one outcome's rows."""
    measure = (measure or default_measure(rows)).upper()
    ordered = poolable_sorted(rows, measure, order)
    steps = []
    for k in range(1, len(ordered) + 1):
        res = pool(ordered.iloc[:k], measure, tau2_method, hksj, min_k=1)
        steps.append(step(ordered.iloc[k - 1], k, res.estimate, res.ci_low, res.ci_high,
                          estimate_t=res.estimate_t, se_t=res.se_t, tau2=res.tau2, I2=res.I2, Q=res.Q))
    return Cumulative(str(rows["outcome"].iloc[0]), "freq", measure, order, steps)
