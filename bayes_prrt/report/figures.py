"""The report's figures: which a run has (``figure_jobs``), and drawing them on two cores.

Matplotlib draws on one core, and a run's figures (34 for the default spec) take longer than
everything else the report writes. ``Drawing`` has a helper process (``processes.py``): its own,
or the run's MCMC worker once that has made its fits. Once the run is sent to it, the helper and
this process take the figures one at a time from a shared counter, the costliest first, so each
core draws while the other is busy (this process writes the posteriors and tables first). Both
draw from the same run with the same code, so the files are the same as when one process draws
them all (``tests/test_report_figures.py``). A figure the helper claimed but did not deliver (it
ended early) is drawn here; its error is raised here.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from types import SimpleNamespace

from .. import processes
from ..files import safe_slug


@dataclass(frozen=True)
class Figure:
    name: str  # file stem, made safe (files.safe_slug)
    caption: str
    plot: object  # plot(*args, path): writes the PNG (and the SVG beside it)
    args: tuple
    cost: int = 1  # drawing time, roughly, in units of the typical figure's (about 0.15 s)

    def draw(self, folder: Path) -> None:
        self.plot(*self.args, str(folder / f"{self.name}.png"))


def _plots() -> SimpleNamespace:
    """The plotting modules, imported here rather than with this one: a helper started for the MCMC fits
    imports matplotlib when its figure task begins, not before its fits."""
    from ..plots import bayes, cumulative, forest, funnel, influence, layout, sensitivity

    return SimpleNamespace(bayes=bayes, cumulative=cumulative, forest=forest, funnel=funnel, influence=influence,
                           layout=layout, sensitivity=sensitivity)


def figure_jobs(run) -> list[Figure]:
    """Every figure of the run, in report order."""
    p = _plots()
    jobs = []

    def add(plot, name, caption, *args, cost=1):
        jobs.append(Figure(safe_slug(name), caption, plot, args, cost))

    for o in run.outcomes:
        add(p.forest.plot_forest, f"forest_{o.outcome}", f"{o.outcome}: forest plot. Squares: each study's reported "
            "value and 95% CI (area proportional to the frequentist weight); blue: Bayesian shrunken estimate and 95% "
            "CrI; diamonds: pooled values, bars beneath: 95% predictive intervals", o, cost=2)
        add(p.bayes.plot_prior_posterior, f"priorpost_{o.outcome}", f"{o.outcome}: prior and posterior of mu and tau",
            o.bayes)
        add(p.bayes.plot_tau_i2, f"heterogeneity_{o.outcome}", f"{o.outcome}: posterior of tau and the Bayesian I2 "
            "(typical within-study variance of Higgins and Thompson), frequentist I2 beside it", o)
        for c in o.subgroups:
            add(p.bayes.plot_subgroups, f"subgroups_{o.outcome}_{c}", f"{o.outcome} by {c}: posterior median and "
                "95% CrI per level, with the probability of each ordering", o, c)
            add(p.bayes.plot_contrasts, f"contrasts_{o.outcome}_{c}", f"{o.outcome}: posterior of the contrasts "
                f"between {c} levels", o, c)
        add(p.influence.plot_influence, f"influence_{o.outcome}", f"{o.outcome}: leave-one-out shifts", o)
        if o.small_study is not None:
            s = o.small_study
            add(_saved(p.funnel.plot_funnel), f"funnel_{o.outcome}", f"{o.outcome}: funnel plot on the {s.measure} "
                f"scale (open circles: the {s.trimfill.k0} studies trim-and-fill adds)", s.funnel_points(),
                s.trimfill.fit.estimate)
        if o.cumulative is not None:
            unit = "proportion" if o.kind == "binary" else "months"
            add(_saved(partial(p.cumulative.plot_cumulative, xlabel=f"pooled {o.outcome} ({unit}), 95% CI",
                               title=f"{o.outcome}: cumulative meta-analysis")), f"cumulative_{o.outcome}",
                f"{o.outcome}: cumulative meta-analysis in order of publication year (each row adds one study)",
                o.cumulative.steps)
    add(p.sensitivity.plot_sensitivity, "sensitivity", "Pooled estimate per prior and per data scenario",
        [o.sensitivity for o in run.outcomes], {o.outcome: o.kind for o in run.outcomes}, cost=5)
    return jobs


def _claim_order(jobs: list[Figure]) -> list[int]:
    """The order in which the two processes take the figures: the costliest first, so that neither is left
    with a long one at the end while the other waits."""
    return sorted(range(len(jobs)), key=lambda i: -jobs[i].cost)


def _saved(plot):
    """A plot that returns its Figure, as a drawing step that writes PNG (and SVG) to the path."""
    def draw(*args):
        *data, path = args
        _plots().layout.save(plot(*data), path)

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
    """The helper's task: import the plotting modules, receive (run, folder), then draw the figures it claims,
    reporting each index (or the error)."""
    _plots()
    while True:
        try:
            run, folder = inbox.get(timeout=processes.POLL_S)
            break
        except queue.Empty:  # wait on while the run's process lives
            if processes.parent_gone():
                return
    jobs = figure_jobs(run)
    order = _claim_order(jobs)
    while (claim := _claim(counter)) < len(jobs) and not processes.parent_gone():
        index = order[claim]
        try:
            jobs[index].draw(folder)
        except Exception as err:  # noqa: BLE001 - raised in the run's process, where the report is written
            outbox.put(("error", index, err))
            return
        outbox.put(("done", index, None))


class Drawing:
    """The figures of one report, drawn by this process and (with two or more cores) a helper.
    ``send(run, folder)`` hands the helper its work; ``finish()`` draws here what is left, waits for the
    helper and returns name -> caption; ``close()`` stops the helper (at once if it is still drawing).
    ``start=False``: no helper is started; ``task`` is then to be run by a helper started for other work
    first (``processes.start``), given to ``attach`` (the CLI gives it to the MCMC worker)."""

    def __init__(self, start: bool = True) -> None:
        self._process, self.task = None, None
        if processes.available():
            self._inbox, self._outbox = processes.CONTEXT.Queue(), processes.CONTEXT.Queue()
            self._counter = processes.CONTEXT.Value("i", 0)
            self.task = (_helper, (self._inbox, self._counter, self._outbox))
            if start:
                self.attach(processes.start(self.task))

    def attach(self, process) -> None:
        """The helper that runs ``task``."""
        self._process = process

    def send(self, run, folder: Path) -> None:
        self._run, self._folder = run, folder
        if self._process is not None:
            self._inbox.put((run, folder))

    def finish(self) -> dict[str, str]:
        if self._process is None:
            return figures(self._run, self._folder)
        jobs, done = figure_jobs(self._run), set()
        order = _claim_order(jobs)
        while (claim := _claim(self._counter)) < len(jobs):
            jobs[order[claim]].draw(self._folder)
            done.add(order[claim])
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
