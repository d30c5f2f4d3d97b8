"""Data-quality audit of the evidence base.

Five checks, each a pure function of the dataset returning :class:`Finding` objects:

* ``grim``: a printed proportion that no integer count over n can produce at the printed
  precision (GRIM test, Brown & Heathers 2017, Soc Psychol Personal Sci 8:363);
* ``totals``: a published patient or study total that differs from the sum of the
  meta-analysis's own Table 2;
* ``range``: a published pooled estimate outside the stated range of its inputs, or
  outside its own CI (a random-effects mean lies inside the range of the study values);
* ``disagreement``: Table 2 and the primary study report different n or proportions;
* ``inclusion``: a study outside the meta-analysis's stated inclusion criteria.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from .dataset import Dataset

PROPORTION_TOLERANCE = 0.005  # Table 2 vs primary proportions closer than this are not flagged
ALLOWED_CRITERIA = ("RECIST", "WHO")


@dataclass(frozen=True)
class Finding:
    check: str
    study: str
    outcome: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def grim_consistent(reported: str, n: int) -> bool:
    """True when some integer k in 0..n gives k/n that rounds to ``reported``.

    The precision is the number of printed decimals: '0.929' is any value in
    [0.9285, 0.9295]. Both ends are included so that either rounding rule passes.
    """
    decimals = len(reported.split(".")[1]) if "." in reported else 0
    p, half = float(reported), 0.5 * 10.0 ** (-decimals)
    low, high = max(0.0, p - half) * n, min(1.0, p + half) * n
    return math.ceil(low - 1e-9) <= math.floor(high + 1e-9)


def check_grim(data: Dataset) -> list[Finding]:
    rows = data.outcomes.dropna(subset=["reported", "n"])
    return [
        Finding("grim", r.study, r.outcome,
                f"{getattr(r, 'value_source', 'reported')} proportion {r.reported} is impossible with n = {r.n} "
                f"(no whole count k gives k/{r.n} = {r.reported}); the proportion was probably "
                f"computed over another denominator")
        for r in rows.itertuples()
        if not grim_consistent(str(r.reported), int(r.n))
    ]


def check_totals(data: Dataset) -> list[Finding]:
    found = []
    overall = data.published[(data.published["statistic"] == "pooled") & data.published["subgroup"].isna()]
    table2 = data.outcomes[data.outcomes["value_source"] == "meta_table2"]
    for r in overall.itertuples():
        rows = table2[table2["outcome"] == r.outcome]
        if rows.empty:
            continue
        if pd.notna(r.n_patients) and int(r.n_patients) != int(rows["n"].sum()):
            found.append(Finding("totals", "(all)", r.outcome,
                                 f"text reports {int(r.n_patients)} patients but Table 2 Ns of the "
                                 f"{len(rows)} studies sum to {int(rows['n'].sum())}"))
        if pd.notna(r.k) and int(r.k) != len(rows):
            found.append(Finding("totals", "(all)", r.outcome,
                                 f"text reports {int(r.k)} studies but Table 2 has {len(rows)}"))
    return found


def check_range(data: Dataset) -> list[Finding]:
    found = []
    for r in data.published.itertuples():
        label = r.result if pd.isna(r.subgroup) else f"{r.result} ({r.subgroup_by} {r.subgroup})"
        if pd.notna(r.range_low) and not r.range_low <= r.estimate <= r.range_high:
            found.append(Finding("range", "(pooled)", r.outcome,
                                 f"published {label} = {r.estimate:g} lies outside the stated range of "
                                 f"its study values, {r.range_low:g}-{r.range_high:g}; a pooled "
                                 f"estimate cannot"))
        if pd.notna(r.ci_low) and not r.ci_low <= r.estimate <= r.ci_high:
            found.append(Finding("range", "(pooled)", r.outcome,
                                 f"published {label} = {r.estimate:g} lies outside its own CI "
                                 f"{r.ci_low:g}-{r.ci_high:g}"))
    return found


def check_disagreement(data: Dataset) -> list[Finding]:
    found = []
    rows = data.outcomes
    if set(rows["value_source"]) < {"meta_table2", "primary"}:
        return found  # one source only: nothing to compare
    both = rows.pivot_table(index=["study", "outcome"], columns="value_source",
                            values=["events", "n"], aggfunc="first").dropna()
    for (study, outcome), r in both.iterrows():
        n_t, n_p = int(r[("n", "meta_table2")]), int(r[("n", "primary")])
        p_t, p_p = r[("events", "meta_table2")] / n_t, r[("events", "primary")] / n_p
        parts = []
        if n_t != n_p:
            parts.append(f"n {n_t} (Table 2) vs {n_p} (primary)")
        if abs(p_t - p_p) > PROPORTION_TOLERANCE:
            parts.append(f"proportion {p_t:.3f} (Table 2) vs {p_p:.3f} (primary)")
        if parts:
            found.append(Finding("disagreement", study, outcome, "; ".join(parts)))
    return found


def inclusion_violations(study) -> list[str]:
    """Why a study (a row of studies.csv) falls outside Wang 2026's stated inclusion criteria."""
    reasons = []
    if study.drug != "DOTATATE":
        reasons.append(f"drug is {study.drug}, not 177Lu-DOTATATE monotherapy")
    if study.setting in ("retreatment", "combined therapy"):
        reasons.append(f"setting is {study.setting}")
    if not any(c in str(study.response_criteria) for c in ALLOWED_CRITERIA):
        reasons.append(f"response criteria are '{study.response_criteria}', not RECIST or WHO")
    return reasons


def check_inclusion(data: Dataset) -> list[Finding]:
    studies = data.studies[data.studies["in_meta"].str.lower() == "true"]
    return [Finding("inclusion", r.study, "(study)", "outside the stated inclusion criteria: " + "; ".join(reasons))
            for r in studies.itertuples() if (reasons := inclusion_violations(r))]


CHECKS = {
    "grim": check_grim,
    "totals": check_totals,
    "range": check_range,
    "disagreement": check_disagreement,
    "inclusion": check_inclusion,
}
EMBEDDED_ONLY = ("totals", "range", "disagreement", "inclusion")


def audit_record(data: Dataset, findings: list[Finding]) -> dict:
    """The audit as the CLI's JSON: source, data hash, counts by check and the findings."""
    counts = pd.Series([f.check for f in findings], dtype=str).value_counts().to_dict()
    return {"source": data.source, "sha256": data.sha256, "counts": counts, "findings": [f.to_dict() for f in findings]}


def audit(data: Dataset) -> list[Finding]:
    """Run every check that applies to ``data`` (all five on the embedded dataset)."""
    names = CHECKS if data.embedded else [c for c in CHECKS if c not in EMBEDDED_ONLY]
    if "reported" not in data.outcomes.columns:
        names = [c for c in names if c != "grim"]
    return [f for name in names for f in CHECKS[name](data)]
