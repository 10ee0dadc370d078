"""Output paths (``--out``): refused when empty or not a regular file, written through a symbolic link.

Every output file goes through :func:`simcore.io.write_atomic`; :func:`simcore.io.check_out_file`
is its check of the path. (The report's folder: tests/test_report.py.)
"""

from __future__ import annotations

import os
import socket
import stat

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
