"""Progress display for the sequence of fits: rich on a terminal, silent otherwise or with --quiet."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


@contextmanager
def progress_display(quiet: bool):
    """Yields ``step(label)``; shows it only when not quiet and stderr is a terminal."""
    if quiet or not sys.stderr.isatty():
        yield lambda label: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("starting", total=None)
        yield lambda label: bar.update(task, description=label)
