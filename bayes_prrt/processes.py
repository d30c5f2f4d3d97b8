"""Helper processes of a run: started fresh, ignoring Ctrl-C, ending when the run's process has gone.

A run uses a second core with one helper: the MCMC cross-checks (``bayes/background.py``) while
the exact engine works, then half of the figures (``report/figures.py``), whose modules it imports
as soon as its last fit is made. A helper is started with "spawn", not fork: a forked copy of a
process with threads can deadlock. It inherits SIGINT ignored, so Ctrl-C is the run's to handle from the helper's first
instruction (the run stops it); it polls for the run's process and ends by itself when that has gone.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading

CONTEXT = multiprocessing.get_context("spawn")
POLL_S = 1.0  # how often a waiting helper, or the run waiting for it, checks that the other is alive


def available() -> bool:
    """True where a helper helps: at least two cores."""
    return (os.cpu_count() or 1) >= 2


def start(*tasks) -> multiprocessing.Process:
    """Start a spawned daemon process that ignores SIGINT (see the module docstring) and runs the ``tasks``,
    (target, args) pairs, one after the other: one helper can serve the MCMC fits, then the figures.
    SIGTERM is held back while it starts: if one comes meanwhile, the helper is stopped before the
    signal's handler (the run's) raises here, so no half-started helper is left behind."""
    process = CONTEXT.Process(target=_run, args=tasks, daemon=True)
    if threading.current_thread() is not threading.main_thread():  # only there can signals be set
        process.start()
        return process
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the helper
    held = hold_signals({signal.SIGTERM})
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        release_signals(held)  # a SIGTERM held back is handled here
    except BaseException:
        stop(process)
        raise
    return process


def hold_signals(signums) -> object:
    """Block the signals ``signums`` in the main thread (elsewhere: nothing); returns what ``release_signals``
    needs. For a step an interrupt must not split, such as creating a folder and entering the ``try``
    that removes it."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, set(signums))


def release_signals(held) -> None:
    """Unblock what ``hold_signals`` blocked; a signal that came meanwhile is handled now (its handler may
    raise here)."""
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _run(*tasks) -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # blocked while it started (inherited)
    for target, args in tasks:
        target(*args)


def parent_gone() -> bool:
    """In a helper: True once the run's process has ended."""
    parent = multiprocessing.parent_process()
    return parent is not None and not parent.is_alive()


def receive(source, process: multiprocessing.Process, what: str):
    """The next item of the queue ``source``, fed by the helper ``process``; ``RuntimeError`` naming
    ``what`` if the helper ends without sending one."""
    while True:
        try:
            return source.get(timeout=POLL_S)
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"the {what} process ended unexpectedly (exit code {process.exitcode})") from None


def stop(process: multiprocessing.Process, *queues) -> None:
    """End the helper at once (SIGKILL: it holds nothing to clean up, and one still starting has SIGTERM
    blocked) and release its queues."""
    if process.is_alive():
        process.kill()
    process.join()
    for q in queues:
        q.cancel_join_thread()  # what the helper did not read is dropped (else exit waits to write it)
        q.close()
