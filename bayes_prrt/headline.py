"""The headline table of an analysis: each outcome of the spec pooled, beside the published value."""

from __future__ import annotations

import pandas as pd

from .dataset import Dataset
from .freq.pool import pool
from .spec import Spec


def frequentist_headline(data: Dataset, spec: Spec) -> pd.DataFrame:
    rows = []
    for outcome in spec.outcomes:
        selected = data.select(outcome, spec.values)
        binary = selected["kind"].iloc[0] == "binary"
        measure = spec.measure_binary if binary else spec.measure_median
        res = pool(selected, measure, spec.tau2, spec.hksj)
        published = None
        if data.published is not None:
            match = data.published[(data.published["outcome"] == outcome)
                                   & (data.published["statistic"] == "pooled") & data.published["subgroup"].isna()]
            if not match.empty:
                m = match.iloc[0]
                published = f"{m.estimate:g} ({m.ci_low:g}-{m.ci_high:g})"
        rows.append({"outcome": outcome, "measure": measure, "tau2_method": res.tau2_method, "k": res.k,
                     "estimate": res.estimate, "ci_low": res.ci_low, "ci_high": res.ci_high,
                     "pi_low": res.pi_low, "pi_high": res.pi_high, "tau2": res.tau2, "I2": res.I2,
                     "published": published, "notes": "; ".join(res.notes)})
    return pd.DataFrame(rows)
