"""Exceptions raised by bayes-prrt.

Every error a user can cause is a :class:`BayesPrrtError` (a ``ValueError``) whose
message is one line that says what is wrong and what to change; the CLI prints it
and exits with status 2, without a traceback.
"""

from __future__ import annotations

# every character str.splitlines() breaks at, shown escaped so that a message stays one line
_LINE_BREAKS = {ord(c): c.encode("unicode_escape").decode() for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """``text`` with its line breaks escaped (a cell value or key quoted in a message may hold one)."""
    return str(text).translate(_LINE_BREAKS)


# C0 controls except tab and newline, DEL, and C1 controls (U+009B is a one-character ESC [)
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0))}


def plain(text) -> str:
    """``text`` with its control characters escaped (``\\x1b``), safe to show on a terminal: a study
    name from the data cannot recolour it or set its window title."""
    return str(text).translate(_CONTROL)


class BayesPrrtError(ValueError):
    """Base class of the package's own, user-facing errors; the message is always one line."""

    def __init__(self, message: str = "", *args) -> None:
        super().__init__(one_line(message), *args)


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


class ExactUnavailable(AnalysisError):
    """The exact engine does not take this model (its priors, covariates, or a posterior its grid does
    not hold); MCMC does."""
