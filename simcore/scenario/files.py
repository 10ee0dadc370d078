"""Reading a scenario's input files (the TOML itself, a bank CSV) as untrusted input.

A scenario may come from someone else, so its files are read defensively: only regular files
(a FIFO would block for ever, ``/dev/zero`` never ends), at most a documented number of bytes
(checked before reading, and again while reading, since a file can grow), and never with the
file's content echoed into an error message.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Largest scenario file read, in bytes: a scenario with every cell spelled out is a few
# hundred kilobytes; megabytes more are a mistake (or an attack on memory).
MAX_SCENARIO_BYTES = 8 * 1024 * 1024
# Largest bank CSV read, in bytes (about a million deals of 60 bytes each).
MAX_BANK_CSV_BYTES = 64 * 1024 * 1024
# Deepest nesting of tables and lists in a scenario (the format itself needs 6).
MAX_NESTING = 32

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileProblem(Exception):
    """A file that cannot be read as input; the message says why, without its content."""


def _size_text(n):
    return f"{n / 1024 / 1024:,.0f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def read_bytes(path, limit: int) -> bytes:
    r"""The bytes of the regular file ``path``, at most ``limit`` of them.

    Parameters
    ----------
    path : str or Path
    limit : int
        Largest size accepted, in bytes.

    Returns
    -------
    bytes

    Raises
    ------
    FileProblem
        When the path has a NUL, is missing, is not a regular file, cannot be read or is
        larger than ``limit``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"a,b\n")
    >>> read_bytes(f.name, 100)
    b'a,b\n'
    """
    text = os.fspath(path)
    if "\0" in text:
        raise FileProblem("the file name contains a NUL character")
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever.
        fd = os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileProblem("no such file") from None
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        for test, kind in _KINDS:
            if test(info.st_mode):
                raise FileProblem(f"is {kind}, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem("is not a regular file")
        if info.st_size > limit:
            raise FileProblem(f"is {_size_text(info.st_size)}, larger than the limit of {_size_text(limit)}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileProblem(f"is larger than the limit of {_size_text(limit)}")
        return b"".join(chunks)
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def is_inside(path: Path, folder: Path) -> bool:
    """True if ``path`` (symbolic links resolved) is ``folder`` or under it."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
    except (OSError, ValueError):
        return False


def nesting_depth(value, limit: int = MAX_NESTING) -> int:
    """Depth of nested tables and lists in a parsed document, counted without recursion
    (stops counting past ``limit``).
    """
    deepest = 0
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            stack.extend((child, depth) for child in (node.values() if isinstance(node, dict) else node))
    return deepest
