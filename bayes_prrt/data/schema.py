"""Checks of the long-format outcome table, in two stages (plain pandas, cheap to import).

Stage one reads the numeric columns as floats (a cell that is not a number fails here);
stage two checks values and the relations between columns. Each check carries the
column it is reported against and the fix the user is told. Both stages list every
failure, first row first, so that the loader reports the first and counts the rest.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

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


# check name -> (columns it needs, test on their float arrays), in the order they
# are reported within one row (relations between columns first); a row with any of them empty passes
VALUE_CHECKS = {
    "events_le_n": (("events", "n"), lambda d: d["events"] <= d["n"]),
    "ci_low_le_median": (("ci_low", "median"), lambda d: d["ci_low"] <= d["median"]),
    "ci_high_ge_median": (("ci_high", "median"), lambda d: d["ci_high"] >= d["median"]),
    "events_nonnegative": (("events",), lambda d: d["events"] >= 0),
    "events_integer": (("events",), lambda d: d["events"] % 1 == 0),
    "events_plausible": (("events",), lambda d: d["events"] <= MAX_PATIENTS),
    "n_positive": (("n",), lambda d: d["n"] > 0),
    "n_integer": (("n",), lambda d: d["n"] % 1 == 0),
    "n_plausible": (("n",), lambda d: d["n"] <= MAX_PATIENTS),
    "median_positive": (("median",), lambda d: d["median"] > 0),
    "ci_low_positive": (("ci_low",), lambda d: d["ci_low"] > 0),
}


def _is_number(value) -> bool:
    try:
        np.float64(value)
    except (TypeError, ValueError):
        return False
    return True


def _by_row(failures: list[tuple]) -> list[tuple]:
    return sorted(failures, key=lambda f: int(f[0]))  # stable: within a row, the order they were found


def parse_numbers(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple]]:
    """Stage one: a copy of ``frame`` with each numeric column present as floats, and the
    (index, column) of every cell that does not parse as a number."""
    typed, failures = frame.copy(), []
    for col in (c for c in NUMERIC_COLUMNS if c in frame.columns):
        try:
            typed[col] = frame[col].astype(np.float64)
        except (TypeError, ValueError):
            failures += [(index, col) for index, value in frame[col].items() if not _is_number(value)]
    return typed, _by_row(failures)


def value_failures(typed: pd.DataFrame) -> list[tuple]:
    """Stage two: the (index, check name) of every failed check of :data:`VALUE_CHECKS`."""
    values = {c: typed[c].to_numpy(float) for c in NUMERIC_COLUMNS if c in typed.columns}
    failures = []
    for name, (cols, test) in VALUE_CHECKS.items():
        if set(cols) <= set(values):
            with np.errstate(invalid="ignore"):
                passed = np.isnan(np.column_stack([values[c] for c in cols])).any(axis=1) | test(values)
            failures += [(index, name) for index in typed.index[~passed]]
    return _by_row(failures)


def outcome_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an outcome name, or None when it can."""
    bad = sorted({c for c in name if not OUTCOME_NAME.fullmatch(c)})
    if not bad:
        return None
    shown = " ".join(repr(c) for c in bad[:5])
    return f"outcome name '{name}' has characters that are not allowed ({shown}); use {OUTCOME_NAME_RULE}"
