"""pytest's fixtures for the tests; the shared helpers live in ``helpers.py``.

Every helper is re-exported here, so ``from conftest import small_raw, build`` keeps working.
"""

from __future__ import annotations

import pytest
from helpers import *  # noqa: F403  (re-exported for the tests that import them from here)
from helpers import small_raw


@pytest.fixture
def small():
    """A fresh :func:`small_raw` document (4 stages, two years, one source)."""
    return small_raw()
