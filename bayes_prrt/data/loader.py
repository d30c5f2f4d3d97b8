"""Validate the long table of outcomes (the embedded data or a user's own file).

Any accepted file (long or wide layout, CSV or .xlsx; see :mod:`.formats`) is first read as
the long table: one row per study x outcome (x value source). Binary outcomes fill
``events, n``; median outcomes fill ``median, ci_low, ci_high`` (``ci_high`` empty when
not estimable; ``n`` optional). ``value_source, source, note, reported,
events_derived`` are provenance columns; any other column is a study covariate.
Every problem raises :class:`~bayes_prrt.errors.DataError` naming file, row, study, column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..outcomes import BINARY_COLUMNS, KNOWN_OUTCOMES
from .formats import Table, read_table
from .schema import (CHECK_MESSAGES, CORE_COLUMNS, NUMERIC_COLUMNS, REQUIRED_COLUMNS, outcome_name_problem,
                     parse_numbers, value_failures)


def _shown(value, limit: int = 40) -> str:
    """A cell value as quoted in a message: at most ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _raise_first(table: Table, failures: list[tuple], stage: str) -> None:
    """Raise on the first of the (index, column or check) ``failures`` of a stage, if any."""
    if not failures:
        return
    index, what = failures[0]
    if stage == "type":
        column, problem = what, f"'{_shown(table.frame.loc[index, what])}' is not a number"
    else:
        column, problem = CHECK_MESSAGES[what]
    more = len({int(i) for i, _ in failures}) - 1
    suffix = f" (and problems in {more} more row{'s' if more > 1 else ''})" if more else ""
    raise table.error(problem + suffix, index, column)


def _check_finite(table: Table, typed: pd.DataFrame) -> None:
    """A filled numeric cell must hold a finite number ('nan', 'inf' or 1e999 parse as floats)."""
    raw = table.frame
    columns = [c for c in NUMERIC_COLUMNS if c in raw.columns]
    bad = raw[columns].notna() & ~np.isfinite(typed[columns].astype(float))
    if bad.to_numpy().any():
        index = bad.any(axis=1).idxmax()
        column = bad.loc[index].idxmax()
        raise table.error(f"'{_shown(raw.loc[index, column])}' is not a finite number; leave the cell empty "
                          f"when there is no value", index, column)


def _check_reported(table: Table) -> None:
    """``reported`` is a proportion as printed (the audit re-reads it): a number from 0 to 1."""
    raw = table.frame
    if "reported" not in raw.columns:
        return
    values = pd.to_numeric(raw["reported"], errors="coerce")
    bad = raw["reported"].notna() & ~values.between(0, 1)
    if bad.any():
        index = bad.idxmax()
        raise table.error(f"'{_shown(raw.loc[index, 'reported'])}' is not a proportion as printed; "
                          f"reported must be a number from 0 to 1", index, "reported")


def _check_columns(table: Table) -> None:
    df = table.frame
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            raise DataError(table.file, f"missing required column; the header needs {', '.join(REQUIRED_COLUMNS)}",
                            column=col)
    has_binary = all(c in df.columns for c in BINARY_COLUMNS)
    has_median = all(c in df.columns for c in ("median", "ci_low"))
    if not (has_binary or has_median):
        raise DataError(table.file, "missing outcome columns; give events,n for binary outcomes "
                                    "or median,ci_low,ci_high for survival medians",
                        column="events" if "events" not in df.columns else "n")
    if "kind" in df.columns:
        raise DataError(table.file, "'kind' is a name the loader uses itself; rename the column", row=1,
                        column="kind")


def _row_kind(table: Table, index, row: pd.Series) -> str:
    """Binary or median: the registered kind of the outcome, else the one its filled cells show."""
    name = row["outcome"]
    has_binary = pd.notna(row.get("events")) or (pd.notna(row.get("n")) and pd.isna(row.get("median")))
    has_median = pd.notna(row.get("median"))
    known = KNOWN_OUTCOMES.get(name)
    if known is not None:
        return known.kind
    if has_binary != has_median:
        return "binary" if has_binary else "median"
    raise table.error(f"unknown outcome type for '{name}': fill events,n (binary) or "
                      f"median,ci_low,ci_high (median); known outcomes are {', '.join(KNOWN_OUTCOMES)}",
                      index, "outcome")


def _check_rows(table: Table, df: pd.DataFrame) -> pd.Series:
    """Name each row's study and outcome, type it (binary or median), check the fields its type needs."""
    kinds = []
    for index, row in df.iterrows():
        if pd.isna(row["study"]):
            raise table.error("the study name is empty", index, "study")
        if pd.isna(row["outcome"]):
            raise table.error("the outcome name is empty", index, "outcome")
        if problem := outcome_name_problem(row["outcome"]):
            raise table.error(problem, index, "outcome")
        kind = _row_kind(table, index, row)
        name = row["outcome"]
        needed = BINARY_COLUMNS if kind == "binary" else ("median",)
        for col in needed:
            if col not in df.columns or pd.isna(row[col]):
                raise table.error(f"{name} is a {kind} outcome and needs a value here", index, col)
        if kind == "median" and pd.notna(row.get("ci_high")) and pd.isna(row.get("ci_low")):
            raise table.error("ci_high is given without ci_low; give both bounds of the 95% CI, or ci_low "
                              "alone when the upper bound was not reached", index, "ci_low")
        kinds.append(kind)
    return pd.Series(kinds, index=df.index, name="kind")


def _check_duplicates(table: Table, df: pd.DataFrame) -> None:
    key = ["study", "outcome"] + (["value_source"] if "value_source" in df.columns else [])
    keyed = df[key].fillna("")
    dup = keyed.duplicated(keep="first")
    if dup.any():
        index = dup.idxmax()
        first = df.index[(keyed == keyed.loc[index]).all(axis=1)][0]
        what = " x ".join(key)
        raise table.error(f"duplicate {what}: row {table.row(first)} has the same "
                          f"{', '.join(str(df.loc[index, k]) for k in key)}", index, "outcome")


def validate_outcomes(table: Table) -> pd.DataFrame:
    """Validate the long table; the rows with numeric columns as floats, ``events``/``n`` as
    nullable integers, and a ``kind`` column (``binary`` or ``median``)."""
    raw = table.frame
    if raw.empty:
        raise DataError(table.file, "the file has a header but no data rows")
    _check_columns(table)
    typed, failures = parse_numbers(raw)
    _raise_first(table, failures, "type")
    _check_finite(table, typed)
    _check_reported(table)
    _raise_first(table, value_failures(typed), "value")
    typed["kind"] = _check_rows(table, typed)
    _check_duplicates(table, typed)
    for col in ("events", "n"):
        if col in typed.columns:
            typed[col] = typed[col].astype("Int64")
    for col in NUMERIC_COLUMNS:
        if col not in typed.columns:
            typed[col] = pd.NA if col in ("events", "n") else float("nan")
    return typed


def read_outcomes(path: str | Path) -> pd.DataFrame:
    """Read and validate an outcome file in any accepted format (see :func:`validate_outcomes`)."""
    return validate_outcomes(read_table(path))


def covariate_columns(df: pd.DataFrame) -> list[str]:
    """Columns that are study covariates (everything that is not data or provenance)."""
    return [c for c in df.columns if c not in CORE_COLUMNS and c != "kind"]
