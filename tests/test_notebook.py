"""The analyst walkthrough notebook: committed with its outputs, so that it reads on any viewer
without running it, and executed top to bottom here (so it cannot rot); what it writes goes into
one folder the reader is told about."""

from __future__ import annotations

import os
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"


def _read():
    return nbformat.read(NOTEBOOK, as_version=4)


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_notebook_is_stored_executed_with_its_outputs():
    nb = _read()
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the walkthrough has no code"
    # Run once, top to bottom, in order: execution counts 1, 2, 3, ...
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "re-run it top to bottom"
    assert not [o for o in _outputs(nb) if o.output_type == "error"]
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 5, "the stored charts are missing"
    # It says where its files go, in words and in what it prints.
    words = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "walkthrough-output/" in words
    text = "".join(o.get("text", "") for o in _outputs(nb) if o.output_type == "stream")
    assert "This notebook writes its files into walkthrough-output" in text


@pytest.mark.slow  # runs the whole walkthrough in a kernel: ~20 s
def test_notebook_runs_and_writes_into_its_folder(monkeypatch, tmp_path):
    # The kernel is a separate process: make simcore importable there whether or not it is installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("SIMCORE_WALKTHROUGH_OUT", str(tmp_path / "out"))
    nb = _read()
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
    )
    client.execute()  # raises CellExecutionError, with the failing cell, if any cell fails
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    # The charts rendered inline as PNGs (the plots work in a notebook, not only headless).
    assert len([o for o in outputs if "image/png" in o.get("data", {})]) >= 5
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "P(hit)" in text and "Conservative" in text and "report.html" in text
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["fy2026-trials.csv", "fy2026.nc", "report"]
    assert (out / "report" / "report.html").is_file()
