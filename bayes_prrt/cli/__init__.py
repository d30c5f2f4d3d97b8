"""The ``bayes-prrt`` command line.

As the command (the console script or ``python -m bayes_prrt.cli``), the interrupt handlers are
installed before the command's libraries load, so Ctrl-C during start-up ends it with one line, and
OpenBLAS is set to one thread (``OPENBLAS_NUM_THREADS``, unless set already): a run's process and
its helper take a core each, and a second BLAS thread, which these small matrices do not need,
only takes time from the other (2 CPU-seconds of a run's 10-second exact phase, measured).
"""

import os
import sys

from .interrupts import install_loading_handlers

if os.path.basename(sys.argv[0]) in ("bayes-prrt", "-m", "__main__.py"):  # the command, not an import
    install_loading_handlers()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS; the helpers inherit it

from .commands import main  # noqa: E402  (after the handlers)

__all__ = ["main"]
from . import bias  # noqa: F401,E402
from . import convert  # noqa: F401,E402
from . import predict  # noqa: F401,E402
from . import scenarios  # noqa: F401,E402
from . import update  # noqa: F401,E402
from . import within  # noqa: F401,E402
