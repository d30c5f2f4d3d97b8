"""Pre-specified data scenarios: which studies and which figures an analysis uses.

published  Wang 2026 Table 2 figures (primary figures where Table 2 has none: PFS, OS)
corrected  primary-study figures where they differ from Table 2 (denominators, counts)
strict     'corrected' without the studies outside the stated inclusion criteria
           (another ligand, retreatment, combined therapy, criteria other than RECIST/WHO)
living     'corrected' plus studies published after the meta-analysis (Lazarenko 2026)
recist     'corrected' restricted to studies that assessed response by RECIST
"""

from __future__ import annotations

import pandas as pd

from ..data.audit import inclusion_violations
from ..data.dataset import Dataset

SCENARIOS = {
    "published": "Wang 2026 Table 2 figures (primary figures for PFS and OS)",
    "corrected": "primary-study figures where they differ from Table 2",
    "strict": "inclusion criteria applied strictly (DOTATATE monotherapy, no retreatment, RECIST/WHO)",
    "living": "corrected, plus studies published after the meta-analysis",
    "recist": "corrected, RECIST-assessed studies only",
}


def scenario_rows(data: Dataset, outcome: str, scenario: str) -> tuple[pd.DataFrame, list[str]]:
    """Rows of ``outcome`` under ``scenario``, and notes naming the studies dropped."""
    if scenario in ("published", "corrected", "living"):
        return data.select(outcome, scenario), []
    rows = data.select(outcome, "corrected")
    studies = data.studies.set_index("study")
    if scenario == "strict":
        drop = [s for s in rows["study"] if inclusion_violations(studies.loc[s].rename(s))]
    elif scenario == "recist":
        drop = [s for s in rows["study"] if "RECIST" not in str(studies.loc[s, "response_criteria"])]
    else:
        raise KeyError(scenario)
    notes = [f"{scenario}: dropped {', '.join(drop)}"] if drop else []
    return rows[~rows["study"].isin(drop)].reset_index(drop=True), notes
