"""Progress of the sequence of fits: "step n of N", the step's name, elapsed and remaining time.

On a terminal one live line (rich); when stderr is not a terminal a plain line per step (for
logs and CI); nothing with --quiet. The remaining time is the mean time of the steps done so
far times the steps left, so it is rough while the first, slowest fits compile.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from rich.progress import Progress, SpinnerColumn, TextColumn

from ..errors import plain


def analysis_steps(spec) -> int:
    """The steps ``run_analysis`` announces for ``spec`` (pooling, one per covariate and the
    sensitivity analysis per outcome; the error bounds; the MCMC cross-checks), plus writing the report."""
    return len(spec.outcomes) * (3 + len(spec.covariates)) + 2 + (spec.mcmc != "none")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def step_line(n: int, total: int | None, label: str, elapsed: float) -> str:
    """'step 3 of 13: DCR: sensitivity (0:42 elapsed, about 2:20 left)'."""
    if not total:
        return f"step {n}: {label} ({_clock(elapsed)} elapsed)"
    total = max(total, n)
    left = "" if n == 1 else f", about {_clock(elapsed / (n - 1) * (total - n + 1))} left"
    return f"step {n} of {total}: {label} ({_clock(elapsed)} elapsed{left})"


class Steps:
    """``step(label)``: announces the next step through ``show(line)``."""

    def __init__(self, total: int | None, show, clock=time.perf_counter):
        self.total, self.show, self.clock = total, show, clock
        self.n, self.start = 0, clock()

    def __call__(self, label: str) -> None:
        self.n += 1
        self.show(step_line(self.n, self.total, label, self.clock() - self.start))


@contextmanager
def progress_display(quiet: bool, total: int | None = None, stream=None):
    """Yields ``step(label)``: silent when quiet, a live line on a terminal, else a line per step."""
    stream = stream or sys.stderr
    if quiet:
        yield lambda label: None
        return
    if not stream.isatty():
        yield Steps(total, lambda line: print(plain(line), file=stream, flush=True))
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), transient=True) as bar:
        task = bar.add_task("starting", total=None)
        yield Steps(total, lambda line: bar.update(task, description=plain(line)))
