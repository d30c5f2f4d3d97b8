"""The outcomes bayes-prrt knows, and how a row of the long-format CSV is typed.

A *binary* outcome is given as ``events`` of ``n`` patients (DCR, ORR, adverse
events); a *median* outcome as a median time with its 95% CI (PFS, OS), in months.
Outcomes not listed here are allowed; their kind is read off the columns filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["binary", "median"]

BINARY_COLUMNS = ("events", "n")
UNITS: dict[str, str] = {"binary": "proportion", "median": "months"}  # outcome kind -> scale


@dataclass(frozen=True)
class Outcome:
    name: str
    kind: Kind
    label: str


KNOWN_OUTCOMES: dict[str, Outcome] = {
    o.name: o
    for o in (
        Outcome("DCR", "binary", "disease control rate (CR + PR + SD)"),
        Outcome("ORR", "binary", "objective response rate (CR + PR)"),
        Outcome("PFS", "median", "median progression-free survival"),
        Outcome("OS", "median", "median overall survival"),
    )
}

