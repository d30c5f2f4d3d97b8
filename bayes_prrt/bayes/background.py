"""MCMC fits made in a second process while this one goes on with the exact engine.

A run's MCMC cross-checks (``mcmc = "headline"``: one fit per outcome) take most of their time
in NUTS, which is independent of everything else the run computes. On a machine with two or
more cores they are made, in order, by one helper process (``processes.py``: spawned, ignoring
Ctrl-C, ending with the run), and each result is taken when the run first needs it, so the run
costs about the longer of the two parts instead of their sum. The helper imports PyMC itself,
which this process then never needs. It runs the same code with the same settings as the run
would, so the draws are the same as without it (``tests/test_background.py``). With one core
the fits are made in this process when asked for. Once told that no more fits will come
(``end_jobs``), the helper goes on to the tasks it was started with after the fits (the CLI gives
it the report's figures).
"""

from __future__ import annotations

import queue

from .. import processes
from ..errors import AnalysisError

available = processes.available


def _counters() -> list[tuple[dict, str]]:
    """The MCMC counts a run reports (fits, gate refits, compilations, compiled models reused)."""
    from . import compiled, sampling

    return [(sampling.STATS, "fits"), (sampling.STATS, "refits"), (compiled.STATS, "compiled"),
            (compiled.STATS, "reused")]


def _work(jobs, results) -> None:
    """The worker: import PyMC and the models at once (a job may come before the run has read its data),
    then fit each (rows, priors, settings, rules) job from ``jobs`` by MCMC (``rules``: for medians,
    ``FitMemo.rules``) until None, and send (fit, counts) or the error, in order."""
    import pymc  # noqa: F401 - imported now, while the run reads its data

    from .fit import bayes_pool

    for rows, priors, settings, rules in _jobs(jobs):
        before = [table[name] for table, name in _counters()]
        try:
            fit = bayes_pool(rows, priors=priors, engine="mcmc", settings=settings, **rules)
            results.put(("fit", fit, [table[name] - b for (table, name), b in zip(_counters(), before, strict=True)]))
        except Exception as err:  # noqa: BLE001 - sent to the run, which raises it where the fit is asked for
            results.put(("error", err, None))


def _jobs(jobs):
    """The submitted jobs until None, or until the run's process has ended (then this one ends too)."""
    while True:
        try:
            job = jobs.get(timeout=processes.POLL_S)
        except queue.Empty:
            if processes.parent_gone():
                return
            continue
        if job is None:
            return
        yield job


class BackgroundFits:
    """MCMC fits (no covariates) made by one worker process in the order they are submitted. This module
    imports nothing heavy, so that a run can start the worker first thing (the CLI does). ``then``: tasks,
    (target, args) pairs, the worker runs after its fits (``processes.start``)."""

    def __init__(self, then: tuple = ()) -> None:
        self._jobs, self._results = processes.CONTEXT.Queue(), processes.CONTEXT.Queue()
        self.process = processes.start((_work, (self._jobs, self._results)), *then)
        self._submitted = 0
        self._received: list = []

    def submit(self, rows, priors, settings, rules: dict | None = None) -> int:
        """Queue the MCMC fit of ``rows`` under ``priors`` with the MCMC ``settings`` (and, for medians, the
        memo's ``rules``); returns its index for ``result``."""
        self._jobs.put((rows, priors, settings, rules or {}))
        self._submitted += 1
        return self._submitted - 1

    def result(self, index: int):
        """Job ``index``'s fit (waiting for it); the worker's MCMC counts are added to this process's."""
        while len(self._received) <= index:
            try:
                kind, value, extra = processes.receive(self._results, self.process, "MCMC worker")
            except RuntimeError as err:
                raise AnalysisError(f"{err}; run again with mcmc = 'none' to skip the cross-checks") from None
            if kind == "fit":  # the worker's counts join this process's
                for (table, name), count in zip(_counters(), extra, strict=True):
                    table[name] += count
            self._received.append((kind, value))
        kind, value = self._received[index]
        if kind == "error":
            raise value
        return value

    def end_jobs(self) -> None:
        """No more fits will be submitted: once the worker has made those it has, it goes on to its ``then`` tasks
        (without any, it ends)."""
        self._jobs.put(None)

    def close(self) -> None:
        """Stop the worker (at once, if the run ends early) and release its queues."""
        processes.stop(self.process, self._jobs, self._results)
