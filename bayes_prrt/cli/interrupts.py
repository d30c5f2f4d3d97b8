"""SIGINT (Ctrl-C) and SIGTERM: one line and exit status 130/143, never a traceback.

While the command's libraries load nothing has been written yet, so the process just ends
(``install_loading_handlers``). Once a command runs, the signal is raised as ``Interrupted``
so that every ``finally`` block (the removal of temporary result folders, PyMC's worker
processes) runs first (``interruptible``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _quit_while_loading(signum, frame):  # pragma: no cover - exercised by tests/test_interrupt.py
    """Before and after a command: end the process at once (nothing is being written)."""
    sys.stderr.write(f"interrupted; {interrupted_detail()}\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def install_loading_handlers() -> None:
    """End the process with one line on SIGINT/SIGTERM while the command's libraries load."""
    for s in INTERRUPT_SIGNALS:
        signal.signal(s, _quit_while_loading)


class Interrupted(BaseException):
    """SIGINT or SIGTERM during a command.

    Unwinds like KeyboardInterrupt, so ``finally`` blocks and context managers run, but is not
    swallowed by code that catches KeyboardInterrupt: PyMC's sampler does, and would carry on
    with the draws made so far.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum  # the command exits with 128 + signum: 130 for SIGINT, 143 for SIGTERM


# owner: the process running the command; pending: the signal being handled, or None;
# done: the command has ended; output: (folder, its identity before) while `run` writes.
_handler_state = {"owner": None, "pending": None, "done": False, "output": None}
REDELIVER_S = 0.05


def interrupted_detail() -> str:
    watched = _handler_state.get("output")
    if watched is not None and identity(watched[0]) not in (None, watched[1]):
        return f"the results were complete and are in {watched[0]}"  # the signal came after the final move
    return "no results written"


def _on_signal(signum, frame):
    if os.getpid() != _handler_state["owner"]:
        # a worker forked while the command ran (PyMC's chains): behave as without this handler
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _handler_state["done"]:
        return
    if _handler_state["pending"] is not None:  # a second signal while cleaning up after the first: stop now
        sys.stderr.write("interrupted again; stopping without cleaning up\n")
        os._exit(128 + signum)
    _handler_state["pending"] = signum
    raise Interrupted(signum)


def _redeliver(signum: int) -> None:
    if not _handler_state["done"]:
        _handler_state["pending"] = None
        os.kill(os.getpid(), signum)


def _unraisable_hook(previous):
    """Python drops an exception raised where it cannot propagate (a finaliser, a callback from C
    such as numba's LLVM hooks) and prints "Exception ignored". An ``Interrupted`` dropped there
    is delivered again a moment later, from a timer, so that it lands in ordinary code."""

    def hook(unraisable):
        if isinstance(unraisable.exc_value, Interrupted):
            timer = threading.Timer(REDELIVER_S, _redeliver, (unraisable.exc_value.signum,))
            timer.daemon = True
            timer.start()
            return
        previous(unraisable)

    return hook


@contextmanager
def interruptible():
    """SIGINT and SIGTERM raise ``Interrupted`` while a command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in INTERRUPT_SIGNALS}
    previous_hook = sys.unraisablehook
    _handler_state.update(owner=os.getpid(), pending=None, done=False, output=None)
    sys.unraisablehook = _unraisable_hook(previous_hook)
    for s in INTERRUPT_SIGNALS:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        _handler_state["done"] = True
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook = previous_hook


def identity(path: Path):
    """(device, inode) of a folder, or None: tells a replaced --out folder from the one before."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def watch_output(out: Path) -> None:
    """Remember ``out`` and its identity now, so an interrupt can tell whether it was replaced."""
    _handler_state["output"] = (out, identity(out))


def interrupt_pending() -> int | None:
    """The signal being handled, or None."""
    return _handler_state["pending"]
