"""Plain-text rendering of result tables with rich; formats, never computes."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from ..formatting import fmt

console = Console(highlight=False, soft_wrap=False, width=160)


def print_text(text: str) -> None:
    """Plain text, printed as it is (no console markup is read in it)."""
    console.print(text, markup=False)


def print_frame(frame: pd.DataFrame, title: str | None = None, digits: int = 4) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(fmt(v, digits) for v in row))
    console.print(table)
