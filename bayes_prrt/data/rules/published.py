"""Rules on the published pooled results (published_pooled.csv): figures that cannot be right."""

from __future__ import annotations

import pandas as pd

from ..dataset import Dataset
from .base import Finding

NOT_AN_INPUT = "a published result, not a study figure: the corrected analysis recomputes it from the study rows"
LOO = ("leave_one_out_min", "leave_one_out_max", "leave_one_out_typical")


def _label(r) -> str:
    return r.result if pd.isna(r.subgroup) else f"{r.result} ({r.subgroup_by} {r.subgroup})"


def _overall(data: Dataset) -> pd.DataFrame:
    p = data.published
    return p[(p["statistic"] == "pooled") & p["subgroup"].isna()]


def check_totals(data: Dataset) -> list[Finding]:
    """A published patient or study total that differs from the sum of the meta-analysis's own Table 2:
    the text and the table cannot both describe the analysis."""
    found = []
    table2 = data.outcomes[data.outcomes.get("value_source", pd.Series(dtype=str)) == "meta_table2"]
    table2 = table2[["outcome", "n"]]  # the columns used: filtering a narrow frame is much faster
    for r in _overall(data).itertuples():
        rows = table2[table2["outcome"] == r.outcome]
        if rows.empty:
            continue
        total = int(rows["n"].sum())
        if pd.notna(r.n_patients) and int(r.n_patients) != total:
            found.append(Finding("totals", "(all)", r.outcome,
                                 f"text reports {int(r.n_patients)} patients but Table 2 Ns of the "
                                 f"{len(rows)} studies sum to {total}", "error",
                                 corrected_value=str(total), source="Wang 2026 Table 2"))
        if pd.notna(r.k) and int(r.k) != len(rows):
            found.append(Finding("totals", "(all)", r.outcome,
                                 f"text reports {int(r.k)} studies but Table 2 has {len(rows)}", "error",
                                 corrected_value=str(len(rows)), source="Wang 2026 Table 2"))
    return found


def check_range(data: Dataset) -> list[Finding]:
    """A published pooled estimate outside the stated range of its study values, or outside its own CI:
    a random-effects mean is a weighted average of the study values and lies inside their range."""
    found = []
    for r in data.published.itertuples():
        if pd.notna(r.range_low) and not r.range_low <= r.estimate <= r.range_high:
            found.append(Finding("range", "(pooled)", r.outcome,
                                 f"published {_label(r)} = {r.estimate:g} lies outside the stated range of "
                                 f"its study values, {r.range_low:g}-{r.range_high:g}; a pooled "
                                 f"estimate cannot", "error", exclusion=NOT_AN_INPUT))
        if pd.notna(r.ci_low) and not r.ci_low <= r.estimate <= r.ci_high:
            found.append(Finding("range", "(pooled)", r.outcome,
                                 f"published {_label(r)} = {r.estimate:g} lies outside its own CI "
                                 f"{r.ci_low:g}-{r.ci_high:g}", "error", exclusion=NOT_AN_INPUT))
    return found


def check_loo_side(data: Dataset) -> list[Finding]:
    """Leave-one-out results all on one side of the full estimate. The common-effect estimate is a
    weighted mean of its leave-one-out estimates (weights W - w_i), so they cannot all lie on one side;
    with tau^2 re-estimated each time this holds only approximately, hence a warning."""
    found = []
    p = data.published[["outcome", "statistic", "subgroup", "estimate"]]  # the columns used (faster filters)
    for r in _overall(data).itertuples():
        loo = p[(p["outcome"] == r.outcome) & p["statistic"].isin(LOO) & p["subgroup"].isna()]
        if loo.empty or not ((loo["estimate"] < r.estimate).all() or (loo["estimate"] > r.estimate).all()):
            continue
        values = ", ".join(f"{v:g} ({s.removeprefix('leave_one_out_')})"
                           for v, s in zip(loo["estimate"], loo["statistic"]))
        found.append(Finding("loo_side", "(pooled)", r.outcome,
                             f"every published leave-one-out value ({values}) lies on the same side of the "
                             f"full estimate {r.estimate:g}; omitting each study in turn cannot move the "
                             f"estimate the same way every time", "warning", exclusion=NOT_AN_INPUT))
    return found


