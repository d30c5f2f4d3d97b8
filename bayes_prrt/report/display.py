"""Numbers as a reader sees them: fixed decimals per quantity, units, intervals in one cell.

Proportions are shown as % with one decimal, months with one decimal, probabilities and
Pareto k with three, tau (analysis scale) with two; a missing value is an en dash, a
boolean yes/no. ``display`` turns a result table (one row per outcome x something, with an
``outcome`` column when values are on the outcome's scale) into a table of strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..outcomes import KNOWN_OUTCOMES

MISSING = "\u2013"
# (estimate, low, high) column triples merged into one "estimate [low, high]" cell
TRIPLES = (("estimate", "ci_low", "ci_high"), ("median", "ci_low", "ci_high"), ("shrunken", "ci_low", "ci_high"),
           ("bayes_median", "bayes_ci_low", "bayes_ci_high"), ("freq_estimate", "freq_ci_low", "freq_ci_high"),
           ("reproduced", "ci_low", "ci_high"), ("published", "published_ci_low", "published_ci_high"))
PAIRS = (("pi_low", "pi_high"), ("bayes_pi_low", "bayes_pi_high"))
VALUES = {"observed", "shift", "freq_shift", "bayes_pop_average", "difference", "median", "estimate"}
DIFFERENCES = {"shift", "freq_shift", "difference"}  # differences of proportions are percentage points
THREE = {"probability", "mcse", "p_gt_0", "pareto_k", "prior", "likelihood", "rhat_max", "target_accept"}
TWO = {"tau", "tau_median"}
INTEGERS = {"k", "n", "events", "divergences", "draws", "chains", "ess_bulk_min", "ess_tail_min"}
HEADERS = {"k": "k", "tau_median": "\u03c4 (median)", "pareto_k": "Pareto k", "p_gt_0": "P(> 0)",
           "mcse": "MCSE", "rhat_max": "R-hat max", "ess_bulk_min": "bulk ESS min", "ess_tail_min": "tail ESS min",
           "freq_I2": "I\u00b2 %", "observed": "observed", "shift": "shift", "freq_shift": "frequentist shift"}


def _missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def scale_of(kind: str | None) -> tuple[float, str]:
    """Multiplier and unit of a value of an outcome of ``kind`` (None: shown as it is)."""
    return {"binary": (100.0, "%"), "median": (1.0, "months")}.get(kind, (1.0, ""))


def number(value, digits: int) -> str:
    return MISSING if _missing(value) else f"{float(value):.{digits}f}"


def value(v, kind: str | None) -> str:
    """A value on the outcome's scale: 87.4 (a proportion in %), 20.0 (months); of an outcome of
    unknown kind, three significant digits."""
    if _missing(v):
        return MISSING
    factor, _ = scale_of(kind)
    return f"{factor * float(v):.1f}" if kind else f"{float(v):.3g}"


def interval(est, low, high, kind: str | None) -> str:
    """'87.4 [81.3, 92.6]' (no unit: the header carries it)."""
    if _missing(est):
        return MISSING
    if _missing(low) and _missing(high):
        return value(est, kind)
    return f"{value(est, kind)} [{value(low, kind)}, {value(high, kind)}]"


def unit_label(kinds: set[str]) -> str:
    units = sorted({scale_of(k)[1] for k in kinds if k})
    return " or ".join(units) if units else ""


def cell(v, column: str, kind: str | None) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if _missing(v):
        return MISSING
    if isinstance(v, str):
        return v.strip() or MISSING
    if column in INTEGERS:
        return f"{float(v):.0f}"
    if column in THREE or column.startswith("P("):
        return number(v, 3)
    if column in TWO:
        return number(v, 2)
    if column in VALUES:
        return value(v, kind)
    if column.endswith("I2"):
        return number(v, 1)
    return f"{float(v):.4g}" if isinstance(v, float) else str(v)


@dataclass
class Table:
    """A table of strings; ``nowrap`` marks the columns that must not break (numbers, intervals)."""

    headers: list[str]
    rows: list[list[str]]
    nowrap: list[bool]

    @property
    def empty(self) -> bool:
        return not self.rows


def display(frame: pd.DataFrame, kinds: dict[str, str] | None = None, interval_name: str = "95% interval",
            drop=(), rename: dict | None = None, differences: bool = False) -> Table:
    """The table as shown: intervals merged, units in the headers, fixed decimals, no blanks.

    ``kinds``: outcome -> kind, for the values on an outcome's scale (the frame's ``outcome``
    column says which row is which; default: the known outcomes); ``drop``: columns not shown (``outcome`` may be one);
    columns empty in every row are not shown either; ``differences``: the values are
    differences (of proportions: percentage points)."""
    kinds = kinds or {name: o.kind for name, o in KNOWN_OUTCOMES.items()}
    row_kinds = [kinds.get(o) for o in frame["outcome"]] if "outcome" in frame.columns else [None] * len(frame)
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    frame = frame.loc[:, [c for c in frame.columns if not frame[c].map(_blank).all()]]
    unit = unit_label({k for k in row_kinds if k})
    unit = unit.replace("%", "percentage points") if differences else unit
    unit = f", {unit}" if unit else ""
    columns: list[tuple[str, list[str], bool]] = []
    used = set()
    for col in frame.columns:
        if col in used:
            continue
        triple = next((t for t in TRIPLES if t[0] == col and all(c in frame.columns for c in t)), None)
        pair = next((p for p in PAIRS if p[0] == col and p[1] in frame.columns), None)
        if triple:
            used.update(triple)
            cells = [interval(*r, k) for r, k in zip(frame[list(triple)].itertuples(index=False), row_kinds,
                                                      strict=True)]
            columns.append((f"{_name(col, rename)} [{interval_name}]{unit}", cells, True))
        elif pair:
            used.update(pair)
            cells = [MISSING if _missing(lo) else f"[{value(lo, k)}, {value(hi, k)}]"
                     for lo, hi, k in zip(frame[pair[0]], frame[pair[1]], row_kinds, strict=True)]
            columns.append((f"95% predictive interval{unit}", cells, True))
        else:
            used.add(col)
            cells = [cell(v, col, k) for v, k in zip(frame[col], row_kinds, strict=True)]
            shown_unit = unit[2:].replace("%", "percentage points") if col in DIFFERENCES else unit[2:]
            header = _name(col, rename) + (f" ({shown_unit})" if col in VALUES and unit else "")
            columns.append((header, cells, pd.api.types.is_numeric_dtype(frame[col]) or col.startswith("P(")))
    return Table([c[0] for c in columns], [list(r) for r in zip(*(c[1] for c in columns), strict=True)]
                 if columns else [], [c[2] for c in columns])


def _blank(v) -> bool:
    return _missing(v) or (isinstance(v, str) and not v.strip())


def _name(col: str, rename: dict | None) -> str:
    if rename and col in rename:
        return rename[col]
    return HEADERS.get(col, col.replace("_", " "))
