"""Read and validate the long-format outcome CSV (the embedded data or a user's own).

Format: one row per study x outcome (x value source). Binary outcomes fill
``events, n``; median outcomes fill ``median, ci_low, ci_high`` (``ci_high`` empty when
not estimable; ``n`` optional). ``value_source, source, note, reported,
events_derived`` are provenance columns; any other column is a study covariate.
Every problem raises :class:`~bayes_prrt.errors.DataError` naming file, row, study, column.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from ..errors import DataError
from ..outcomes import BINARY_COLUMNS, KNOWN_OUTCOMES
from .schema import CHECK_MESSAGES, NUMERIC_COLUMNS, type_schema, value_schema

REQUIRED_COLUMNS = ("study", "outcome")
PROVENANCE_COLUMNS = ("value_source", "source", "note", "reported", "events_derived")
CORE_COLUMNS = REQUIRED_COLUMNS + NUMERIC_COLUMNS + PROVENANCE_COLUMNS


def read_csv_text(path: Path) -> pd.DataFrame:
    """Read a CSV as text cells (empty cell -> NaN) under a header of unique, stripped names.

    The header is parsed as a row like the others, so that a record with more cells than the
    header is an error (pandas would otherwise take its first cell as an index and shift every
    column), and so that a repeated column name is reported instead of renamed. Any problem
    reading the file is a DataError.
    """
    with csv_errors(path):
        cells = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, na_values=[""],
                            encoding="utf-8-sig")
    header = [f"Unnamed: {i}" if pd.isna(name) else str(name).strip() for i, name in enumerate(cells.iloc[0])]
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(str(path), "the column name appears twice in the header; keep one", row=1, column=name)
        seen.add(name)
    frame = cells.iloc[1:].reset_index(drop=True)
    frame.columns = header
    return frame


@contextmanager
def csv_errors(path: Path):
    """Turn the ways reading a CSV can fail into a DataError naming the file."""
    file = str(path)
    try:
        yield
    except FileNotFoundError:
        raise DataError(file, "file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(file, "the file is empty; expected a header row and data rows") from None
    except UnicodeDecodeError:
        raise DataError(file, "not a readable CSV: the file is not UTF-8 text") from None
    except pd.errors.ParserError as err:
        raise DataError(file, f"not a readable CSV ({_first_line(err)})") from None
    except OSError as err:
        raise DataError(file, f"cannot be read ({err.strerror or _first_line(err)})") from None


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _shown(value, limit: int = 40) -> str:
    """A cell value as quoted in a message: at most ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _row(index: int) -> int:
    return int(index) + 2  # header is spreadsheet row 1


def _study(df: pd.DataFrame, index) -> str | None:
    if index is None or "study" not in df.columns:
        return None
    value = df.loc[index, "study"]
    return None if pd.isna(value) else str(value)


def _raise_first(file: str, raw: pd.DataFrame, err: SchemaErrors, stage: str) -> None:
    cases = err.failure_cases.copy()
    cases = cases[cases["index"].notna()]
    if cases.empty:  # a check that failed as a whole; should not happen with these schemas
        raise DataError(file, f"invalid data ({err.failure_cases.iloc[0]['check']})")
    cases["_order"] = cases["index"].astype(int)
    first = cases.sort_values("_order").iloc[0]
    index = int(first["index"])
    if stage == "type":
        column = first["column"]
        problem = f"'{_shown(raw.loc[index, column])}' is not a number"
    else:
        column, problem = CHECK_MESSAGES[first["check"]]
    more = len(cases["_order"].unique()) - 1
    suffix = f" (and problems in {more} more row{'s' if more > 1 else ''})" if more else ""
    raise DataError(file, problem + suffix, row=_row(index), study=_study(raw, index), column=column)


def _check_finite(file: str, raw: pd.DataFrame, typed: pd.DataFrame) -> None:
    """A filled numeric cell must hold a finite number ('nan', 'inf' or 1e999 parse as floats)."""
    columns = [c for c in NUMERIC_COLUMNS if c in raw.columns]
    bad = raw[columns].notna() & ~np.isfinite(typed[columns].astype(float))
    if bad.to_numpy().any():
        index = bad.any(axis=1).idxmax()
        column = bad.loc[index].idxmax()
        raise DataError(file, f"'{_shown(raw.loc[index, column])}' is not a finite number; leave the cell empty "
                              f"when there is no value", row=_row(index), study=_study(raw, index), column=column)


