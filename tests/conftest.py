"""pytest's fixtures for the tests; the shared helpers live in ``helpers.py``.

Every helper is re-exported here, so ``from conftest import small_raw, build`` keeps working.
"""

from __future__ import annotations

import signal

import pytest
from helpers import *  # noqa: F403  (re-exported for the tests that import them from here)
from helpers import small_raw

# A shell without job control starts a background job (`./.ci/run &`) with SIGINT ignored, and
# Python then leaves it ignored: every test of what Ctrl-C does would fail there (seen in a clean
# run started that way). The tests run as from a terminal, with Python's own handler; the
# processes they start inherit the default action.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def small():
    """A fresh :func:`small_raw` document (4 stages, two years, one source)."""
    return small_raw()
