"""Output paths (``--out``): refused when empty or not a regular file, written through a symbolic link.

Every output file goes through :func:`simcore.io.write_atomic`; :func:`simcore.io.check_out_file`
is its check of the path. (The report's folder: tests/test_report.py.)
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat

import numpy as np
import pytest
from helpers import build, run_cli, small_raw

import simcore
from simcore.errors import SimcoreError
from simcore.io import check_out_file, load_dataset, save_dataset, write_atomic

SCENARIO = "scenarios/fy2026.toml"


def _writer(text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return write


@pytest.fixture(scope="module")
def small_ds():
    return simcore.simulate(build(small_raw()), trials=20, seed=0, progress=False)


# ---- the library ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", b""])
def test_an_empty_path_is_refused(path):
    with pytest.raises(SimcoreError, match="^the output path is empty$"):
        check_out_file(path)
    with pytest.raises(SimcoreError, match="the output path is empty"):
        write_atomic(path, _writer("x"))


def test_save_dataset_refuses_an_empty_path(small_ds, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SimcoreError, match="the output path is empty"):
        save_dataset(small_ds, "")
    assert os.listdir(tmp_path) == []


def test_a_fifo_is_refused_and_kept(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    with pytest.raises(SimcoreError, match=r"f: is a named pipe \(FIFO\), not a regular file"):
        write_atomic(fifo, _writer("x"))
    assert fifo.is_fifo()
    assert os.listdir(tmp_path) == ["f"]  # no temporary left either


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(SimcoreError, match="is a socket, not a regular file"):
            write_atomic(path, _writer("x"))
        assert path.is_socket()


def test_a_link_is_written_through_and_kept(tmp_path):
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "run.txt"
    target.write_text("old")
    link = tmp_path / "latest.txt"
    link.symlink_to(target)
    write_atomic(link, _writer("new"))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["data", "latest.txt"]
    assert os.listdir(tmp_path / "data") == ["run.txt"]  # the temporary was beside the target


def test_a_relative_link_to_a_missing_file_creates_it(tmp_path):
    link = tmp_path / "latest.txt"
    link.symlink_to("run.txt")
    write_atomic(link, _writer("new"))
    assert link.is_symlink() and (tmp_path / "run.txt").read_text() == "new"


def test_a_link_to_a_missing_folder_or_a_fifo_or_itself_is_refused(tmp_path):
    (tmp_path / "nowhere.nc").symlink_to(tmp_path / "missing" / "run.nc")
    with pytest.raises(SimcoreError, match="does not exist"):
        write_atomic(tmp_path / "nowhere.nc", _writer("x"))
    os.mkfifo(tmp_path / "f")
    (tmp_path / "to_fifo").symlink_to(tmp_path / "f")
    with pytest.raises(SimcoreError, match=r"to_fifo \(a link to .*f\): is a named pipe"):
        write_atomic(tmp_path / "to_fifo", _writer("x"))
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(SimcoreError, match="cannot be resolved"):
        write_atomic(tmp_path / "loop", _writer("x"))
    assert (tmp_path / "f").is_fifo() and (tmp_path / "loop").is_symlink()


def test_a_link_to_a_folder_is_refused(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "r").symlink_to(tmp_path / "results")
    with pytest.raises(SimcoreError, match="is a folder"):
        write_atomic(tmp_path / "r", _writer("x"))
    assert os.listdir(tmp_path / "results") == []


def test_save_dataset_through_a_link(small_ds, tmp_path):
    target = tmp_path / "run-1.nc"
    target.write_text("last week's")
    link = tmp_path / "latest.nc"
    link.symlink_to(target.name)
    save_dataset(small_ds, link)
    assert link.is_symlink()
    assert load_dataset(target).attrs["trials"] == 20


# ---- the command line -----------------------------------------------------------------------------


def test_cli_run_refuses_a_fifo(tmp_path, capsys):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    code, _, err = run_cli(capsys, "run", SCENARIO, "--trials", "20", "--out", fifo, "--quiet")
    assert (
        code == 2 and err == f"error: {fifo}: is a named pipe (FIFO), not a regular file; give a file name\n"
    )
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["f"]


def test_cli_run_writes_through_a_link(tmp_path, capsys):
    (tmp_path / "run.nc").write_text("old")
    link = tmp_path / "latest.nc"
    link.symlink_to("run.nc")
    code, _, err = run_cli(capsys, "run", SCENARIO, "--trials", "20", "--out", link, "--quiet")
    assert code == 0, err
    assert link.is_symlink() and load_dataset(tmp_path / "run.nc").attrs["trials"] == 20


def test_cli_run_refuses_an_empty_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "run", os.path.abspath(SCENARIO), "--trials", "20", "--out", "", "--quiet")
    assert code == 2 and err == "error: the output path is empty\n"


def test_cli_report_refuses_an_empty_out(tmp_path, capsys, monkeypatch):
    scenario = os.path.abspath(SCENARIO)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(
        capsys, "report", scenario, "--out", "", "--trials", "20", "--quiet", "--variants", "none"
    )
    assert (code, out, err) == (2, "", "error: the output path is empty\n")
    assert os.listdir(tmp_path) == []


def test_cli_run_checks_out_before_simulating(tmp_path, capsys, monkeypatch):
    # A FIFO as --out is refused before the run starts, not after it.
    import sys

    def no_run(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(sys.modules["simcore.engine.simulate"], "simulate", no_run)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = run_cli(capsys, "run", SCENARIO, "--trials", "20", "--out", fifo, "--quiet")
    assert code == 2 and "named pipe" in err


def test_cli_optimize_out_goes_through_the_same_checks(tmp_path, capsys):
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    code, _, err = run_cli(capsys, "optimize", SCENARIO, "--trials", "100", "--out", fifo, "--quiet")
    assert code == 2 and "named pipe" in err and stat.S_ISFIFO(os.stat(fifo).st_mode)


# ---- formats from the extension ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fy_ds():
    return simcore.simulate(simcore.load_scenario(SCENARIO), trials=20, seed=0, progress=False)


def test_csv_holds_one_row_per_trial_and_its_figures(fy_ds, small_ds, tmp_path):
    import pandas as pd

    save_dataset(small_ds, tmp_path / "no_target.csv")
    assert "hit_target" not in pd.read_csv(tmp_path / "no_target.csv").columns  # no target, no column
    small_ds = fy_ds
    save_dataset(small_ds, tmp_path / "trials.csv")
    table = pd.read_csv(tmp_path / "trials.csv")
    assert len(table) == 20 and list(table["trial"]) == list(range(20))
    year = small_ds.simcore.year_bookings().values
    assert np.allclose(table["bookings"], year, rtol=0, atol=0.005)  # to the cent
    periods = [c for c in table.columns if c.startswith("bookings ")]
    assert periods == [f"bookings {p}" for p in small_ds.period.values]
    assert np.allclose(table[periods].sum(axis=1), table["bookings"], atol=0.05)
    assert np.allclose(table["stage1_created"], small_ds.simcore.stage_created(0).sum("period"), atol=0.005)
    target = small_ds.attrs["target"]
    assert list(table["hit_target"]) == [int(v >= target) for v in year]
    assert table["hit_target"].mean() == pytest.approx(small_ds.simcore.p_hit(), abs=1e-12)
    # No float noise: every dollar figure has at most two decimals.
    text = (tmp_path / "trials.csv").read_text()
    assert not any(
        len(cell.split(".")[1]) > 2
        for line in text.splitlines()[1:]
        for cell in line.split(",")
        if "." in cell
    )


def test_json_is_the_summary(small_ds, tmp_path):
    import json

    save_dataset(small_ds, tmp_path / "summary.json")
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(
        json.dumps(small_ds.simcore.summary())
    )


def test_parquet_needs_pyarrow_or_says_so(small_ds, tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(
            SimcoreError, match=r"needs pyarrow, which is not installed: pip install 'simcore\[parquet\]'"
        ):
            save_dataset(small_ds, tmp_path / "trials.parquet")
        assert os.listdir(tmp_path) == []
        return
    import pandas as pd

    save_dataset(small_ds, tmp_path / "trials.parquet")
    assert len(pd.read_parquet(tmp_path / "trials.parquet")) == 20


@pytest.mark.parametrize("name", ["run.txt", "run", "run.h5", "plan.toml"])
def test_an_unknown_extension_is_refused_with_the_list(small_ds, tmp_path, name):
    with pytest.raises(SimcoreError, match=r"the result formats are \.nc, \.csv, \.parquet, \.json"):
        save_dataset(small_ds, tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_cli_run_writes_each_format(tmp_path, capsys):
    import json

    import pandas as pd

    for name, words in [("r.csv", "Per-trial figures"), ("r.json", "Summary"), ("r.nc", "Full result")]:
        code, out, err = run_cli(
            capsys, "run", SCENARIO, "--trials", "30", "--out", tmp_path / name, "--quiet"
        )
        assert code == 0, err
        assert f"{words} written to {tmp_path / name}" in out
    assert len(pd.read_csv(tmp_path / "r.csv")) == 30
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["trials"] == 30 and "mc_errors" in summary  # what `simcore run --json` prints
    assert load_dataset(tmp_path / "r.nc").attrs["trials"] == 30
    assert sorted(os.listdir(tmp_path)) == ["r.csv", "r.json", "r.nc"]


# ---- an output that is an input -------------------------------------------------------------------


def test_cli_run_refuses_to_write_over_its_scenario_or_bank(tmp_path, capsys, monkeypatch):
    from simcore.examples import copy_example

    monkeypatch.chdir(tmp_path)
    copy_example("enterprise", tmp_path / "plan.toml")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    os.symlink("plan_bank.csv", tmp_path / "latest.csv")
    for out, given in [
        ("plan.toml", "plan.toml"),
        ("plan_bank.csv", "plan_bank.csv"),
        ("latest.csv", "plan_bank.csv"),
    ]:
        code, stdout, err = run_cli(capsys, "run", "plan.toml", "--trials", "10", "--out", out, "--quiet")
        assert (code, stdout) == (2, ""), err
        assert err.startswith(f"error: {out}: is the run's input ") and given in err and err.count("\n") == 1
    assert {p: p.read_bytes() for p in before} == before


# ---- faults: a full disk, Ctrl-C, a killed run's temporaries ---------------------------------------


def test_a_full_disk_is_one_line_and_keeps_the_old_file(small_ds, tmp_path, monkeypatch):
    import errno

    import simcore.io

    (tmp_path / "run.nc").write_text("last week's")

    def half_then_full(tmp, data):
        with open(tmp, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(simcore.io, "_write_bytes", half_then_full)
    with pytest.raises(SimcoreError) as exc:
        save_dataset(small_ds, tmp_path / "run.nc")
    assert str(exc.value) == (
        f"{tmp_path / 'run.nc'}: cannot write: the disk is full (no space left on device); the old file is kept"
    )
    assert os.listdir(tmp_path) == ["run.nc"] and (tmp_path / "run.nc").read_text() == "last week's"


def test_too_little_room_is_refused_before_writing(small_ds, tmp_path, monkeypatch):
    import simcore.io

    monkeypatch.setattr(simcore.io, "_free_bytes", lambda folder: 1000)
    with pytest.raises(
        SimcoreError, match=r"the disk is full \(no space left on device: [\d,]+ bytes to write, 1,000 free\)"
    ):
        save_dataset(small_ds, tmp_path / "run.nc")
    assert os.listdir(tmp_path) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB file system (tmpfs), nearly full; skipped where this machine cannot mount one."""
    import shutil
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")
    try:
        _fill(mount / "filler")  # fill it, then give back 256 KiB
        os.truncate(mount / "filler", max(0, os.path.getsize(mount / "filler") - 256 * 1024))
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _fill(path):
    with open(path, "wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"x" * 4096)


def test_a_real_full_disk_during_run_out(tiny_disk, capsys):
    (tiny_disk / "run.nc").write_text("old")
    code, out, err = run_cli(
        capsys, "run", SCENARIO, "--trials", "200", "--out", tiny_disk / "run.nc", "--quiet"
    )
    assert (code, out) == (2, "")
    assert (
        err.startswith(f"error: {tiny_disk / 'run.nc'}: cannot write: the disk is full")
        and err.count("\n") == 1
    )
    assert (
        sorted(os.listdir(tiny_disk)) == ["filler", "run.nc"] and (tiny_disk / "run.nc").read_text() == "old"
    )
    # The checks before the run find a disk with no room at all.
    _fill(tiny_disk / "more")
    code, out, err = run_cli(
        capsys, "run", SCENARIO, "--trials", "20", "--out", tiny_disk / "b.csv", "--quiet"
    )
    assert (code, out) == (2, "")
    assert (
        err
        == f"error: {tiny_disk / 'b.csv'}: cannot write in {str(tiny_disk)!r}: the disk is full (0 bytes free)\n"
    )


def test_ctrl_c_while_writing_stops_keeps_the_old_file_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import signal

    import simcore.io

    real = simcore.io._write_bytes

    def interrupted_midway(tmp, data):
        os.kill(os.getpid(), signal.SIGINT)  # as a user pressing Ctrl-C while h5py writes
        real(tmp, data)

    monkeypatch.setattr(simcore.io, "_write_bytes", interrupted_midway)
    (tmp_path / "run.nc").write_text("last week's")
    code, out, err = run_cli(
        capsys, "run", SCENARIO, "--trials", "20", "--out", tmp_path / "run.nc", "--quiet"
    )
    assert (code, out, err) == (130, "", "interrupted\n")
    assert os.listdir(tmp_path) == ["run.nc"] and (tmp_path / "run.nc").read_text() == "last week's"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_killed_runs_temporaries_are_cleaned_by_the_next_write(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f".run.nc.simcore-{dead_pid}-abc123_x.tmp"
        other_stale = tmp_path / f".b.csv.simcore-{dead_pid}-zzzzzzzz.tmp"
        busy = tmp_path / f".run.nc.simcore-{alive.pid}-q1w2e3r4.tmp"
        not_ours = [tmp_path / ".run.nc.g4rpte0o.tmp", tmp_path / "notes.simcore-1-x.tmp"]
        for p in [stale, other_stale, busy, *not_ours]:
            p.write_text("x")
        write_atomic(tmp_path / "run.nc", _writer("new"))
        assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in [busy, *not_ours, tmp_path / "run.nc"])
    finally:
        alive.kill()
        alive.wait()


def test_an_unwritable_folder_is_refused_before_the_run(tmp_path, capsys, monkeypatch):
    import sys

    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        if os.access(folder, os.W_OK) and os.geteuid() != 0:
            pytest.skip("this file system ignores permissions")

        def no_run(*args, **kwargs):
            raise AssertionError("simulated before checking the folder")

        monkeypatch.setattr(sys.modules["simcore.engine.simulate"], "simulate", no_run)
        if os.geteuid() == 0:  # root writes anywhere: a read-only file system is what stops it
            from simcore.io import check_writable

            monkeypatch.setattr("tempfile.mkstemp", _read_only_mkstemp)
            with pytest.raises(SimcoreError, match="Read-only file system"):
                check_writable(folder)
            monkeypatch.undo()
            return
        code, _, err = run_cli(
            capsys, "run", SCENARIO, "--trials", "20", "--out", folder / "run.nc", "--quiet"
        )
        assert code == 2 and "cannot write in" in err and "Permission denied" in err
    finally:
        os.chmod(folder, 0o700)


def _read_only_mkstemp(*args, **kwargs):
    import errno

    raise OSError(errno.EROFS, "Read-only file system")