def _check_reported(file: str, raw: pd.DataFrame) -> None:
    """``reported`` is a proportion as printed (the audit re-reads it): a number from 0 to 1."""
    if "reported" not in raw.columns:
        return
    values = pd.to_numeric(raw["reported"].str.strip(), errors="coerce")
    bad = raw["reported"].notna() & ~values.between(0, 1)
    if bad.any():
        index = bad.idxmax()
        raise DataError(file, f"'{_shown(raw.loc[index, 'reported'])}' is not a proportion as printed; "
                              f"reported must be a number from 0 to 1", row=_row(index), study=_study(raw, index),
                        column="reported")


def _check_columns(file: str, df: pd.DataFrame) -> None:
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            raise DataError(file, f"missing required column; the header needs {', '.join(REQUIRED_COLUMNS)}",
                            column=col)
    has_binary = all(c in df.columns for c in BINARY_COLUMNS)
    has_median = all(c in df.columns for c in ("median", "ci_low"))
    if not (has_binary or has_median):
        raise DataError(file, "missing outcome columns; give events,n for binary outcomes "
                              "or median,ci_low,ci_high for survival medians",
                        column="events" if "events" not in df.columns else "n")


def _check_rows(file: str, df: pd.DataFrame) -> pd.Series:
    """Type each row (binary or median) and check the fields its type needs."""
    kinds = []
    for index, row in df.iterrows():
        study = None if pd.isna(row["study"]) else str(row["study"])
        where = dict(row=_row(index), study=study)
        if study is None:
            raise DataError(file, "the study name is empty", column="study", **where)
        if pd.isna(row["outcome"]):
            raise DataError(file, "the outcome name is empty", column="outcome", **where)
        name = str(row["outcome"])
        has_binary = pd.notna(row.get("events")) or (pd.notna(row.get("n")) and pd.isna(row.get("median")))
        has_median = pd.notna(row.get("median"))
        known = KNOWN_OUTCOMES.get(name)
        if known is not None:
            kind = known.kind
        elif has_binary != has_median:
            kind = "binary" if has_binary else "median"
        else:
            raise DataError(file, f"unknown outcome type for '{name}': fill events,n (binary) or "
                                  f"median,ci_low,ci_high (median); known outcomes are {', '.join(KNOWN_OUTCOMES)}",
                            column="outcome", **where)
        needed = BINARY_COLUMNS if kind == "binary" else ("median",)
        for col in needed:
            if col not in df.columns or pd.isna(row[col]):
                raise DataError(file, f"{name} is a {kind} outcome and needs a value here", column=col, **where)
        kinds.append(kind)
    return pd.Series(kinds, index=df.index, name="kind")


def _check_duplicates(file: str, df: pd.DataFrame) -> None:
    key = ["study", "outcome"] + (["value_source"] if "value_source" in df.columns else [])
    keyed = df[key].fillna("")
    dup = keyed.duplicated(keep="first")
    if dup.any():
        index = dup.idxmax()
        first = df.index[(keyed == keyed.loc[index]).all(axis=1)][0]
        what = " x ".join(key)
        raise DataError(file, f"duplicate {what}: row {_row(first)} has the same "
                              f"{', '.join(str(df.loc[index, k]) for k in key)}",
                        row=_row(index), study=str(df.loc[index, "study"]), column="outcome")


def read_outcomes(path: str | Path) -> pd.DataFrame:
    """Read and validate a long-format outcome CSV.

    Returns the rows with numeric columns as floats, ``events``/``n`` as nullable
    integers, and a ``kind`` column (``binary`` or ``median``).
    """
    path = Path(path)
    file = str(path)
    raw = read_csv_text(path)
    if raw.empty:
        raise DataError(file, "the file has a header but no data rows")
    _check_columns(file, raw)
    if "kind" in raw.columns:
        raise DataError(file, "'kind' is a name the loader uses itself; rename the column", row=1, column="kind")
    try:
        typed = type_schema(raw.columns).validate(raw, lazy=True)
    except SchemaErrors as err:
        _raise_first(file, raw, err, "type")
    _check_finite(file, raw, typed)
    _check_reported(file, raw)
    try:
        typed = value_schema(raw.columns).validate(typed, lazy=True)
    except SchemaErrors as err:
        _raise_first(file, raw, err, "value")
    typed["kind"] = _check_rows(file, typed)
    _check_duplicates(file, typed)
    for col in ("events", "n"):
        if col in typed.columns:
            typed[col] = typed[col].astype("Int64")
    for col in NUMERIC_COLUMNS:
        if col not in typed.columns:
            typed[col] = pd.NA if col in ("events", "n") else float("nan")
    return typed


def covariate_columns(df: pd.DataFrame) -> list[str]:
    """Columns that are study covariates (everything that is not data or provenance)."""
    return [c for c in df.columns if c not in CORE_COLUMNS and c != "kind"]
