"""simcore installed from its wheel, as a user gets it: ``simcore run`` and ``simcore init`` work
from an empty folder, far from the source tree, with the bundled scenarios inside the package.

The wheel is built from a copy of the source (so the tree is left as it was) without a build
environment, and installed into a fresh virtual environment whose other packages come from this
one through a ``.pth`` file: nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "_simcore_entry.py", "simcore", "scenarios")


def _run(cmd, cwd, env, timeout=600):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _copy_source(dest: Path) -> None:
    """The files a clone has (tracked or new, not ignored), symbolic links kept as links."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [n for n in listed.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: what the build needs
        names = [
            str(p.relative_to(ROOT)) for name in SOURCES for p in [ROOT / name, *(ROOT / name).rglob("*")]
        ]
        names += [p.name for p in ROOT.glob("LICEN[CS]E*")]
    for name in names:
        src, dst = ROOT / name, dest / name
        if not (src.is_symlink() or src.is_file()) or "__pycache__" in src.parts:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    pytest.importorskip("setuptools", minversion="77", reason="building the wheel needs setuptools>=77")
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    _copy_source(source)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["NUMBA_NUM_THREADS"] = "1"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    proc = _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(base / "dist"), "."],
        source,
        env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (base / "dist").glob("simcore-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies come from this environment, after the new one's own site-packages.
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "deps-from-the-test-environment.pth").write_text("\n".join(sorted(here)) + "\n")
    proc = _run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], base, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    empty = base / "empty"
    empty.mkdir()
    return {"wheel": wheel, "bin": venv / "bin", "python": python, "cwd": empty, "env": env}


@pytest.mark.slow
def test_the_wheel_carries_the_scenarios_and_the_metadata(installed):
    with zipfile.ZipFile(installed["wheel"]) as whl:
        names = set(whl.namelist())
        for file in (ROOT / "scenarios").iterdir():
            packed = whl.read(f"simcore/scenarios/{file.name}")
            assert packed == file.read_bytes(), f"{file.name}: the wheel's copy differs"
        assert "simcore/scenario.schema.json" in names and "_simcore_entry.py" in names
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = whl.read(meta).decode()
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "Provides-Extra: completion" in metadata and "Project-URL: Source," in metadata
    for license_file in ROOT.glob("LICEN[CS]E*"):
        assert any(n.endswith(f".dist-info/licenses/{license_file.name}") for n in names)


@pytest.mark.slow
def test_installed_simcore_runs_and_inits_from_an_empty_folder(installed):
    cwd, env, bin_ = installed["cwd"], installed["env"], installed["bin"]
    where = _run([installed["python"], "-c", "import simcore; print(simcore.__file__)"], cwd, env)
    assert where.stdout.strip().startswith(str(bin_.parent)), "simcore imported from outside the venv"
    proc = _run([bin_ / "simcore", "--version"], cwd, env)
    assert proc.stdout.strip() == f"simcore {version('simcore')}"
    proc = _run([bin_ / "simcore", "run", "--trials", "200", "--json"], cwd, env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scenario"] == "fy2026" and os.listdir(cwd) == []
    proc = _run([bin_ / "simcore", "init"], cwd, env)
    assert proc.returncode == 0 and os.listdir(cwd) == ["fy2026.toml"], proc.stderr
    proc = _run([bin_ / "simcore", "init", "acme", "--from", "enterprise"], cwd, env)
    assert proc.returncode == 0 and sorted(os.listdir(cwd)) == ["acme.toml", "acme_bank.csv", "fy2026.toml"]
    proc = _run([bin_ / "simcore", "run", "acme.toml", "--trials", "200", "--out", "acme.csv"], cwd, env)
    assert proc.returncode == 0, proc.stderr
    assert "acme: 200 trials" in proc.stdout and len((cwd / "acme.csv").read_text().splitlines()) == 201
    proc = _run([bin_ / "simcore", "examples"], cwd, env)
    assert proc.returncode == 0 and "enterprise" in proc.stdout and str(bin_.parent) in proc.stdout
