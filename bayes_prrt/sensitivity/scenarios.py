"""Pre-specified data scenarios: which studies and which figures an analysis uses.

published       Wang 2026 Table 2 figures (primary figures where Table 2 has none: PFS, OS)
corrected       the audit's corrections: per study its corrected figure, else the primary figure, else
                Table 2, without the figures exclusions.csv names (see ``Dataset.select``)
strict          'corrected' without the studies outside the stated inclusion criteria
                (another ligand, retreatment, combined therapy, criteria other than RECIST/WHO)
living          'corrected' plus studies published after the meta-analysis (Lazarenko 2026)
recist          'corrected' restricted to studies that assessed response by RECIST
later           'corrected' with figures from later publications first (value source 'later')
one_per_cohort  'corrected' with one study per group of studies recorded as overlapping
                (``overlaps_with``): the one with most patients in the analysed row, on a tie the
                more recent primary publication
Rule scenarios (the published figures, medians entered by another rule; proportions as 'published'):
symmetric_ci    the rules before the split-normal likelihood: one symmetric SE from the CI, the lower
                half mirrored when U is not estimable (median_likelihood "normal"), no median without a CI
se_from_n       a median without a CI enters with SE c/sqrt(n) (median_se "ci+n"), the analysis' likelihood

``scenario_shift_table`` shows how each outcome's pooled value moves from 'published' to another
scenario, and which audit findings moved it.
"""

from __future__ import annotations

import pandas as pd

from ..data.audit import audit, inclusion_violations
from ..data.dataset import Dataset
from ..data.rules.base import text
from ..errors import AnalysisError
from ..freq.pool import pool

SCENARIOS = {
    "published": "Wang 2026 Table 2 figures (primary figures for PFS and OS)",
    "corrected": "the audit's corrections applied (corrected or primary figures, exclusions left out)",
    "strict": "inclusion criteria applied strictly (DOTATATE monotherapy, no retreatment, RECIST/WHO)",
    "living": "corrected, plus studies published after the meta-analysis",
    "recist": "corrected, RECIST-assessed studies only",
    "later": "corrected, with figures from later publications of the same studies first",
    "one_per_cohort": "corrected, one study per overlapping cohort (most patients, then the more recent)",
    "symmetric_ci": "published, medians by the previous rules (one symmetric SE, a lower bound's half mirrored)",
    "se_from_n": "published, a median without a CI given SE c/sqrt(n) from its n",
}
RULE_SCENARIOS = {"symmetric_ci": {"median_se": "ci", "median_likelihood": "normal"},
                  "se_from_n": {"median_se": "ci+n"}}  # the rules for medians a scenario sets
SHIFT_MEASURES = {"binary": "PFT", "median": "LOGMEDIAN"}
SCENARIO_RULES = {"strict": "inclusion", "one_per_cohort": "overlap"}  # the audit rule behind a scenario's drops


def cohort_groups(studies: pd.DataFrame) -> list[set[str]]:
    """Groups of study ids linked by ``overlaps_with`` (connected components; ids in the table only)."""
    ids = set(studies["study"])
    groups: list[set[str]] = []
    for s in studies.itertuples():
        linked = {s.study} | {t.strip() for t in text(getattr(s, "overlaps_with", None)).split(";")} & ids
        touching = [g for g in groups if g & linked]
        merged = linked.union(*touching)
        groups = [g for g in groups if not g & linked] + [merged]
    return [g for g in groups if len(g) > 1]


def one_per_cohort(rows: pd.DataFrame, studies: pd.DataFrame) -> list[str]:
    """Studies to drop so that each overlapping group keeps one: most patients, then the latest primary_year."""
    year = pd.to_numeric(studies.set_index("study")["primary_year"], errors="coerce")
    present = rows.set_index("study")
    drop = []
    for group in cohort_groups(studies):
        members = [s for s in group if s in present.index]
        if len(members) > 1:
            keep = max(members, key=lambda s: (float(present.loc[s, "n"]) if pd.notna(present.loc[s, "n"]) else -1,
                                               year.get(s, 0), s))
            drop += sorted(set(members) - {keep})
    return drop


