"""Progress display for the sequence of fits: rich on a terminal, silent otherwise or with --quiet."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..report.console import plain


@contextmanager
def progress_display(quiet: bool):
    """Yields ``step(label)``; shows it only when not quiet and stderr is a terminal."""
    if quiet or not sys.stderr.isatty():
        yield lambda label: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
                  transient=True) as bar:  # a label names an outcome: shown literally (see report.console)
        task = bar.add_task("starting", total=None)
        yield lambda label: bar.update(task, description=plain(label))
