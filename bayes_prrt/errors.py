"""Exceptions raised by bayes-prrt.

Every error a user can cause is a :class:`BayesPrrtError` (a ``ValueError``) whose
message is one line that says what is wrong and what to change; the CLI prints it
and exits with status 2, without a traceback.
"""

from __future__ import annotations


class BayesPrrtError(ValueError):
    """Base class of the package's own, user-facing errors."""


class DataError(BayesPrrtError):
    """A problem in an input CSV, located by file, row, study and column.

    ``row`` is the spreadsheet row number: the header is row 1, the first record row 2.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        row: int | None = None,
        study: str | None = None,
        column: str | None = None,
    ) -> None:
        self.file, self.problem = file, problem
        self.row, self.study, self.column = row, study, column
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if study:
            where.append(f"study '{study}'")
        if column:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {problem}")


class AnalysisError(BayesPrrtError):
    """An analysis that cannot be run as asked (too few studies, unknown option...)."""
