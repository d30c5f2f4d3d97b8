"""Read any accepted input file as the long table the loader validates (docs/input.md).

Files: CSV (UTF-8; comma, semicolon or tab delimited, the delimiter being the one that
splits the header into the most cells; in a semicolon file a decimal comma, ``22,8``, is
read as ``22.8``) or an Excel ``.xlsx`` workbook (its first sheet).
Layouts: *long*, one row per study x outcome, with columns ``study, outcome`` and
``events, n`` or ``median, ci_low, ci_high``; *wide*, one row per study, with columns
``<outcome>_events``, ``<outcome>_n``, ``<outcome>_median``, ``<outcome>_ci_low``,
``<outcome>_ci_high`` (the other columns are covariates), turned into one long row per
study and outcome with any value.
Every cell is stripped of surrounding white space; a blank cell is missing (NaN); blank
rows are skipped. Each long row keeps its spreadsheet row (header = row 1) and, for a wide
file, the header cell each of its values came from, so that every message names them.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .schema import CORE_COLUMNS, NUMERIC_COLUMNS, PROVENANCE_COLUMNS, TEXT_COLUMNS, outcome_name_problem

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
WIDE_COLUMN = re.compile(r"(?P<outcome>.+?)_(?P<field>events|n|median|ci_low|ci_high)")
DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")
DECIMAL_POINT = re.compile(r"[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?")
ACCEPTED = ("accepted are a long layout (columns study, outcome, then events, n or median, ci_low, ci_high) "
            "or a wide one (study, then <outcome>_events, <outcome>_n, <outcome>_median, <outcome>_ci_low, "
            "<outcome>_ci_high), as a UTF-8 CSV (comma, semicolon or tab delimited) or an .xlsx workbook")
ZIP_MAGIC, OLE_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


@dataclass
class Table:
    """Text cells of an input file (NaN where blank) and where each came from."""

    frame: pd.DataFrame
    file: str  # as messages name it: the path, and the sheet of a workbook
    rows: list[int]  # spreadsheet row of each frame row
    kind: str  # what was read, e.g. "wide CSV (semicolon)"
    sources: list[dict[str, str]] = field(default_factory=list)  # per row: frame column -> header cell

    def row(self, index) -> int:
        return self.rows[int(index)]

    def column(self, index, name: str | None) -> str | None:
        if name is None or index is None or not self.sources:
            return name
        return self.sources[int(index)].get(name, name)

    def study(self, index) -> str | None:
        if index is None or "study" not in self.frame.columns:
            return None
        value = self.frame.loc[index, "study"]
        return None if pd.isna(value) else str(value)

    def error(self, problem: str, index=None, column: str | None = None) -> DataError:
        """A DataError at frame row ``index`` (None: the file or its header) and column."""
        row = None if index is None else self.row(index)
        return DataError(self.file, problem, row=row, study=self.study(index), column=self.column(index, column))


# ---------------------------------------------------------------- reading the cells

@contextmanager
def csv_errors(path: Path):
    """Turn the ways opening or reading a file can fail into a DataError naming the file."""
    file = str(path)
    try:
        yield
    except FileNotFoundError:
        raise DataError(file, "file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(file, "the file is empty; expected a header row and data rows") from None
    except UnicodeDecodeError:
        raise DataError(file, "not a readable CSV: the file is not UTF-8 text; save it as CSV UTF-8 "
                              "or as .xlsx") from None
    except pd.errors.ParserError as err:
        raise DataError(file, f"not a readable CSV ({_first_line(err)})") from None
    except OSError as err:
        raise DataError(file, f"cannot be read ({err.strerror or _first_line(err)})") from None


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _delimiter(first_line: str) -> str:
    """The candidate that splits the header line into the most cells (comma on a tie)."""
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d])


def _bad_quote(text: str, delimiter: str) -> tuple[int, str] | None:
    """(cell index, problem) of the first broken quote in the record starting ``text``: a quoted
    cell that never closes, or a closing quote followed by something other than a delimiter."""
    cell, i, end = 0, 0, len(text)
    stops = (delimiter, "\r", "\n")
    while i < end:
        if text[i] == '"':
            close = i
            while True:
                close = text.find('"', close + 1)
                if close < 0:
                    return cell, "a quote is not closed: the quoted cell runs to the end of the file"
                if text[close + 1:close + 2] != '"':
                    break
                close += 1  # an escaped quote ""
            i = close + 1
            if i < end and text[i] not in stops:
                return cell, ('a closing quote is followed by other text; put the whole cell in quotes '
                              'and write a quote inside it as ""')
        while i < end and text[i] not in stops:
            i += 1
        if i >= end or text[i] != delimiter:
            return None
        cell, i = cell + 1, i + 1
    return None


def _csv_records(file: str, text: str, delimiter: str) -> list[list[str]]:
    """Records of the CSV (a blank line is an empty record, so that index + 1 is the row)."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    records, done = [], 0  # done: physical lines consumed by the complete records
    try:
        for record in reader:
            records.append(record)
            done = reader.line_num
    except csv.Error as err:
        rest = "".join(lines[done:])
        header = next((r for r in records if any(c.strip() for c in r)), [])
        cells = next(csv.reader(rest.splitlines()[:1], delimiter=delimiter), [])
        index, problem = _bad_quote(rest, delimiter) or (None, f"not a readable CSV ({err})")
        column = None if index is None else header[index].strip() if index < len(header) else f"#{index + 1}"
        raise DataError(file, problem, row=len(records) + 1, study=_cell(cells, header, "study"),
                        column=column) from None
    return records


