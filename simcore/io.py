"""Saving and loading results (netCDF4 through h5netcdf), atomically."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from .errors import SimcoreError


def save_dataset(ds: xr.Dataset, path) -> None:
    """Write ``ds`` to a netCDF4 file, compressed; a half-written file is never left behind.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.simulate`.
    path : str or Path
        Target file, conventionally ``.nc``.
    """
    from .cli import write_atomic

    encoding = {name: {"compression": "gzip", "compression_opts": 4}
                for name, var in ds.data_vars.items() if var.dtype.kind in "fiu" and var.ndim > 0}
    write_atomic(path, lambda tmp: ds.to_netcdf(tmp, mode="w", engine="h5netcdf", encoding=encoding))


def load_dataset(path) -> xr.Dataset:
    """Read a result written by :func:`save_dataset` (``ds.simcore`` works on it)."""
    path = Path(path)
    if not path.exists():
        raise SimcoreError(f"{path}: no such file")
    try:
        return xr.load_dataset(path, engine="h5netcdf")
    except (OSError, ValueError) as exc:
        raise SimcoreError(f"{path}: not a simcore result file ({exc})") from None