def check_subgroup_total(data: Dataset) -> list[Finding]:
    """A subgroup figure that exceeds its total: published subgroup studies or patients summed over a
    subgroup's levels above the overall result's, or (denominators.csv) a subgroup larger than the
    group it is part of, or a partition whose parts sum above it."""
    found = []
    if data.published is not None:
        p = data.published
        overall = _overall(data).set_index("outcome")
        subs = p[(p["statistic"] == "pooled") & p["subgroup"].notna()]
        for (outcome, by), g in subs.groupby(["outcome", "subgroup_by"]):
            if outcome not in overall.index:
                continue
            for col, what in (("k", "studies"), ("n_patients", "patients")):
                total, parts = overall.loc[outcome, col], g[col].dropna()
                if pd.notna(total) and not parts.empty and parts.sum() > total:
                    found.append(Finding("subgroup_total", "(pooled)", outcome,
                                         f"{by} subgroups have {parts.sum():g} {what} in all, more than the "
                                         f"{total:g} of the overall result", "error", exclusion=NOT_AN_INPUT))
    if data.denominators is not None:
        found += _parts_above_whole(data.denominators)
    return found


def _parts_above_whole(dens: pd.DataFrame) -> list[Finding]:
    """denominators.csv: a group larger than the group it is part of, or a partition of it summing above it
    (plain tuples grouped in a dict, in the order of a sorted groupby: a frame per group is slow)."""
    found, sizes, wholes = [], {}, {}
    for d in dens[["study", "group", "n", "part_of", "partition"]].itertuples(index=False):
        sizes.setdefault((d.study, d.group), d.n)
        if pd.notna(d.part_of):
            wholes.setdefault((d.study, d.part_of), []).append(d)
    for (study, whole), parts in sorted(wholes.items()):
        if (size := sizes.get((study, whole))) is None:
            continue
        for part in (p for p in parts if p.n > size):
            found.append(Finding("subgroup_total", study, "(study)",
                                 f"{part.group} ({part.n}) is larger than {whole} ({size}) it is part of", "error"))
        partitions = {}
        for part in (p for p in parts if pd.notna(p.partition)):
            partitions.setdefault(part.partition, []).append(part.n)
        for partition, ns in sorted(partitions.items()):
            if sum(ns) > size:
                found.append(Finding("subgroup_total", study, "(study)",
                                     f"the {partition} groups sum to {sum(ns)}, more than {whole} ({size})", "error"))
    return found


def check_input_range(data: Dataset) -> list[Finding]:
    """A study value of the published analysis outside the range the paper states for its inputs:
    the paper cannot have used that figure (it used another one, or the range is wrong)."""
    found = []
    for r in _overall(data).dropna(subset=["range_low"]).itertuples():
        try:
            rows = data.select(r.outcome, "published")
        except ValueError:
            continue
        shown = pd.to_numeric(rows["reported"], errors="coerce") if "reported" in rows.columns else None
        ratio = rows["events"].astype(float) / rows["n"].astype(float)
        values = ratio.where(rows["kind"] == "binary", rows["median"])
        values = values if shown is None else shown.fillna(values)  # as printed, where printed
        for study, v, source in zip(rows["study"], values, rows["value_source"]):
            if pd.notna(v) and not r.range_low - 5e-4 <= v <= r.range_high + 5e-4:
                found.append(Finding("input_range", study, r.outcome,
                                     f"{source} {r.outcome} {v:.3g} lies outside the stated range of the "
                                     f"paper's study values, {r.range_low:g}-{r.range_high:g}: the paper used "
                                     f"another figure for this study", "warning", source))
    return found
