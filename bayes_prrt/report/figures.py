"""The report's figures: which a run has (``figure_jobs``), and drawing them on two cores.

Matplotlib draws on one core, and a run's figures (34 for the default spec) take longer than
everything else the report writes. ``Drawing`` starts a helper process (``processes.py``) when
the report begins; once the run is sent to it, the helper and this process take the figures one
at a time from a shared counter, so each core draws while the other is busy (this process writes
the tables first). Both draw from the same run with the same code, so the files are the same as
when one process draws them all (``tests/test_report_figures.py``). A figure the helper claimed
but did not deliver (it ended early) is drawn here; its error is raised here.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .. import processes
from ..files import safe_slug
from ..plots.bayes import plot_contrasts, plot_prior_posterior, plot_subgroups, plot_tau_i2
from ..plots.cumulative import plot_cumulative
from ..plots.forest import plot_forest
from ..plots.funnel import plot_funnel
from ..plots.influence import plot_influence
from ..plots.layout import save
from ..plots.sensitivity import plot_sensitivity


@dataclass(frozen=True)
class Figure:
    name: str  # file stem, made safe (files.safe_slug)
    caption: str
    plot: object  # plot(*args, path): writes the PNG (and the SVG beside it)
    args: tuple

    def draw(self, folder: Path) -> None:
        self.plot(*self.args, str(folder / f"{self.name}.png"))


def figure_jobs(run) -> list[Figure]:
    """Every figure of the run, in report order."""
    jobs = []

    def add(plot, name, caption, *args):
        jobs.append(Figure(safe_slug(name), caption, plot, args))

    for o in run.outcomes:
        add(plot_forest, f"forest_{o.outcome}", f"{o.outcome}: forest plot. Squares: each study's reported value "
            "and 95% CI (area proportional to the frequentist weight); blue: Bayesian shrunken estimate and 95% CrI; "
            "diamonds: pooled values, bars beneath: 95% predictive intervals", o)
        add(plot_prior_posterior, f"priorpost_{o.outcome}", f"{o.outcome}: prior and posterior of mu and tau", o.bayes)
        add(plot_tau_i2, f"heterogeneity_{o.outcome}", f"{o.outcome}: posterior of tau and the Bayesian I2 "
            "(typical within-study variance of Higgins and Thompson), frequentist I2 beside it", o)
        for c in o.subgroups:
            add(plot_subgroups, f"subgroups_{o.outcome}_{c}", f"{o.outcome} by {c}: posterior median and 95% CrI "
                "per level, with the probability of each ordering", o, c)
            add(plot_contrasts, f"contrasts_{o.outcome}_{c}", f"{o.outcome}: posterior of the contrasts between "
                f"{c} levels", o, c)
        add(plot_influence, f"influence_{o.outcome}", f"{o.outcome}: leave-one-out shifts", o)
        if o.small_study is not None:
            s = o.small_study
            add(_saved(plot_funnel), f"funnel_{o.outcome}", f"{o.outcome}: funnel plot on the {s.measure} scale "
                f"(open circles: the {s.trimfill.k0} studies trim-and-fill adds)", s.funnel_points(),
                s.trimfill.fit.estimate)
        if o.cumulative is not None:
            unit = "proportion" if o.kind == "binary" else "months"
            add(_saved(partial(plot_cumulative, xlabel=f"pooled {o.outcome} ({unit}), 95% CI",
                               title=f"{o.outcome}: cumulative meta-analysis")), f"cumulative_{o.outcome}",
                f"{o.outcome}: cumulative meta-analysis in order of publication year (each row adds one study)",
                o.cumulative.steps)
    add(plot_sensitivity, "sensitivity", "Pooled estimate per prior and per data scenario",
        [o.sensitivity for o in run.outcomes], {o.outcome: o.kind for o in run.outcomes})
    return jobs


def _saved(plot):
    """A plot that returns its Figure, as a drawing step that writes PNG (and SVG) to the path."""
    def draw(*args):
        *data, path = args
        save(plot(*data), path)

    return draw


def figures(run, folder: Path) -> dict[str, str]:
    """Draw every figure into ``folder`` in this process; returns name -> caption."""
    jobs = figure_jobs(run)
    for job in jobs:
        job.draw(folder)
    return {job.name: job.caption for job in jobs}


def _claim(counter) -> int:
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    return index


def _helper(inbox, counter, outbox) -> None:
    """The helper: receive (run, folder), then draw the figures it claims, reporting each index (or the error)."""
    while True:
        try:
            run, folder = inbox.get(timeout=processes.POLL_S)
            break
        except queue.Empty:  # wait on while the run's process lives
            if processes.parent_gone():
                return
    jobs = figure_jobs(run)
    while (index := _claim(counter)) < len(jobs) and not processes.parent_gone():
        try:
            jobs[index].draw(folder)
        except Exception as err:  # noqa: BLE001 - raised in the run's process, where the report is written
            outbox.put(("error", index, err))
            return
        outbox.put(("done", index, None))


class Drawing:
    """The figures of one report, drawn by this process and (with two or more cores) a helper.
    ``send(run, folder)`` hands the helper its work; ``finish()`` draws here what is left, waits for the
    helper and returns name -> caption; ``close()`` stops the helper (at once if it is still drawing)."""

    def __init__(self) -> None:
        self._process = None
        if processes.available():
            self._inbox, self._outbox = processes.CONTEXT.Queue(), processes.CONTEXT.Queue()
            self._counter = processes.CONTEXT.Value("i", 0)
            self._process = processes.start(_helper, self._inbox, self._counter, self._outbox)

    def send(self, run, folder: Path) -> None:
        self._run, self._folder = run, folder
        if self._process is not None:
            self._inbox.put((run, folder))

    def finish(self) -> dict[str, str]:
        if self._process is None:
            return figures(self._run, self._folder)
        jobs, done = figure_jobs(self._run), set()
        while (index := _claim(self._counter)) < len(jobs):
            jobs[index].draw(self._folder)
            done.add(index)
        try:
            while len(done) < len(jobs):
                kind, index, err = processes.receive(self._outbox, self._process, "figure drawing")
                if kind == "error":
                    raise err
                done.add(index)
        except RuntimeError:  # the helper ended early: draw what it did not deliver
            for index in sorted(set(range(len(jobs))) - done):
                jobs[index].draw(self._folder)
        return {job.name: job.caption for job in jobs}

    def close(self) -> None:
        if self._process is not None:
            processes.stop(self._process, self._inbox, self._outbox)
            self._process = None
