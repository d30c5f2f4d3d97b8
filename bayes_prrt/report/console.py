"""Plain-text rendering of result tables with rich; formats, never computes.

Tables are laid out for a 100-column terminal: numbers never break, text columns wrap at
whole words and no header breaks inside a word; a table that cannot fit so is printed as
one block per record ("column: value" lines) instead.

Everything printed is shown literally: study and outcome names, notes and file paths come from
the user, so the console interprets no rich markup (``[/bold]A`` would raise MarkupError) and no
emoji codes, and every control character (ESC starts the sequences that recolour the terminal
or set its window title) is shown escaped, as ``\\x1b``. Emphasis is a ``style``, never markup.
"""

from __future__ import annotations

import textwrap

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from ..errors import plain
from ..formatting import fmt

TABLE_WIDTH = 100  # columns a table may take
MIN_TEXT = 12  # narrowest a wrapped text column may become
GAP = 2  # spaces between two columns

class PlainConsole(Console):
    """A rich Console that renders every string literally (see the module docstring): no markup,
    no emoji codes, control characters escaped. Covers print(), table cells and titles."""

    def render_str(self, text: str, **kwargs):
        kwargs.update(markup=False, emoji=False)
        return super().render_str(plain(text), **kwargs)


console = PlainConsole(highlight=False, soft_wrap=False, width=160)


def print_text(text: str, width: int | None = None) -> None:
    """Plain text, printed as it is (no console markup is read in it), wrapped at ``width``."""
    console.print(text, markup=False, width=width)


def _longest_word(text: str) -> int:
    return max((len(w) for w in str(text).split()), default=0)


def _is_text(cells: list[str]) -> bool:
    """A column to wrap: some cell holds several words."""
    return any(" " in c.strip() for c in cells)


def _is_number(cells: list[str]) -> bool:
    def number(c):
        try:
            float(c)
        except ValueError:
            return c in ("-", "\u2013")
        return True
    return bool(cells) and all(number(c) for c in cells)


def _widths(headers: list[str], columns: list[list[str]], wrap: list[bool]) -> list[int]:
    """Narrowest width of each column: unwrapped cells whole, wrapped text at its longest word (at
    least MIN_TEXT, or its full width if narrower), headers never broken inside a word."""
    out = []
    for header, cells, text in zip(headers, columns, wrap, strict=True):
        lines = [max(len(line) for line in c.split("\n")) for c in cells]
        full = max([*lines, len(header)])
        cell = min(full, max(MIN_TEXT, *(_longest_word(c) for c in cells))) if text else max(lines, default=0)
        out.append(max(_longest_word(header), cell))
    return out


def print_records(headers: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """One block per record, 'column: value' per line."""
    if title:
        console.print(title)
    for i, row in enumerate(rows):
        grid = Table.grid(padding=(0, GAP))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for header, value in zip(headers, row, strict=True):
            grid.add_row(f"  {header}", value)
        if i:
            console.print()
        console.print(grid, width=TABLE_WIDTH)


def print_cells(headers: list[str], rows: list[list[str]], title: str | None = None,
                nowrap: list[bool] | None = None) -> None:
    """Strings as a table that fits TABLE_WIDTH columns, or as records when it cannot. ``nowrap``
    marks the columns never to break (default: those whose cells are single words)."""
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in headers]
    wrap = [not n for n in nowrap] if nowrap is not None else [_is_text(c) for c in columns]
    widths = _widths(headers, columns, wrap)
    if sum(widths) + GAP * (len(widths) - 1) > TABLE_WIDTH:
        print_records(headers, rows, title)
        return
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                  pad_edge=False, show_edge=False)
    for header, cells, width, text in zip(headers, columns, widths, wrap, strict=True):
        table.add_column("\n".join(textwrap.wrap(header, width, break_long_words=False)), min_width=width,
                         no_wrap=not text, overflow="fold",
                         justify="right" if _is_number(cells) else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table, width=TABLE_WIDTH)


def print_table(table, title: str | None = None) -> None:
    """A ``display.Table`` (strings with units and fixed decimals)."""
    print_cells(table.headers, table.rows, title, table.nowrap)


def print_frame(frame: pd.DataFrame, title: str | None = None, digits: int = 4) -> None:
    print_cells([str(c) for c in frame.columns], [[fmt(v, digits) for v in row]
                                                  for row in frame.itertuples(index=False)], title)
