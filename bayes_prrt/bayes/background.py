"""MCMC fits made in a second process while this one goes on with the exact engine.

A run's MCMC cross-checks (``mcmc = "headline"``: one fit per outcome) take most of their time
in NUTS, which is independent of everything else the run computes. On a machine with two or
more cores they are made, in order, by one helper process (``processes.py``: spawned, ignoring
Ctrl-C, ending with the run), and each result is taken when the run first needs it, so the run
costs about the longer of the two parts instead of their sum. The helper imports PyMC itself,
which this process then needs only if it takes fits back (below). It runs the same code with the
same settings as the run would, so the draws are the same as without it
(``tests/test_background.py``). With one core the fits are made in this process when asked
for. A job may also be another call (``submit_call``): the run gives the worker the twice-finer
refits of its exact posteriors' error bounds, which it makes after the fits. Once told that no
more jobs will come (``end_jobs``), the helper goes on to the tasks it was started with after
them (the CLI gives it the report's figures).

Taking fits back: when this process first waits for a fit while the worker has not finished its
first (with empty compile caches the worker spends its first 12-20 s compiling the binomial
model), it takes back, from the end, the jobs the worker has not started whose kind (binary,
median, or another call) differs from the first job's, and makes them here, on the core that
would otherwise wait. Submitted in the pipeline's order (binomial outcomes first, the error
bounds' refits last), those are the refits and the log-median fits, whose model this process
then compiles meanwhile. A shared range (the next job the worker
takes, the end of its jobs) under one lock decides which process makes each fit; the worker stops
at the end. With warm caches the worker has long made its first fit when the run first waits, and
nothing is taken back.
"""

from __future__ import annotations

import queue

from .. import processes
from ..errors import AnalysisError

available = processes.available
NEXT, END, DONE = range(3)  # the shared range: next job the worker takes, end of its jobs, fits it has made


def _counters() -> list[tuple[dict, str]]:
    """The MCMC counts a run reports (fits, gate refits, compilations, compiled models reused)."""
    from . import compiled, sampling

    return [(sampling.STATS, "fits"), (sampling.STATS, "refits"), (compiled.STATS, "compiled"),
            (compiled.STATS, "reused")]


def mcmc_fit(rows, priors, settings, rules):
    """The MCMC fit of ``rows`` under ``priors`` (``rules``: for medians, ``FitMemo.rules``)."""
    from .fit import bayes_pool

    return bayes_pool(rows, priors=priors, engine="mcmc", settings=settings, **rules)


def _fit(job):
    """(value, counts) of one job, a (target, args) pair: ``target(*args)`` and the MCMC counts it added."""
    target, args = job
    before = [table[name] for table, name in _counters()]
    value = target(*args)
    return value, [table[name] - b for (table, name), b in zip(_counters(), before, strict=True)]


def _kind(job) -> str | None:
    """An MCMC fit's outcome kind (binary, median; None without rows: its fit fails with its own error), or the
    name of another job's target."""
    target, args = job
    if target is not mcmc_fit:
        return target.__name__
    rows = args[0]
    return rows["kind"].iloc[0] if len(rows) else None


def _work(jobs, results, shared) -> None:
    """The worker: import PyMC and the models at once (a job may come before the run has read its data),
    then fit each job from ``jobs`` until None, and send (fit, counts) or the error, in order; a job at or
    past the shared end was taken back by the run and is skipped."""
    import pymc  # noqa: F401 - imported now, while the run reads its data

    for index, job in enumerate(_jobs(jobs)):
        with shared.get_lock():
            if index >= shared[END]:
                continue  # taken back (so is every later job)
            shared[NEXT] = index + 1
        try:
            results.put(("fit", *_fit(job)))
        except Exception as err:  # noqa: BLE001 - sent to the run, which raises it where the fit is asked for
            results.put(("error", err, None))
        with shared.get_lock():
            shared[DONE] += 1


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
        self._shared = processes.CONTEXT.Array("i", 3)  # NEXT, END, DONE
        self.process = processes.start((_work, (self._jobs, self._results, self._shared)), *then)
        self._submitted: list = []
        self._received: list = []
        self._ended = False
        self._taking = None  # decided when the run first waits: True while it takes fits back
        self._taken: dict[int, tuple] = {}  # index -> ("fit", fit) or ("error", err), made here

    def submit(self, rows, priors, settings, rules: dict | None = None) -> int:
        """Queue the MCMC fit of ``rows`` under ``priors`` with the MCMC ``settings`` (and, for medians, the
        memo's ``rules``); returns its index for ``result``."""
        return self.submit_call(mcmc_fit, rows, priors, settings, rules or {})

    def submit_call(self, target, *args) -> int:
        """Queue ``target(*args)`` (a module-level function and picklable arguments), made in turn after the jobs
        before it; returns its index for ``result``."""
        job = (target, args)
        with self._shared.get_lock():
            self._shared[END] += 1
        self._jobs.put(job)
        self._submitted.append(job)
        return len(self._submitted) - 1

    def result(self, index: int):
        """Job ``index``'s fit or value (waiting for it, or making it here if taken back); the worker's MCMC counts
        are added to this process's."""
        while index not in self._taken and len(self._received) <= index:
            if self._take_back():
                continue
            try:
                kind, value, extra = processes.receive(self._results, self.process, "MCMC worker")
            except RuntimeError as err:
                raise AnalysisError(f"{err}; run again with mcmc = 'none' to skip the cross-checks") from None
            if kind == "fit":  # the worker's counts join this process's
                for (table, name), count in zip(_counters(), extra, strict=True):
                    table[name] += count
            self._received.append((kind, value))
        kind, value = self._taken[index] if index in self._taken else self._received[index]
        if kind == "error":
            raise value
        return value

    def _take_back(self) -> bool:
        """Make here the last job the worker has not started, if the run first waited (after ``end_jobs``) while
        the worker was still on its first fit, and that job's kind (binary, median, or another job's target) is
        not the first job's: its model is then another than the one the worker compiles. True if one was made."""
        if self._taking is None and self._ended:
            with self._shared.get_lock():
                self._taking = self._shared[DONE] == 0
        if not self._taking:
            return False
        with self._shared.get_lock():
            index = self._shared[END] - 1
            if index < max(self._shared[NEXT], 1) or _kind(self._submitted[index]) == _kind(self._submitted[0]):
                self._taking = False
                return False
            self._shared[END] = index
        try:
            self._taken[index] = ("fit", _fit(self._submitted[index])[0])
        except Exception as err:  # noqa: BLE001 - raised where the fit is asked for, as the worker's would be
            self._taken[index] = ("error", err)
        return True

    def end_jobs(self) -> None:
        """No more fits will be submitted: once the worker has made those it has, it goes on to its ``then`` tasks
        (without any, it ends); from now on this process may take back fits the worker has not started."""
        self._ended = True
        self._jobs.put(None)

    def close(self) -> None:
        """Stop the worker (at once, if the run ends early) and release its queues."""
        processes.stop(self.process, self._jobs, self._results)