def _cell(cells: list[str], header: list[str], name: str) -> str | None:
    names = [h.strip() for h in header]
    if name not in names or names.index(name) >= len(cells):
        return None
    return cells[names.index(name)].strip() or None


def _text(value) -> str | None:
    """A workbook cell as the text a CSV would hold."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def _xlsx_records(path: Path, raw: bytes) -> tuple[str, list[list]]:
    """The first sheet's rows, and the name messages give the file (path and sheet)."""
    import openpyxl

    try:
        # not read_only: its rows follow the sheet's stated dimension, which spreadsheets often overstate
        book = openpyxl.load_workbook(io.BytesIO(raw), data_only=True)
        sheet = book.worksheets[0]
        records = [[_text(v) for v in row] for row in sheet.iter_rows(min_row=1, min_col=1, values_only=True)]
        title = sheet.title
    except Exception as err:  # a damaged archive raises zipfile, XML, KeyError, ... errors alike
        raise DataError(str(path), f"not a readable .xlsx workbook ({_first_line(err)}); {ACCEPTED}") from None
    return f"{path} (sheet '{title}')", records


def _records(path: Path) -> tuple[str, str | None, list[list]]:
    """(name for messages, delimiter or None for a workbook, records) of a CSV or .xlsx file."""
    file = str(path)
    with csv_errors(path):
        raw = path.read_bytes()
    if raw.startswith(ZIP_MAGIC) or path.suffix.lower() in (".xlsx", ".xlsm"):
        name, records = _xlsx_records(path, raw)
        return name, None, records
    if raw.startswith(OLE_MAGIC):
        raise DataError(file, f"an old Excel .xls workbook; save it as .xlsx or CSV: {ACCEPTED}")
    with csv_errors(path):
        text = raw.decode("utf-8-sig")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = _delimiter(first)
    return file, delimiter, _csv_records(file, text, delimiter)


def read_grid(path: str | Path) -> Table:
    """Any accepted file as a table of stripped text cells under its header (no layout change).

    The header is the first non-blank row; its names must be unique. A row with a filled cell
    beyond the header, or a broken quote, is refused with its row, study and column.
    """
    path = Path(path)
    file, delimiter, records = _records(path)
    kind = ".xlsx" if delimiter is None else f"CSV ({DELIMITERS[delimiter]})"
    rows = [i + 1 for i, cells in enumerate(records) if any(_filled(c) for c in cells)]
    if not rows:
        raise DataError(file, "the file is empty; expected a header row and data rows")
    header = [_clean(c) or f"Unnamed: {i}" for i, c in enumerate(records[rows[0] - 1])]
    while header and header[-1].startswith("Unnamed: "):  # trailing empty header cells of a spreadsheet
        header.pop()
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(file, "the column name appears twice in the header; keep one", row=rows[0], column=name)
        seen.add(name)
    body = []
    for row in rows[1:]:
        cells = [_clean(c) for c in records[row - 1]]
        extra = [j for j in range(len(header), len(cells)) if cells[j] is not None]
        if extra:
            quotes = f" (a {DELIMITERS[delimiter]} inside a value needs quotes)" if delimiter else ""
            raise DataError(file, f"the row has a value in cell {extra[0] + 1} but the header names "
                                  f"{len(header)} columns; remove it, or name its column in the header{quotes}",
                            row=row, study=_cell([c or "" for c in cells], header, "study"),
                            column=f"#{extra[0] + 1} (no header)")
        body.append(cells[:len(header)] + [None] * (len(header) - len(cells)))
    frame = pd.DataFrame(body, columns=header, dtype="str")
    unnamed = [c for c in header if c.startswith("Unnamed: ") and frame[c].isna().all()]
    frame = frame.drop(columns=unnamed)  # an empty column without a name (a sheet's margin)
    table = Table(frame=frame, file=file, rows=rows[1:], kind=kind)
    return _decimal_commas(table) if delimiter == ";" else table


