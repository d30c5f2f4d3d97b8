"""Data-quality audit of the evidence base: named rules (``rules/``) and the corrections they lead to.

``run_audit(data)`` runs every rule whose inputs the dataset has and lists the others as skipped;
each finding carries its rule, severity and, where the ``corrected`` policy replaces or leaves out
the figure, the value it uses instead (with its source) or the reason for the exclusion.
``audit(data)`` is the list of findings alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from ..errors import AnalysisError
from .dataset import Dataset
from .rules import RULES, Finding, grim_consistent, inclusion_violations  # noqa: F401 (re-exported)
from .rules.base import printed, text


@dataclass
class AuditResult:
    findings: list[Finding]
    skipped: list[dict]  # {"rule", "reason"} for each rule the data lacks the inputs of

    def counts(self) -> dict[str, int]:
        return pd.Series([f.check for f in self.findings], dtype=str).value_counts().to_dict()


def _shown(row) -> str:
    if row.kind == "binary":
        return f"{int(row.events)}/{int(row.n)} ({printed(row)})"
    ci = f" ({row.ci_low:g}-{'NE' if pd.isna(row.ci_high) else f'{row.ci_high:g}'})" if pd.notna(row.ci_low) else ""
    return f"{row.median:g}{ci}"


def _with_correction(finding: Finding, corrected: dict, exclusions: dict) -> Finding:
    """Attach what the corrected policy uses for the finding's row: another figure or an exclusion.
    ``corrected``: (outcome, study) -> the row that policy uses; ``exclusions``: (study, outcome,
    value source) -> its first row of exclusions.csv."""
    if finding.corrected_value is not None or finding.exclusion is not None or not finding.value_source:
        return finding
    if (hit := exclusions.get((finding.study, finding.outcome, finding.value_source))) is not None:
        return replace(finding, exclusion=f"{hit.reason} (rule {hit.rule})", source=hit.source)
    r = corrected.get((finding.outcome, finding.study))
    if r is None or r.value_source == finding.value_source:
        return finding
    return replace(finding, corrected_value=f"{_shown(r)}, {r.value_source}", source=text(r.source))


def _first_rows(frame: pd.DataFrame | None, key) -> dict:
    """The first row (a named tuple) of ``frame`` for each value of ``key(row)``; looked up per finding,
    this is much faster than filtering the frame each time."""
    out = {}
    for r in () if frame is None else frame.itertuples():
        out.setdefault(key(r), r)
    return out


def run_audit(data: Dataset) -> AuditResult:
    """Every rule that applies to ``data``; the rest listed as skipped with the reason."""
    findings, skipped = [], []
    for rule in RULES:
        reason = rule.needs(data)
        if reason:
            skipped.append({"rule": rule.name, "reason": reason})
        else:
            findings.extend(rule.run(data))
    if data.embedded:
        corrected = {}
        for outcome in data.outcome_names():
            try:
                corrected |= _first_rows(data.select(outcome, "corrected"), lambda r: (outcome, r.study))
            except AnalysisError:
                pass
        exclusions = _first_rows(data.exclusions, lambda r: (r.study, r.outcome, r.value_source))
        findings = [_with_correction(f, corrected, exclusions) for f in findings]
    return AuditResult(findings, skipped)


def audit_record(data: Dataset, result: AuditResult) -> dict:
    """The audit as the CLI's JSON: source, data hash, counts by check, the findings and the rules skipped."""
    return {"source": data.source, "sha256": data.sha256, "counts": result.counts(),
            "findings": [f.to_dict() for f in result.findings], "skipped": result.skipped}


def audit(data: Dataset) -> list[Finding]:
    """The findings of every rule that applies to ``data``."""
    return run_audit(data).findings
