"""The ``simcore`` command line: one module per command group over shared option parsers.

The top layer of the house (see CONTRIBUTING.md): it may import any layer; nothing imports it.
"""

from simcore.cli.app import entry, main

__all__ = ["entry", "main"]