def _filled(cell) -> bool:
    return _clean(cell) is not None


def _clean(cell) -> str | None:
    if cell is None:
        return None
    text = str(cell).strip()
    return text or None


def _decimal_commas(table: Table) -> Table:
    """``22,8`` -> ``22.8`` in the cells that are not names (semicolon files). A file that writes
    decimal commas may not also write decimal points: ``1.000`` could be a thousand."""
    frame = table.frame.copy()
    numbers = [c for c in frame.columns if c not in TEXT_COLUMNS]
    commas = {c: frame[c].str.fullmatch(DECIMAL_COMMA.pattern) for c in numbers}
    if not any(m.any() for m in commas.values()):
        return table
    for col in numbers:
        points = frame[col].str.fullmatch(DECIMAL_POINT.pattern)
        if points.any():
            index = points.idxmax()
            raise table.error(f"'{frame.loc[index, col]}' has a decimal point, but this file writes decimals with "
                              f"a comma; write it with a comma (a point is never a thousands separator here)",
                              index, col)
        frame.loc[commas[col], col] = frame.loc[commas[col], col].str.replace(",", ".", regex=False)
    return Table(frame=frame, file=table.file, rows=table.rows, kind=table.kind)


# ---------------------------------------------------------------- layouts

def read_table(path: str | Path) -> Table:
    """Any accepted file as the long table (one row per study x outcome)."""
    grid = read_grid(path)
    columns = list(grid.frame.columns)
    if "outcome" in columns:
        return Table(grid.frame, grid.file, grid.rows, f"long {grid.kind}")
    outcomes = {}  # outcome -> {field: header cell}, in header order
    for name in columns:
        if match := WIDE_COLUMN.fullmatch(name):
            outcomes.setdefault(match["outcome"], {})[match["field"]] = name
    if not outcomes or "study" not in columns:
        raise DataError(grid.file, f"missing required column for either layout; {ACCEPTED}",
                        row=1, column="outcome" if "study" in columns else "study")
    return _wide_to_long(grid, outcomes)


def _wide_to_long(grid: Table, outcomes: dict[str, dict[str, str]]) -> Table:
    """One long row per study and outcome with any value; the other columns are copied to each."""
    taken = [name for fields in outcomes.values() for name in fields.values()]
    others = [c for c in grid.frame.columns if c not in taken]
    for name in others:
        if name in NUMERIC_COLUMNS:
            raise DataError(grid.file, f"in a wide file the outcome columns are named <outcome>_{name}; "
                                       f"rename this column", row=1, column=name)
    for outcome, fields in outcomes.items():
        if problem := outcome_name_problem(outcome):
            raise DataError(grid.file, problem, row=1, column=next(iter(fields.values())))
    records, rows, sources = [], [], []
    for index, cells in grid.frame.iterrows():
        before = len(records)
        for outcome, fields in outcomes.items():
            values = {f: cells[name] for f, name in fields.items()}
            if all(pd.isna(v) for v in values.values()):
                continue
            records.append({**cells[others].to_dict(), "outcome": outcome, **values})
            rows.append(grid.row(index))
            sources.append({"outcome": next(iter(fields.values())), **fields})
        if len(records) == before:
            raise grid.error("the row has no outcome value; fill at least one <outcome>_... cell or delete "
                             "the row", index, taken[0])
    present = [f for f in NUMERIC_COLUMNS if any(f in fields for fields in outcomes.values())]
    frame = pd.DataFrame(records, columns=[*others, "outcome", *present], dtype="str")
    return Table(frame, grid.file, rows, f"wide {grid.kind}", sources)


def canonical_long(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Validated outcome rows in the canonical long layout: study, outcome, value_source (when
    given), the five numeric columns, the other provenance columns given, then the covariates."""
    given = [c for c in outcomes.columns if c != "kind"]
    first = [c for c in ("study", "outcome", "value_source") if c in given] + list(NUMERIC_COLUMNS)
    provenance = [c for c in PROVENANCE_COLUMNS if c in given and c not in first]
    return outcomes[first + provenance + [c for c in given if c not in CORE_COLUMNS]]
