"""Within-study subgroup figures (``within_study.csv``): one row per study x outcome x subgroup.

A row is either a hazard ratio of ``level`` against ``reference`` from one study's Cox model
(``statistic`` HR, with its 95% CI), or the median of one subgroup (``statistic`` median, months,
``reference`` empty; two medians of one study give a contrast). ``value_source`` says whether the
figure is ``unadjusted`` (a univariate model, a subgroup median) or ``adjusted`` (a multivariate
model: another estimand, conditional on the other factors). Every row carries its ``source``.
``read_within`` checks each cell and raises a ``DataError`` naming file, row, study and column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .formats import Table, read_grid
from .schema import outcome_name_problem

COLUMNS = ("study", "outcome", "by", "level", "reference", "statistic", "value_source", "estimate", "ci_low",
           "ci_high", "n", "n_reference", "source", "note")
NUMBERS = ("estimate", "ci_low", "ci_high", "n", "n_reference")
STATISTICS = ("HR", "median")
VALUE_SOURCES = ("unadjusted", "adjusted")
KEY = ("study", "outcome", "by", "level", "reference", "statistic", "value_source")


def _numbers(table: Table) -> pd.DataFrame:
    """The numeric columns as floats; a cell that is not a finite number is refused."""
    raw, out = table.frame, table.frame.copy()
    for col in NUMBERS:
        values = pd.to_numeric(raw[col], errors="coerce")
        bad = raw[col].notna() & ~np.isfinite(values.astype(float))
        if bad.any():
            i = bad.idxmax()
            raise table.error(f"'{raw.loc[i, col]}' is not a finite number; leave the cell empty when there is none",
                              i, col)
        out[col] = values.astype(float)
    return out


def _check_row(table: Table, i, row: pd.Series) -> None:
    for col in ("study", "outcome", "by", "level", "statistic", "value_source", "estimate", "ci_low", "source"):
        if pd.isna(row[col]):
            raise table.error("this cell is empty; every row needs it", i, col)
    if problem := outcome_name_problem(row["outcome"]):
        raise table.error(problem, i, "outcome")
    if row["statistic"] not in STATISTICS:
        raise table.error(f"statistic must be {' or '.join(STATISTICS)} (a hazard ratio of level vs reference, or "
                          f"the level's median in months)", i, "statistic")
    if row["value_source"] not in VALUE_SOURCES:
        raise table.error(f"value_source must be {' or '.join(VALUE_SOURCES)}", i, "value_source")
    if row["statistic"] == "HR":
        if pd.isna(row["reference"]) or row["reference"] == row["level"]:
            raise table.error("a hazard ratio needs the reference level it is against, other than the level", i,
                              "reference")
        if pd.isna(row["ci_high"]):
            raise table.error("a hazard ratio needs both bounds of its 95% CI", i, "ci_high")
    else:
        if pd.notna(row["reference"]):
            raise table.error("a subgroup median has no reference; leave the cell empty (two medians of one "
                              "study give the contrast)", i, "reference")
        if row["value_source"] == "adjusted":
            raise table.error("a subgroup median is unadjusted", i, "value_source")
    if not row["estimate"] > 0:
        raise table.error("the estimate must be greater than 0", i, "estimate")
    if not 0 < row["ci_low"] <= row["estimate"]:
        raise table.error("ci_low must be greater than 0 and not above the estimate", i, "ci_low")
    if pd.notna(row["ci_high"]) and row["ci_high"] < row["estimate"]:
        raise table.error("ci_high is below the estimate", i, "ci_high")
    for col in ("n", "n_reference"):
        if pd.notna(row[col]) and not (row[col] > 0 and row[col] % 1 == 0):
            raise table.error(f"{col} must be a whole number of patients greater than 0, or empty", i, col)
    if row["statistic"] == "median" and pd.notna(row["n_reference"]):
        raise table.error("a subgroup median has no reference group; leave n_reference empty", i, "n_reference")


def validate_within(table: Table) -> pd.DataFrame:
    """The checked rows, numbers as floats (see the module docstring for the rules)."""
    for col in COLUMNS:
        if col not in table.frame.columns:
            raise table.error(f"missing column; the header needs {', '.join(COLUMNS)}", None, col)
    if table.frame.empty:
        raise table.error("the file has a header but no data rows")
    rows = _numbers(table)
    for i, row in rows.iterrows():
        _check_row(table, i, row)
    keyed = rows[list(KEY)].fillna("")
    dup = keyed.duplicated()
    if dup.any():
        i = dup.idxmax()
        first = keyed.index[(keyed == keyed.loc[i]).all(axis=1)][0]
        raise table.error(f"duplicate {' x '.join(KEY)}: row {table.row(first)} has the same values", i, "level")
    return rows


def read_within(path: str | Path, studies=None, median_outcomes=None) -> pd.DataFrame:
    """Read and check a within-study subgroup file; with ``studies`` (ids of the study table) and
    ``median_outcomes`` (the data's time-to-event outcomes) each row's study and outcome must be among them."""
    table = read_grid(path)
    rows = validate_within(table)
    for i, row in rows.iterrows():
        if studies is not None and row["study"] not in set(studies):
            raise table.error("study is not listed in studies.csv", i, "study")
        if median_outcomes is not None and row["outcome"] not in set(median_outcomes):
            raise table.error(f"a within-study contrast is of a time-to-event outcome of outcomes.csv "
                              f"({', '.join(sorted(set(median_outcomes)))})", i, "outcome")
    return rows
