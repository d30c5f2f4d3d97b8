"""The ``bayes-prrt`` command line.

As the command (the console script or ``python -m bayes_prrt.cli``), the interrupt handlers are
installed before the command's libraries load, so Ctrl-C during start-up ends it with one line, and
OpenBLAS is set to one thread (``OPENBLAS_NUM_THREADS``, unless set already): a run's process and
its helper take a core each, and a second BLAS thread, which these small matrices do not need,
only takes time from the other (2 CPU-seconds of a run's 10-second exact phase, measured).

``command`` is the command itself: ``main``, then the exit handlers (``atexit``: helper processes,
logging) and the output flushed, then the process ends at once (``os._exit``) with ``main``'s status.
The interpreter's own teardown, which frees the loaded libraries module by module, is skipped: it
took 0.6 s after importing the run's libraries and 0.8 s after a run, measured, and does nothing a
finished command needs (every file is written and closed by then). In-process callers (tests, click's
``CliRunner``) use ``main`` and keep Python's usual exit.
"""

import atexit
import os
import sys

from .interrupts import install_loading_handlers

if os.path.basename(sys.argv[0]) in ("bayes-prrt", "-m", "__main__.py"):  # the command, not an import
    install_loading_handlers()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS; the helpers inherit it

from .commands import main  # noqa: E402  (after the handlers)
from . import bias  # noqa: F401,E402
from . import convert  # noqa: F401,E402
from . import predict  # noqa: F401,E402
from . import scenarios  # noqa: F401,E402
from . import update  # noqa: F401,E402
from . import within  # noqa: F401,E402

__all__ = ["command", "main"]


def command() -> None:
    """Run ``main`` as the ``bayes-prrt`` command and end the process with its exit status (see above)."""
    try:
        main()
        status = 0
    except SystemExit as stop:
        status = stop.code
    if not isinstance(status, int):  # sys.exit(None) is success, sys.exit("message") prints it and fails
        if status is not None:
            print(status, file=sys.stderr)
        status = 0 if status is None else 1
    atexit._run_exitfuncs()  # noqa: SLF001 - what Python would run next, before its teardown
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written anyway
            pass
    os._exit(status)
