"""The ``simcore`` console script's first step, outside the package on purpose.

Importing ``simcore`` loads numba, xarray and the whole model (one to several seconds). A Ctrl-C
in that time would end in a traceback from the script Python's installer writes, before any of
simcore's own code could catch it; this module imports nothing heavy, so it can.
"""

import os
import sys


def _light_package() -> None:
    """Make ``simcore`` importable without running its ``__init__`` (numba, xarray, the model).

    Only for a shell's completion request (argcomplete sets ``_ARGCOMPLETE``): the process
    builds the parser, prints the candidates and exits, and the command modules need only the
    light modules at their top. Without this a TAB would wait seconds for numba to load.
    """
    import importlib.util
    import types

    spec = importlib.util.find_spec("simcore")
    if spec is None or not spec.submodule_search_locations:
        return
    package = types.ModuleType("simcore")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    sys.modules["simcore"] = package


def entry() -> None:
    """Import the command line and run it; Ctrl-C during the import is ``interrupted``, exit 130."""
    if "_ARGCOMPLETE" in os.environ:
        _light_package()
    try:
        from simcore.cli.app import entry as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        os._exit(130)
    run()
