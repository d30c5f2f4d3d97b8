"""The ``bayes-prrt`` command line.

As the command (the console script or ``python -m bayes_prrt.cli``), the interrupt handlers are
installed before the command's libraries load, so Ctrl-C during start-up ends it with one line.
"""

import os
import sys

from .interrupts import install_loading_handlers

if os.path.basename(sys.argv[0]) in ("bayes-prrt", "-m", "__main__.py"):  # the command, not an import
    install_loading_handlers()

from .commands import main  # noqa: E402  (after the handlers)

__all__ = ["main"]
from . import bias  # noqa: F401,E402
from . import convert  # noqa: F401,E402
from . import predict  # noqa: F401,E402
from . import scenarios  # noqa: F401,E402
from . import update  # noqa: F401,E402
from . import within  # noqa: F401,E402
