"""Plain-text rendering of result tables with rich; formats, never computes.

Everything printed is shown literally: study and outcome names, notes and file paths come from
the user, so the console interprets no rich markup (``[/bold]A`` would raise MarkupError) and no
emoji codes, and every control character (ESC starts the sequences that recolour the terminal
or set its window title) is shown escaped, as ``\\x1b``. Emphasis is a ``style``, never markup.
"""

from __future__ import annotations

import math

import pandas as pd
from rich.console import Console
from rich.table import Table

# C0 controls except tab and newline, DEL, and C1 controls (U+009B is a one-character ESC [)
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0))}


def plain(text) -> str:
    """``text`` with its control characters escaped (``\\x1b``), safe to show on a terminal."""
    return str(text).translate(_CONTROL)


class PlainConsole(Console):
    """A rich Console that renders every string literally (see the module docstring): no markup,
    no emoji codes, control characters escaped. Covers print(), table cells and titles."""

    def render_str(self, text: str, **kwargs):
        kwargs.update(markup=False, emoji=False)
        return super().render_str(plain(text), **kwargs)


console = PlainConsole(highlight=False, soft_wrap=False, width=160)


def fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def print_frame(frame: pd.DataFrame, title: str | None = None, digits: int = 4) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(fmt(v, digits) for v in row))
    console.print(table)
