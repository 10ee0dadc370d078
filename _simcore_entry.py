"""The ``simcore`` console script's first step, outside the package on purpose.

Importing ``simcore`` loads numba, xarray and the whole model (one to several seconds). A Ctrl-C
in that time would end in a traceback from the script Python's installer writes, before any of
simcore's own code could catch it; this module imports nothing heavy, so it can.
"""

import os
import sys


def entry() -> None:
    """Import the command line and run it; Ctrl-C during the import is ``interrupted``, exit 130."""
    try:
        from simcore.cli.app import entry as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        os._exit(130)
    run()
