"""What every audit rule shares: the finding it returns, its registration, and small readers.

A rule is a function of a :class:`~bayes_prrt.data.dataset.Dataset` returning findings; ``needs``
says why it cannot run on a dataset (a missing column or table), so the audit lists it as skipped.
Severity: ``error`` (the figure cannot be what it claims), ``warning`` (it may not be), ``note``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import pandas as pd

from ..dataset import Dataset

SEVERITIES = ("error", "warning", "note")


@dataclass(frozen=True)
class Finding:
    """One audit finding; ``check`` is the rule's name (kept for the JSON contract of earlier versions).

    ``value_source`` names the outcome row concerned (empty for a study or a published result);
    ``corrected_value``/``source`` what the corrected policy uses instead, or ``exclusion`` why it
    leaves the figure out.
    """

    check: str
    study: str
    outcome: str
    message: str
    severity: str = "warning"
    value_source: str = ""
    corrected_value: str | None = None
    source: str | None = None
    exclusion: str | None = None

    @property
    def rule(self) -> str:
        return self.check

    def to_dict(self) -> dict:
        return {"rule": self.check, **asdict(self)}


@dataclass(frozen=True)
class Rule:
    name: str
    run: Callable[[Dataset], list[Finding]]
    needs: Callable[[Dataset], str | None]

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0]


def needs_columns(*columns: str, table: str = "outcomes") -> Callable[[Dataset], str | None]:
    """A ``needs`` that asks for columns of the outcome rows (or of the study table)."""

    def need(data: Dataset) -> str | None:
        have = study_table(data).columns if table == "studies" else data.outcomes.columns
        missing = [c for c in columns if c not in have]
        return f"needs column(s) {', '.join(missing)}" if missing else None

    return need


def needs_any_column(*columns: str) -> Callable[[Dataset], str | None]:
    def need(data: Dataset) -> str | None:
        have = study_table(data).columns
        return None if any(c in have for c in columns) else f"needs one of the columns {', '.join(columns)}"

    return need


def needs_published(data: Dataset) -> str | None:
    return None if data.published is not None else "needs the published pooled results (published_pooled.csv)"


def needs_denominators(data: Dataset) -> str | None:
    return None if data.denominators is not None else "needs the candidate denominators (denominators.csv)"


def study_table(data: Dataset) -> pd.DataFrame:
    """One row per study: the study table, or for a user's CSV the first row of each study."""
    if data.studies is not None:
        return data.studies
    return data.outcomes.drop_duplicates("study").reset_index(drop=True)


def text(value) -> str:
    """A cell as stripped text; empty for a missing value."""
    return "" if value is None or pd.isna(value) else str(value).strip()


def value_sources(rows: pd.DataFrame) -> pd.Series:
    return rows["value_source"] if "value_source" in rows.columns else pd.Series("", index=rows.index)


def binary_rows(data: Dataset) -> pd.DataFrame:
    rows = data.outcomes
    rows = rows[(rows["kind"] == "binary") & rows["events"].notna() & rows["n"].notna()]
    return rows.assign(value_source=value_sources(rows))


def printed(row) -> str:
    """The proportion as printed (``reported``), else events/n to three decimals."""
    reported = text(getattr(row, "reported", None))
    return reported if reported else f"{int(row.events) / int(row.n):.3f}"


def grim_consistent(reported: str, n: int) -> bool:
    """True when some integer k in 0..n gives k/n that rounds to ``reported``.

    The precision is the number of printed decimals: '0.929' is any value in
    [0.9285, 0.9295]. Both ends are included so that either rounding rule passes.
    """
    return grim_count(reported, n) is not None


def grim_count(reported: str, n: int) -> int | None:
    """The whole count k with k/n rounding to ``reported`` (the nearest one), or None (GRIM,
    Brown & Heathers 2017, Soc Psychol Personal Sci 8:363)."""
    decimals = len(reported.split(".")[1]) if "." in reported else 0
    p, half = float(reported), 0.5 * 10.0 ** (-decimals)
    low, high = max(0.0, p - half) * n, min(1.0, p + half) * n
    first, last = math.ceil(low - 1e-9), math.floor(high + 1e-9)
    if first > last:
        return None
    return min(range(first, last + 1), key=lambda k: abs(k - p * n))
