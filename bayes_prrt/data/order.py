"""Study order for cumulative analyses, and the container of their steps.

Studies are sorted by a column, ascending, with a stable sort (ties keep the input's order, as
R's ``order``). The default is the publication year: a ``year`` column when the rows have one,
else the year in the study label ("Partelli 2024 (NEOLUPANET)" -> 2024) or, without a label, at
the end of the study id ("partelli2024" -> 2024).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from ..effects import study_effects
from ..errors import AnalysisError

YEAR = "year"  # the default order of a cumulative analysis (the CLI states it as its --order default)
_YEAR_IN_LABEL = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_YEAR_AT_END = re.compile(r"((?:19|20)\d{2})$")


def publication_year(rows: pd.DataFrame) -> pd.Series:
    """The year of each study: from its label, else from the end of its study id."""
    labels = rows["label"] if "label" in rows.columns else pd.Series([None] * len(rows), index=rows.index)
    years = []
    for study, label in zip(rows["study"].astype(str), labels, strict=True):
        found = _YEAR_IN_LABEL.search(label) if isinstance(label, str) else None
        found = found or _YEAR_AT_END.search(study)
        if found is None:
            column = "label" if "label" in rows.columns else "study"
            raise AnalysisError(f"study '{study}', column '{column}': no publication year in its label or study id; "
                                f"add a '{YEAR}' column or order by another column (--order)")
        years.append(int(found.group(1)))
    return pd.Series(years, index=rows.index, name=YEAR)


def order_values(rows: pd.DataFrame, order: str = YEAR) -> pd.Series:
    """The values the studies are sorted by (numeric when the whole column is)."""
    if order not in rows.columns:
        if order == YEAR:
            return publication_year(rows)
        raise AnalysisError(f"order column '{order}' does not exist; available: "
                            f"{', '.join(c for c in rows.columns if c != 'kind')}")
    values = rows[order]
    if values.isna().any():
        study = rows.loc[values.isna(), "study"].iloc[0]
        raise AnalysisError(f"study '{study}', column '{order}': no value to order by")
    numeric = pd.to_numeric(values, errors="coerce")
    return numeric if numeric.notna().all() else values.astype(str)


def sort_studies(rows: pd.DataFrame, order: str = YEAR) -> pd.DataFrame:
    """Rows sorted ascending by ``order`` (stable), the sort key in column ``order_value``."""
    keyed = rows.assign(order_value=order_values(rows, order).to_numpy())
    return keyed.sort_values("order_value", kind="stable").reset_index(drop=True)


def poolable_sorted(rows: pd.DataFrame, measure: str, order: str = YEAR) -> pd.DataFrame:
    """The rows ``measure`` can pool (a median needs its CI), sorted; at least 2 of them."""
    _, used = study_effects(rows, measure)
    if len(used) < 2:
        raise AnalysisError(f"{rows['outcome'].iloc[0]}: {len(used)} poolable study(ies); a cumulative "
                            f"meta-analysis needs at least 2")
    return sort_studies(used, order)


def step(row: pd.Series, k: int, estimate: float, ci_low: float, ci_high: float, **extra) -> dict:
    """One step: the study added, the number pooled, the estimate and CI on the outcome's scale."""
    value = row["order_value"]
    return {"study": str(row["study"]), "k": k, "estimate": float(estimate), "ci_low": float(ci_low),
            "ci_high": float(ci_high), "order_value": value.item() if hasattr(value, "item") else value, **extra}


@dataclass
class Cumulative:
    """The steps of a cumulative analysis in the order used."""

    outcome: str
    method: str  # freq or bayes
    measure: str
    order: str
    steps: list[dict]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "method": self.method, "measure": self.measure, "order": self.order,
                "steps": self.steps, "notes": self.notes}