def scenario_rows(data: Dataset, outcome: str, scenario: str) -> tuple[pd.DataFrame, list[str]]:
    """Rows of ``outcome`` under ``scenario``, and notes naming the studies dropped."""
    if scenario in ("published", "corrected", "living", "later"):
        return data.select(outcome, scenario), []
    if scenario in RULE_SCENARIOS:  # the published figures; the rules are ``RULE_SCENARIOS[scenario]``
        return data.select(outcome, "published"), []
    rows = data.select(outcome, "corrected")
    studies = data.studies.set_index("study")
    if scenario == "strict":
        drop = [s for s in rows["study"] if inclusion_violations(studies.loc[s].rename(s))]
    elif scenario == "recist":
        drop = [s for s in rows["study"] if "RECIST" not in str(studies.loc[s, "response_criteria"])]
    elif scenario == "one_per_cohort":
        drop = one_per_cohort(rows, data.studies)
    else:
        raise KeyError(scenario)
    notes = [f"{scenario}: dropped {', '.join(drop)}"] if drop else []
    return rows[~rows["study"].isin(drop)].reset_index(drop=True), notes


def _figure(row) -> str:
    if row["kind"] == "binary":
        return f"{int(row['events'])}/{int(row['n'])}"
    return f"{row['median']:g}" + ("" if pd.notna(row["ci_low"]) else " (no CI)")


def _changes(before: pd.DataFrame, after: pd.DataFrame, rules: dict, outcome: str,
             study_rule: str | None) -> list[str]:
    """'study: from -> to (rules)' for each study whose figure differs between the two row sets; a study
    left out also lists the findings of the study-level rule the scenario applies (``study_rule``)."""
    a, b = before.set_index("study"), after.set_index("study")
    out = []
    for study in list(dict.fromkeys([*a.index, *b.index])):
        x = _figure(a.loc[study]) if study in a.index else "absent"
        y = _figure(b.loc[study]) if study in b.index else "left out"
        if x != y:
            why = list(rules.get((study, outcome, a.loc[study, "value_source"] if study in a.index else ""), []))
            if study not in b.index and study_rule:  # left out by the scenario's own study-level rule
                why += [r for r in rules.get((study, "", ""), []) if r.startswith(study_rule + " ")]
            out.append(f"{study}: {x} -> {y}" + (f" ({', '.join(why)})" if why else ""))
    return out


def scenario_shift_table(data: Dataset, to: str = "corrected", tau2_method: str = "DL") -> pd.DataFrame:
    """Per outcome: the pooled value under 'published' and under ``to`` (PFT for proportions,
    LOGMEDIAN for medians, ``tau2_method`` random effects), the shift, and the studies whose figure
    changed with the audit rules that flagged the published figure."""
    rules: dict[tuple[str, str, str], list[str]] = {}  # (study, outcome, value source); study-level: outcome ''
    for f in audit(data):
        if f.severity in ("error", "warning") and (f.value_source or f.outcome == "(study)"):
            key = (f.study, f.outcome, f.value_source) if f.value_source else (f.study, "", "")
            names = rules.setdefault(key, [])
            if f"{f.check} {f.severity}" not in names:
                names.append(f"{f.check} {f.severity}")
    out = []
    for outcome in ("DCR", "ORR", "PFS", "OS"):
        if outcome not in data.outcome_names():
            continue
        before, _ = scenario_rows(data, outcome, "published")
        after, _ = scenario_rows(data, outcome, to)
        measure = SHIFT_MEASURES[before["kind"].iloc[0]]
        p = pool(before, measure, tau2_method)
        try:
            c, note = pool(after, measure, tau2_method, **RULE_SCENARIOS.get(to, {})), ""
        except AnalysisError as err:  # too few poolable studies under the scenario
            c, note = None, f"not poolable: {err}"
        estimate = c.estimate if c else float("nan")
        out.append({"outcome": outcome, "measure": measure, "published": p.estimate, "published_k": p.k,
                    to: estimate, f"{to}_k": c.k if c else len(after), "shift": estimate - p.estimate,
                    "changes": "; ".join(_changes(before, after, rules, outcome, SCENARIO_RULES.get(to))),
                    "note": note})
    return pd.DataFrame(out)
