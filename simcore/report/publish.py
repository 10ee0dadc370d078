"""Publish the report's files into their folder: all of them or none, Ctrl-C safe.

:func:`write_report` writes every file into a temporary folder beside the output folder, then
moves them in (:func:`_publish`). Whatever stops it, the output folder holds either what it held
before or the complete new report, and no temporary folder is left behind:

- an error or Ctrl-C while the files are written: the temporary folder is removed;
- Ctrl-C while they are moved in: it is held back (a few milliseconds of renames) and raised once
  the new report is complete and the temporary folder removed;
- an error while they are moved in: the previous files are put back;
- the process killed or the machine stopped while they are moved in: the next report written
  beside it finds the temporary folder (its name carries simcore's tag and the process id, and that
  process is gone), puts the previous files back from the journal it left, and removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from pathlib import Path

from simcore.errors import SimcoreError
from simcore.io import file_kind, fsync_file
from simcore.report.content import Report, report_files
from simcore.report.html import render_html
from simcore.report.plots import png_bytes
from simcore.report.workbook import write_csv, write_xlsx

# Temporary folders are named ``.<out name>.simcore-report-<pid>-<random>.tmp``: the tag says they
# are ours (and safe to clean up), the process id whether their writer is still running.
TAG = "simcore-report"
JOURNAL = ".journal.json"


def check_out_dir(out_dir, names=("report.html", "report.xlsx")) -> Path:
    """``out_dir`` as a Path if a report can be written there (checked before a long run).

    Parameters
    ----------
    out_dir : str or Path
    names : iterable of str
        Files the report will put in the folder; any of them that exists must be a file (or a
        link) that can be replaced. The default, the two files every report has, is what can be
        checked before the report is built; :func:`write_report` checks all of them.

    Raises
    ------
    SimcoreError
        When the path is empty, its parent folder does not exist, it exists and is not a folder
        (or is a link to nothing), the folder cannot be written in, or one of ``names`` in it is
        a folder, a named pipe or anything else that is not a file.
    """
    if os.fspath(out_dir) in ("", b""):
        raise SimcoreError("the output path is empty")
    out = Path(out_dir)
    if out.is_symlink() and not out.exists():
        raise SimcoreError(f"{out}: is a link to {os.readlink(out)!r}, which does not exist")
    if not out.resolve().parent.is_dir():
        raise SimcoreError(f"{out}: the folder {str(out.parent)!r} does not exist")
    if out.exists() and not out.is_dir():
        raise SimcoreError(f"{out}: exists and is not a folder")
    where = out if out.exists() else out.resolve().parent
    if not os.access(where, os.W_OK | os.X_OK):
        raise SimcoreError(f"{out}: cannot write in {str(where)!r}: permission denied")
    if out.exists():
        _check_destinations(out, names)
    return out


def _check_destinations(out: Path, names) -> None:
    """Refuse, before anything is replaced, when an ``out/name`` exists and is not a file or a link."""
    bad = []
    for name in names:
        try:
            mode = os.lstat(out / name).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise SimcoreError(f"{out / name}: cannot use it: {exc.strerror or exc}") from None
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            bad.append((out / name, file_kind(mode)))
    if bad:
        path, kind = bad[0]
        more = f" (also in the way: {', '.join(p.name for p, _ in bad[1:])})" if len(bad) > 1 else ""
        raise SimcoreError(
            f"{path}: is {kind}, not a file, and the report would replace it{more}; "
            "move it away or choose another folder (nothing was changed)"
        )


def write_report(report: Report, out_dir, dpi: int = 110) -> list:
    """Write the report's PNGs, HTML, CSVs and workbook into ``out_dir``: all of them or none.

    Everything is first written to a temporary folder beside ``out_dir`` (inside it if it is a
    mount point: the same file system either way, so the final moves are renames). Only when every
    file is complete are they moved in: a new folder is renamed into place in one step; into an
    existing folder each file replaces its namesake in one step, the previous files being kept
    aside until all are in, and other files already there are kept. On a failure the previous
    files are put back; Ctrl-C during the moves is held back until they are done. Temporary
    folders a killed run left beside ``out_dir`` are cleaned up first (see the module's notes).

    Parameters
    ----------
    report : Report
    out_dir : str or Path
        The output folder; its parent must exist.
    dpi : int
        Resolution of the PNGs.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    SimcoreError
        For a folder :func:`check_out_dir` refuses (checked against every file the report writes,
        before any is written), and for an OSError while writing (disk full, permissions).
    """
    names = report_files(report)
    out = check_out_dir(out_dir, names)
    parent = out.resolve().parent
    stage_in = parent
    if out.is_dir() and os.stat(out).st_dev != os.stat(parent).st_dev:
        stage_in = out.resolve()  # a mount point: a rename from beside it would cross file systems
    clean_stale(stage_in, out)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{TAG}-{os.getpid()}-", suffix=".tmp", dir=stage_in))
    except OSError as exc:
        raise SimcoreError(f"{out}: cannot write in {str(stage_in)!r}: {exc.strerror or exc}") from None
    try:
        _write_files(report, tmp, names, dpi)
        with interrupts_held():
            _publish(tmp, out, names)
            _remove(tmp)
    except OSError as exc:  # disk full, permissions: the user's to fix, not a traceback
        with interrupts_held():
            _remove(tmp)
        raise SimcoreError(
            f"{out}: cannot write the report: {exc.strerror or exc}; the folder was left as it was"
        ) from None
    except BaseException:
        with interrupts_held():
            _remove(tmp)
        raise
    return [out / n for n in names]


def _write_files(report: Report, tmp: Path, names, dpi: int) -> None:
    images = {}
    for chart in report.charts:
        images[chart.name] = png_bytes(chart.figure, dpi)
        (tmp / f"{chart.name}.png").write_bytes(images[chart.name])
    for table in report.tables:
        write_csv(table, tmp / f"{table.name}.csv")
    write_xlsx(report, tmp / "report.xlsx")
    (tmp / "report.html").write_text(render_html(report, images), encoding="utf-8")
    for name in names:
        fsync_file(tmp / name)


def _remove(tmp: Path) -> None:
    if os.path.lexists(tmp):
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def interrupts_held():
    """Hold SIGINT (Ctrl-C) back for the duration of the block, then raise it.

    Only the main thread can set signal handlers; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _pid_of(name: str, out_name: str) -> int | None:
    match = re.fullmatch(rf"\.{re.escape(out_name)}\.{TAG}-(\d+)-[^/]*\.tmp", name)
    return int(match.group(1)) if match else None


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def clean_stale(stage_in: Path, out: Path) -> list:
    """Finish what a killed report left beside ``out``: put previous files back, remove its folder.

    Only folders of simcore's own naming whose process is gone are touched. Returns their paths.
    """
    cleaned = []
    try:
        entries = list(os.scandir(stage_in))
    except OSError:
        return cleaned
    for entry in entries:
        pid = _pid_of(entry.name, out.name)
        if pid is None or _running(pid) or not entry.is_dir(follow_symlinks=False):
            continue
        tmp = Path(entry.path)
        with interrupts_held():
            _recover(tmp, out)
            _remove(tmp)
        cleaned.append(tmp)
    return cleaned


def _recover(tmp: Path, out: Path) -> None:
    """Undo a publish that was killed half-way, from the journal it wrote before its first move."""
    try:
        journal = json.loads((tmp / ".previous" / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # killed before it moved anything: nothing to undo
    moved = [n for n in journal["names"] if not os.path.lexists(tmp / n)]
    failed = _put_back(out, tmp / ".previous", moved, set(journal["kept"]))
    if failed:
        rescue = Path(tempfile.mkdtemp(prefix=f"{out.name}.previous.", dir=tmp.parent))
        os.replace(tmp / ".previous", rescue)


def _publish(tmp: Path, out: Path, names) -> None:
    """Move the finished files from ``tmp`` into ``out`` (renames only): all of them or none.

    A new folder: ``tmp`` itself is renamed to ``out``, one step.

    An existing folder, in three steps:

    1. Check every destination (none is a folder, a named pipe, ...). Nothing is changed yet.
    2. Keep each file about to be replaced as a hard link (a copy where links are not possible)
       in ``tmp/.previous``, and write the journal (the names, which were kept). ``out`` is
       still unchanged.
    3. Rename each new file onto its namesake, one step each (a reader of one file sees the
       previous or the new version, never a part). If a rename fails, the files already moved
       are put back from ``tmp/.previous`` (or removed where there was none) and the error is
       raised. :func:`write_report` holds Ctrl-C back during this step.

    If the process is killed during step 3, :func:`clean_stale` puts the previous files back on
    the next run from the journal. A link in ``out`` with a report file's name is replaced by the
    new file; its target is left alone.
    """
    umask = os.umask(0)
    os.umask(umask)
    if not out.exists() and not out.is_symlink():
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; give it a normal folder's mode
        os.replace(tmp, out)
        return
    _check_destinations(out, names)  # again: the folder may have changed while the files were written
    previous = tmp / ".previous"
    previous.mkdir()
    kept = set()
    for name in names:
        if os.path.lexists(out / name):
            _keep(out / name, previous / name)
            kept.add(name)
    (previous / JOURNAL).write_text(
        json.dumps({"names": list(names), "kept": sorted(kept)}), encoding="utf-8"
    )
    fsync_file(previous / JOURNAL)
    moved = []
    try:
        for name in names:
            os.replace(tmp / name, out / name)
            moved.append(name)
    except BaseException as exc:
        failed = _put_back(out, previous, moved, kept)
        if failed:
            rescue = Path(tempfile.mkdtemp(prefix=f"{out.name}.previous.", dir=tmp.parent))
            os.replace(previous, rescue)
            raise SimcoreError(
                f"{out}: writing the report failed ({getattr(exc, 'strerror', None) or exc!r}) "
                f"and {len(failed)} previous file(s) could not be put back, e.g. "
                f"{failed[0]}; the previous versions are in {rescue}"
            ) from None
        if isinstance(exc, OSError):
            raise SimcoreError(
                f"{out / names[len(moved)]}: cannot write: {exc.strerror or exc}; "
                "the folder was left as it was"
            ) from None
        raise


def _keep(path: Path, backup: Path) -> None:
    """Keep the file at ``path`` as ``backup`` (a hard link, else a copy), or refuse to go on."""
    try:
        os.link(path, backup, follow_symlinks=False)
        return
    except (OSError, NotImplementedError):  # no hard links on this file system (or platform)
        pass
    try:
        shutil.copy2(path, backup, follow_symlinks=False)
    except OSError as exc:
        raise SimcoreError(
            f"{path}: cannot keep the previous version while replacing it "
            f"({exc.strerror or exc}); nothing was changed"
        ) from None


def _put_back(out: Path, previous: Path, moved, kept) -> list:
    """Undo the renames of ``moved``; the names that could not be undone."""
    failed = []
    for name in reversed(moved):
        try:
            if name in kept:
                os.replace(previous / name, out / name)
            else:
                os.unlink(out / name)
        except OSError:
            failed.append(name)
    return failed
