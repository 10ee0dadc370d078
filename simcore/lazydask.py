"""Keep xarray from importing Dask until something uses Dask.

Where Dask is installed (the ``dask`` and ``test`` extras), xarray's checks of every new
variable, "is this a Dask array?" and "is this a Dask collection?", import ``dask.array``
and ``dask`` to answer: about 0.6 s, the largest single cost of a warm ``simcore run``, for a
run that never uses Dask. Both answers are found here without importing Dask, and are the
same answers:

- No object can be a Dask array before ``dask.array`` has been imported (the class is
  defined there), so until then the answer is "no"; from the moment ``dask.array`` is
  imported, by the user or by a ``--dask`` run, xarray sees the real class again.
- An object whose type has no ``__dask_graph__`` is not a Dask collection: Dask's own
  ``is_dask_collection`` answers "no" for it on its first line. Anything else is asked of Dask.

Only xarray's cache of the first answer (``xarray.namedarray.pycompat``) and its function for
the second (``xarray.namedarray.utils.is_dask_collection``) are replaced; if an xarray release
moves either, that one is left alone and xarray imports Dask as before.
"""

from __future__ import annotations

import sys

import xarray  # noqa: F401  (the module patched below must exist first)

try:
    from xarray.namedarray import pycompat as _pycompat
    from xarray.namedarray import utils as _utils
except ImportError:  # an xarray without these modules: leave it alone
    _pycompat = _utils = None


class _DeferredDask:
    """xarray's record of the ``dask`` duck-array module, read only when Dask is loaded."""

    def __init__(self):
        self._real = None

    def _load(self):
        if self._real is None:
            self._real = _pycompat.DuckArrayModule("dask")
        return self._real

    @property
    def type(self):
        if "dask.array" not in sys.modules:
            return ()  # no Dask array can exist yet
        return self._load().type

    def __getattr__(self, name):  # module, version, available: ask the real record
        return getattr(self._load(), name)


def _checked_without_dask(is_dask_collection):
    def check(x):
        if isinstance(x, type) or not hasattr(x, "__dask_graph__"):
            return False  # what Dask answers first, without importing Dask
        return is_dask_collection(x)

    check.__wrapped__ = is_dask_collection
    return check


def defer_dask_array() -> bool:
    """Install the deferred checks in xarray; True when both are in place.

    Does nothing twice, nor once xarray has cached its own record (``dask.array`` is loaded
    by then anyway).

    Examples
    --------
    >>> from simcore.lazydask import defer_dask_array
    >>> defer_dask_array()
    True
    """
    original = getattr(_utils, "is_dask_collection", None)
    collections = callable(original)
    if collections and not hasattr(original, "__wrapped__"):
        _utils.is_dask_collection = _checked_without_dask(original)
    cache = getattr(_pycompat, "_cached_duck_array_modules", None)
    if not isinstance(cache, dict) or not hasattr(_pycompat, "DuckArrayModule"):
        return False
    cache.setdefault("dask", _DeferredDask())
    arrays = isinstance(cache["dask"], _DeferredDask) or "dask.array" in sys.modules
    return arrays and collections


defer_dask_array()
