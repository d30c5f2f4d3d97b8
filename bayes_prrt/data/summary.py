"""Descriptive summary of a dataset: what there is to pool, per outcome and value source."""

from __future__ import annotations

import pandas as pd

from .dataset import Dataset


def dataset_summary(data: Dataset) -> pd.DataFrame:
    """One row per outcome x value source: studies, patients, and the range of values."""
    rows = data.outcomes.copy()
    if "value_source" not in rows.columns:
        rows["value_source"] = "file"
    rows["value"] = (rows["events"].astype(float) / rows["n"].astype(float)).where(
        rows["kind"] == "binary", rows["median"])
    out = []
    for (outcome, source), g in rows.groupby(["outcome", "value_source"], sort=False):
        kind = g["kind"].iloc[0]
        out.append({
            "outcome": outcome,
            "values": source,
            "kind": kind,
            "studies": len(g),
            "patients": int(g["n"].sum()) if g["n"].notna().any() else None,
            "min": g["value"].min(),
            "max": g["value"].max(),
            "with_ci": int(g["ci_low"].notna().sum()) if kind == "median" else None,
        })
    return pd.DataFrame(out)
