"""Saving and loading results (netCDF4 through h5netcdf), atomically; checking output paths.

:func:`write_atomic` writes an output file: the content goes to a temporary file in the target's
folder, which is then renamed onto the target in one step. :func:`check_out_file` is
its check of the path, cheap enough to call before a long run.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from simcore.errors import SimcoreError

if TYPE_CHECKING:
    import xarray as xr

# xarray is imported where it is used, so that the command line can use write_atomic without it.


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_out_file(path) -> Path:
    """The file an output path ``path`` names, checked: a symbolic link's target, else ``path`` itself.

    Nothing is written. Writing replaces the returned file, so a link given as ``path`` stays a
    link and its target gets the new content.

    Raises
    ------
    SimcoreError
        When ``path`` is empty, its folder does not exist, it is a link that cannot be resolved,
        or it exists and is not a regular file (a folder, a named pipe, a device, a socket).
    """
    if os.fspath(path) in ("", b""):
        raise SimcoreError("the output path is empty")
    path = Path(path)
    target = path
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if target.is_symlink():  # realpath gives up on a loop and returns a link
            raise SimcoreError(f"{path}: is a symbolic link that cannot be resolved (a loop?)")
    via = f" (a link to {target})" if target != path else ""
    if not target.parent.is_dir():
        raise SimcoreError(f"{path}{via}: the folder {str(target.parent)!r} does not exist")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise SimcoreError(f"{path}{via}: cannot use it: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise SimcoreError(f"{path}{via}: is a folder; give a file name, e.g. {str(path / 'run.nc')!r}")
    if not stat.S_ISREG(mode):
        raise SimcoreError(f"{path}{via}: is {file_kind(mode)}, not a regular file; give a file name")
    return target


def write_atomic(path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``; remove the temporary on failure.

    The temporary file is in the target's own folder, so the rename is one step: ``path`` holds
    either its previous content or the complete new one, never a part. A symbolic link is written
    through (its target is replaced; the link is kept). The new file is flushed to disk before the
    rename, so a power cut right after cannot leave an empty file in its place.

    Raises
    ------
    SimcoreError
        For a path :func:`check_out_file` refuses, and for an OSError while writing (disk full,
        permissions), with the path and the reason.
    """
    target = check_out_file(path)
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise SimcoreError(f"{path}: cannot write in {str(target.parent)!r}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
        fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # disk full, permissions: the user's to fix, not a traceback
            raise SimcoreError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise


def fsync_file(path) -> None:
    """Flush a finished file's content to disk (before it is renamed into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_dataset(ds: xr.Dataset, path) -> None:
    """Write ``ds`` to a netCDF4 file, compressed; a half-written file is never left behind.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    path : str or Path
        Target file, conventionally ``.nc``. A symbolic link is written through.

    Raises
    ------
    SimcoreError
        When ``path`` cannot be written (see :func:`write_atomic`).
    """
    encoding = {
        name: {"compression": "gzip", "compression_opts": 4}
        for name, var in ds.data_vars.items()
        if var.dtype.kind in "fiu" and var.ndim > 0
    }
    write_atomic(path, lambda tmp: ds.to_netcdf(tmp, mode="w", engine="h5netcdf", encoding=encoding))


def load_dataset(path) -> xr.Dataset:
    """Read a result written by :func:`save_dataset` (``ds.simcore`` works on it)."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise SimcoreError(f"{path}: no such file")
    try:
        return xr.load_dataset(path, engine="h5netcdf")
    except (OSError, ValueError) as exc:
        raise SimcoreError(f"{path}: not a simcore result file ({exc})") from None
