"""Read and validate the long-format outcome CSV (the embedded data or a user's own).

Format: one row per study x outcome (x value source). Binary outcomes fill
``events, n``; median outcomes fill ``median, ci_low, ci_high`` (``ci_high`` empty when
not estimable; ``n`` optional). ``value_source, source, note, reported,
events_derived`` are provenance columns; any other column is a study covariate.
Every problem raises :class:`~bayes_prrt.errors.DataError` naming file, row, study, column.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pandera.errors import SchemaErrors

from .errors import DataError
from .outcomes import BINARY_COLUMNS, KNOWN_OUTCOMES
from .schema import CHECK_MESSAGES, NUMERIC_COLUMNS, type_schema, value_schema

REQUIRED_COLUMNS = ("study", "outcome")
PROVENANCE_COLUMNS = ("value_source", "source", "note", "reported", "events_derived")
CORE_COLUMNS = REQUIRED_COLUMNS + NUMERIC_COLUMNS + PROVENANCE_COLUMNS


def read_csv_text(path: Path) -> pd.DataFrame:
    """Read a CSV as text cells (empty cell -> NaN); an empty file is a DataError."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise DataError(str(path), "file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(str(path), "the file is empty; expected a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(str(path), f"not a readable CSV ({str(err).splitlines()[0]})") from None


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
        problem = f"'{raw.loc[index, column]}' is not a number"
    else:
        column, problem = CHECK_MESSAGES[first["check"]]
    more = len(cases["_order"].unique()) - 1
    suffix = f" (and problems in {more} more row{'s' if more > 1 else ''})" if more else ""
    raise DataError(file, problem + suffix, row=_row(index), study=_study(raw, index), column=column)


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
    raw.columns = [c.strip() for c in raw.columns]
    _check_columns(file, raw)
    try:
        typed = type_schema(raw.columns).validate(raw, lazy=True)
    except SchemaErrors as err:
        _raise_first(file, raw, err, "type")
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
