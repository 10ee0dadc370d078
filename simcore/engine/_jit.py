"""The one place where numba's compile options live.

``cache=True`` everywhere so that a second process loads machine code from
``__pycache__`` instead of recompiling (the first-run target is 30 s, later runs 2 s).
``fastmath`` stays off: it lets LLVM reassociate floating-point sums, and the
contract is the same bits for any thread count and any chunking.
"""

from __future__ import annotations

import numba

_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def jit(func=None, **overrides):
    """``numba.njit`` with simcore's defaults (serial)."""
    options = {**_OPTIONS, **overrides}
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)


def jit_parallel(func=None, **overrides):
    """``numba.njit(parallel=True)`` with simcore's defaults, for kernels with ``prange``."""
    return jit(func, parallel=True, **overrides)
