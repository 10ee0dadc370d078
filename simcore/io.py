"""Saving and loading results, atomically; checking output paths before a long run.

:func:`write_atomic` writes every output file: the content goes to a temporary file in the
target's folder (named ``.NAME.simcore-PID-XXXXXXXX.tmp``), which is then renamed onto the target
in one step, so the target holds its old content or the complete new one, never a part. A
temporary that a killed run left behind is removed by the next write into that folder, once the
process that made it is gone. Ctrl-C while a file is written stops the command once the temporary
is complete, removes it and keeps the old file (a second Ctrl-C stops at once).

:func:`save_dataset` picks the format from the file's extension (:data:`OUTPUT_FORMATS`);
:func:`check_result_file` checks a result's path, cheap enough to call before a long run.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
import stat
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from simcore.errors import SimcoreError
from simcore.format import json_safe

if TYPE_CHECKING:
    import xarray as xr

# xarray and pandas are imported where they are used, so that the command line can check its
# paths and use write_atomic without them.

OUTPUT_FORMATS = {
    ".nc": "netCDF4, the full result (read it back with simcore.io.load_dataset or xarray)",
    ".csv": "one row per trial: bookings over the year and by period, creation, whether the target was hit",
    ".parquet": "the same table as .csv, as Parquet (needs pyarrow: pip install 'simcore[parquet]')",
    ".json": "the summary, as simcore run --json prints it",
}
"""The result formats :func:`save_dataset` writes, by file extension, with what each holds."""

_NETCDF = (".nc", ".nc4")
_ROOM = 64 * 1024  # the least free space a result's folder must have before a run (bytes)

# A temporary of ours: ".<target name>.simcore-<pid>-<mkstemp's random part>.tmp".
_TEMPORARY = re.compile(r"^\..+\.simcore-(\d+)-[A-Za-z0-9_]+\.tmp$")
# How much of the target's name a temporary carries: a name the file system takes (up to 255
# bytes) must not be refused because its temporary is longer.
_NAME_IN_TEMPORARY = 80


def temporary_prefix(target: Path) -> str:
    """The prefix of ``target``'s temporaries (see ``_TEMPORARY``).

    Examples
    --------
    >>> temporary_prefix(Path("plan.toml"))[:16]
    '.plan.toml.simco'
    >>> len(temporary_prefix(Path("x" * 250))) < 100
    True
    """
    return f".{target.name[:_NAME_IN_TEMPORARY]}.simcore-{os.getpid()}-"


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
    if "\0" in os.fsdecode(path):
        raise SimcoreError(f"the output path {os.fsdecode(path)!r} contains a NUL character")
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


def output_format(path) -> str:
    """The format a result file's extension names: ``"netcdf"``, ``"csv"``, ``"parquet"`` or ``"json"``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str

    Raises
    ------
    SimcoreError
        For any other extension (the message lists the supported ones), and for ``.parquet``
        when pyarrow is not installed.

    Examples
    --------
    >>> output_format("results/run.nc"), output_format("trials.CSV")
    ('netcdf', 'csv')
    """
    suffix = Path(path).suffix.lower()
    if suffix in _NETCDF:
        return "netcdf"
    if suffix in (".csv", ".json"):
        return suffix[1:]
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401  (lazy: an optional dependency, imported only when asked for)
        except ImportError:
            raise SimcoreError(
                f"{path}: writing .parquet needs pyarrow, which is not installed: "
                "pip install 'simcore[parquet]' (or write .csv)"
            ) from None
        return "parquet"
    shown = f"extension {suffix!r}" if suffix else "no extension"
    raise SimcoreError(
        f"{path}: {shown}; the result formats are "
        + ", ".join(OUTPUT_FORMATS)
        + " (simcore run --help says what each holds)"
    )


def check_result_file(path, inputs=()) -> Path:
    """Check, before a run, that a result can be written to ``path``; returns the file to replace.

    Parameters
    ----------
    path : str or Path
        The output file; its extension names the format (:func:`output_format`).
    inputs : iterable of str or Path
        The run's input files (the scenario, its bank CSV): ``path`` may not be one of them.

    Returns
    -------
    Path
        As :func:`check_out_file`.

    Raises
    ------
    SimcoreError
        When :func:`check_out_file` or :func:`output_format` refuses the path, when it names
        one of ``inputs``, or when nothing can be written in its folder.
    """
    target = check_out_file(path)
    check_not_an_input(path, inputs)
    output_format(path)
    check_writable(target.parent, path)
    return target


def check_not_an_input(path, inputs) -> None:
    """Refuse an output ``path`` that is (or links to) one of the run's ``inputs``.

    Raises
    ------
    SimcoreError
        Naming the input, so that ``simcore run plan.toml --out plan.toml`` replaces nothing.
    """
    target = os.path.realpath(path)
    for given in inputs:
        if given is None or os.fspath(given) in ("", b""):
            continue
        if os.path.realpath(given) == target or _same_file(path, given):
            raise SimcoreError(
                f"{path}: is the run's input {str(given)!r}; writing the result there would replace "
                "it. Give another file name"
            )


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_writable(folder, shown=None) -> None:
    """Refuse a folder nothing can be written in, by making (and removing) an empty temporary there.

    Asking ``os.access`` is not enough: it says yes to root on a read-only file system.

    Raises
    ------
    SimcoreError
        With the reason (permission denied, read-only file system, disk full).
    """
    folder = Path(folder)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".probe.simcore-{os.getpid()}-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise SimcoreError(f"{shown or folder}: cannot write in {str(folder)!r}: {_reason(exc)}") from None
    os.close(fd)
    os.unlink(probe)
    free = _free_bytes(folder)
    if free is not None and free < _ROOM:  # an empty file fits on a full disk: ask for some room too
        raise SimcoreError(
            f"{shown or folder}: cannot write in {str(folder)!r}: the disk is full ({free:,} bytes free)"
        )


def clean_stale_temporaries(folder) -> list:
    """Remove the temporaries of simcore's own naming in ``folder`` whose process has gone.

    A run killed while writing (``kill -9``, a power cut) leaves its ``.NAME.simcore-PID-*.tmp``;
    nothing else is touched, nor a temporary whose process is still running.

    Returns
    -------
    list of Path
        The files removed.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMPORARY.match(name)
        if not match or _process_alive(int(match.group(1))):
            continue
        path = Path(folder) / name
        with contextlib.suppress(OSError):  # another run may be cleaning it too
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
                removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or not ours to judge: leave its file alone
    return True


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        detail = f": {exc.strerror}" if exc.strerror and "free" in exc.strerror else ""
        return f"the disk is full (no space left on device{detail})"
    return exc.strerror or str(exc)


