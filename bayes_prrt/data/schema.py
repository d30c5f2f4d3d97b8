"""Pandera schemas of the long-format outcome CSV, in two stages.

Stage one coerces the numeric columns (a cell that is not a number fails here);
stage two checks values and the relations between columns. Each check carries the
column it is reported against and the fix the user is told.
"""

from __future__ import annotations

import re

import pandera.pandas as pa

NUMERIC_COLUMNS = ("events", "n", "median", "ci_low", "ci_high")
REQUIRED_COLUMNS = ("study", "outcome")
PROVENANCE_COLUMNS = ("value_source", "source", "note", "reported", "events_derived")
CORE_COLUMNS = REQUIRED_COLUMNS + NUMERIC_COLUMNS + PROVENANCE_COLUMNS
TEXT_COLUMNS = ("study", "outcome", "value_source", "source", "note")  # never read as numbers
# an outcome name becomes part of file names and report headings: these characters only
OUTCOME_NAME = re.compile(r"[^\W_]|[ _.+%()-]")
OUTCOME_NAME_RULE = "letters, digits, spaces and - _ . + % ( )"
MAX_PATIENTS = 10**9  # counts beyond this are typing errors (and would not fit the integer columns)

# check name -> (column reported, message shown to the user)
CHECK_MESSAGES: dict[str, tuple[str, str]] = {
    "events_nonnegative": ("events", "events must be 0 or more"),
    "events_integer": ("events", "events must be a whole number of patients"),
    "n_positive": ("n", "n must be greater than 0"),
    "n_integer": ("n", "n must be a whole number of patients"),
    "events_plausible": ("events", f"events is implausibly large (more than {MAX_PATIENTS:,} patients)"),
    "n_plausible": ("n", f"n is implausibly large (more than {MAX_PATIENTS:,} patients)"),
    "events_le_n": ("events", "events exceed n"),
    "median_positive": ("median", "the median must be greater than 0"),
    "ci_low_positive": ("ci_low", "ci_low must be greater than 0"),
    "ci_low_le_median": ("ci_low", "ci_low is above the median"),
    "ci_high_ge_median": ("ci_high", "ci_high is below the median"),
}


def _is_whole(s):
    return s.isna() | (s % 1 == 0)


def type_schema(columns) -> pa.DataFrameSchema:
    """Stage one: every numeric column present must parse as a number."""
    return pa.DataFrameSchema(
        {c: pa.Column(float, nullable=True, coerce=True) for c in NUMERIC_COLUMNS if c in columns},
        strict=False,
    )


def value_schema(columns) -> pa.DataFrameSchema:
    """Stage two: ranges and cross-column relations on the coerced frame."""
    specs = {
        "events": [
            pa.Check(lambda s: s.isna() | (s >= 0), name="events_nonnegative"),
            pa.Check(_is_whole, name="events_integer"),
            pa.Check(lambda s: s.isna() | (s <= MAX_PATIENTS), name="events_plausible"),
        ],
        "n": [
            pa.Check(lambda s: s.isna() | (s > 0), name="n_positive"),
            pa.Check(_is_whole, name="n_integer"),
            pa.Check(lambda s: s.isna() | (s <= MAX_PATIENTS), name="n_plausible"),
        ],
        "median": [pa.Check(lambda s: s.isna() | (s > 0), name="median_positive")],
        "ci_low": [pa.Check(lambda s: s.isna() | (s > 0), name="ci_low_positive")],
        "ci_high": [],
    }
    relations = {
        "events_le_n": (("events", "n"), lambda d: d["events"] <= d["n"]),
        "ci_low_le_median": (("ci_low", "median"), lambda d: d["ci_low"] <= d["median"]),
        "ci_high_ge_median": (("ci_high", "median"), lambda d: d["ci_high"] >= d["median"]),
    }
    frame_checks = [
        pa.Check(lambda d, cols=cols, fn=fn: d[list(cols)].isna().any(axis=1) | fn(d), name=name)
        for name, (cols, fn) in relations.items()
        if set(cols) <= set(columns)
    ]
    return pa.DataFrameSchema(
        {c: pa.Column(float, nullable=True, checks=specs[c]) for c in NUMERIC_COLUMNS if c in columns},
        checks=frame_checks,
        strict=False,
    )


def outcome_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an outcome name, or None when it can."""
    bad = sorted({c for c in name if not OUTCOME_NAME.fullmatch(c)})
    if not bad:
        return None
    shown = " ".join(repr(c) for c in bad[:5])
    return f"outcome name '{name}' has characters that are not allowed ({shown}); use {OUTCOME_NAME_RULE}"