@contextlib.contextmanager
def _interrupt_after():
    """Hold Ctrl-C back while a file is written; the body asks ``interrupted()`` when it is safe.

    h5py swallows a KeyboardInterrupt raised inside its C code (the write then carries on), so
    the first Ctrl-C is only recorded; a second one raises at once. Outside the main thread
    signals cannot be caught, and an ignored SIGINT stays ignored: nothing changes then.
    """
    caught = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):
        yield lambda: False
        return

    def record(signum, frame):
        caught.append(signum)
        if len(caught) > 1:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, record)
    try:
        yield lambda: bool(caught)
    finally:
        signal.signal(signal.SIGINT, previous)


def write_atomic(path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``; remove the temporary on failure.

    The temporary file is in the target's own folder, so the rename is one step: ``path`` holds
    either its previous content or the complete new one, never a part. A symbolic link is written
    through (its target is replaced; the link is kept). The new file is flushed to disk before the
    rename, so a power cut right after cannot leave an empty file in its place. Stale temporaries
    of killed runs in the folder are removed first (:func:`clean_stale_temporaries`).

    Raises
    ------
    SimcoreError
        For a path :func:`check_out_file` refuses, and for an OSError while writing (disk full,
        permissions), with the path and the reason; the old file is kept and no temporary is left.
    KeyboardInterrupt
        On Ctrl-C while writing, once the temporary is removed; the old file is kept.
    """
    target = check_out_file(path)
    path = Path(path)
    clean_stale_temporaries(target.parent)
    with _interrupt_after() as interrupted:
        try:
            fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(target), suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise SimcoreError(f"{path}: cannot write in {str(target.parent)!r}: {_reason(exc)}") from None
        os.close(fd)
        try:
            write(tmp)
            if interrupted():
                raise KeyboardInterrupt
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
            fsync_file(tmp)
            if interrupted():
                raise KeyboardInterrupt
            os.replace(tmp, target)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):  # disk full, permissions: the user's to fix, not a traceback
                raise SimcoreError(
                    f"{path}: cannot write: {_reason(exc)}; "
                    + ("the old file is kept" if target.exists() else "nothing was written")
                ) from None
            raise


def fsync_file(path) -> None:
    """Flush a finished file's content to disk (before it is renamed into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_bytes(tmp, data) -> None:
    free = _free_bytes(os.path.dirname(tmp) or ".")
    if free is not None and free < len(data):
        # Known in advance: say so before filling the disk to the last byte.
        raise OSError(errno.ENOSPC, f"{len(data):,} bytes to write, {free:,} free")
    with open(tmp, "wb") as fh:
        fh.write(data)


def _free_bytes(folder):
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows
        return None
    return st.f_bavail * st.f_frsize


def save_dataset(ds: xr.Dataset, path, summary: dict | None = None) -> None:
    """Write a result in the format its file extension names; a half-written file is never left behind.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    path : str or Path
        Target file (see :data:`OUTPUT_FORMATS`): ``.nc`` the whole Dataset as netCDF4,
        compressed; ``.csv`` or ``.parquet`` one row per trial (:func:`trial_table`); ``.json``
        the summary. A symbolic link is written through.
    summary : dict, optional
        What ``.json`` holds (default: ``ds.simcore.summary()``).

    Raises
    ------
    SimcoreError
        When ``path`` has an extension of none of these formats, or cannot be written (see
        :func:`write_atomic`).
    """
    check_out_file(path)
    kind = output_format(path)
    if kind == "netcdf":
        write = _netcdf_writer(ds, path)
    elif kind == "json":
        write = _json_writer(ds.simcore.summary() if summary is None else summary)
    else:
        write = _table_writer(ds, kind)
    write_atomic(path, write)


def _netcdf_writer(ds, path):
    encoding = {
        name: {"compression": "gzip", "compression_opts": 4}
        for name, var in ds.data_vars.items()
        if var.dtype.kind in "fiu" and var.ndim > 0
    }

    def write(tmp):
        # The file is built in memory, then written with plain os writes: on a full disk HDF5
        # fails inside its own buffers, prints a storm of messages and can crash the process
        # when h5py frees its objects; a plain write fails with one OSError.
        try:
            data = ds.to_netcdf(None, mode="w", engine="h5netcdf", encoding=encoding)
        except (ValueError, TypeError) as exc:
            raise SimcoreError(f"{path}: this result cannot be stored as netCDF: {exc}") from None
        _write_bytes(tmp, data)

    return write


def _json_writer(summary):
    text = json.dumps(json_safe(summary), indent=2, allow_nan=False) + "\n"
    return lambda tmp: _write_bytes(tmp, text.encode("utf-8"))


def _table_writer(ds, kind):
    table = trial_table(ds)
    if kind == "csv":
        # Cents, not float noise (2.9999999999999996); the counts and the 0/1 column stay whole.
        return lambda tmp: table.to_csv(tmp, index=False, float_format="%.2f", lineterminator="\n")
    return lambda tmp: table.to_parquet(tmp, index=False)


def trial_table(ds: xr.Dataset):
    """The headline figures of every trial, one row each, as a :class:`pandas.DataFrame`.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.

    Returns
    -------
    pandas.DataFrame
        ``trial``; ``bookings`` over the whole horizon and ``bookings PERIOD`` for each period
        (dollars); ``stage1_created`` and ``decision_stage_created`` (dollars); ``opportunities``
        (deals simulated); and, when the scenario has a target, ``hit_target`` (1 when the
        trial's bookings reach it, else 0: its mean is P(hit)). ``DataFrame.attrs`` holds the
        scenario, seed, trials, version, currency and target.

    Examples
    --------
    >>> import simcore
    >>> ds = simcore.simulate(simcore.load_scenario("scenarios/smb.toml"), trials=50, progress=False)
    >>> t = trial_table(ds)
    >>> list(t.columns[:3]), len(t)
    (['trial', 'bookings', 'bookings 2026-01'], 50)
    """
    import pandas as pd

    bookings = ds["bookings_amount"]
    per_period = bookings.sum([d for d in bookings.dims if d not in ("trial", "period")])
    created = ds["created_amount"]
    created = created.sum([d for d in created.dims if d not in ("trial", "stage")])
    columns = {
        "trial": ds["trial"].values,
        "bookings": per_period.sum("period").values,
        **{f"bookings {p}": per_period.sel(period=p).values for p in per_period["period"].values},
        "stage1_created": created.isel(stage=0).values,
        "decision_stage_created": created.isel(stage=-1).values,
    }
    if "opportunities" in ds:
        columns["opportunities"] = ds["opportunities"].values
    target = ds.attrs.get("target")
    if target is not None:
        columns["hit_target"] = (columns["bookings"] >= float(target)).astype("int8")
    table = pd.DataFrame(columns)
    table.attrs = {
        k: (v.item() if hasattr(v, "item") else v)
        for k, v in ds.attrs.items()
        if k in ("scenario", "scenario_hash", "seed", "trials", "simcore_version", "currency", "target")
    }
    return table


def load_dataset(path) -> xr.Dataset:
    """Read a result written by :func:`save_dataset` as netCDF (``ds.simcore`` works on it)."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise SimcoreError(f"{path}: no such file")
    try:
        return xr.load_dataset(path, engine="h5netcdf")
    except (OSError, ValueError) as exc:
        raise SimcoreError(f"{path}: not a simcore result file ({exc})") from None
