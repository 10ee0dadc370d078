"""The example scenarios that ship inside the package, found wherever simcore is installed.

``simcore run`` with no scenario runs :data:`DEFAULT`; ``simcore examples`` lists them and
``simcore init`` copies one (with its bank CSV) into a folder to edit. In the source tree,
``simcore/scenarios/*`` are links to the top-level ``scenarios/`` files, which are the ones to
edit; a wheel carries copies of them.

Examples
--------
>>> import simcore
>>> from simcore.examples import example_path
>>> sc = simcore.load_scenario(example_path("smb"))
>>> sc.period
'month'
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from simcore.errors import SimcoreError
from simcore.io import temporary_prefix

DEFAULT = "fy2026"
"""The example ``simcore run`` runs when no scenario is given."""

EXAMPLES = {
    "fy2026": "fy2026.toml",
    "smb": "smb.toml",
    "enterprise": "enterprise.toml",
    "fy2026_segmented": "fy2026_segmented.toml",
    "programs": "programs.toml",
}
"""Example name -> its file in the package's ``scenarios`` folder."""

_extracted: Path | None = None  # where a zipped install's examples were copied to, once


@dataclass(frozen=True)
class Example:
    """One bundled scenario.

    Attributes
    ----------
    name : str
        What ``simcore init --from`` takes (``"fy2026"``).
    path : Path
        The scenario file.
    description : str
        The file's own ``description``.
    bank_csv : Path or None
        The CSV of open deals it reads, if any.
    """

    name: str
    path: Path
    description: str
    bank_csv: Path | None


def _folder() -> Path:
    """The package's ``scenarios`` folder as a real folder (copied out of a zip, if need be)."""
    global _extracted
    folder = resources.files("simcore") / "scenarios"
    if isinstance(folder, Path):
        return folder
    if _extracted is None:  # a zipped install: the loader needs real files beside each other
        out = Path(tempfile.mkdtemp(prefix="simcore-examples-"))
        for item in folder.iterdir():
            (out / item.name).write_bytes(item.read_bytes())
        _extracted = out
    return _extracted


def _followed(path: Path) -> Path:
    # A checkout without symbolic links (git on Windows, core.symlinks=false) writes each link
    # as a one-line file holding its target: follow it.
    if path.is_file() and not path.is_symlink() and path.stat().st_size < 200:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("../") and "\n" not in text:
            linked = (path.parent / text).resolve()
            if linked.is_file():
                return linked
    return path


def example_path(name: str = DEFAULT) -> Path:
    """The file of a bundled example scenario.

    Parameters
    ----------
    name : str, default "fy2026"
        One of :data:`EXAMPLES`.

    Returns
    -------
    Path

    Raises
    ------
    SimcoreError
        For an unknown name (the message lists the examples), or an installation that lost
        its files.

    Examples
    --------
    >>> example_path().name
    'fy2026.toml'
    """
    if name not in EXAMPLES:
        raise SimcoreError(f"no example {name!r}; the examples are {', '.join(EXAMPLES)}")
    # Resolved: in a clone the package's examples are links to scenarios/, and a scenario reads
    # its bank CSV from its own real folder (a link elsewhere is refused as untrusted).
    path = _followed(_folder() / EXAMPLES[name]).resolve()
    if not path.is_file():
        raise SimcoreError(
            f"the bundled example {name!r} is missing from this installation ({path}); reinstall simcore"
        )
    return path


def example(name: str = DEFAULT) -> Example:
    """A bundled example scenario: its file, description and bank CSV.

    Parameters
    ----------
    name : str, default "fy2026"

    Returns
    -------
    Example

    Examples
    --------
    >>> example("enterprise").bank_csv.name
    'enterprise_bank.csv'
    """
    path = example_path(name)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    csv = raw.get("bank", {}).get("csv") if isinstance(raw.get("bank"), dict) else None
    bank = _followed(path.parent / csv) if isinstance(csv, str) and csv else None
    return Example(name, path, str(raw.get("description", "")), bank)


def examples() -> list:
    """Every bundled example, the default first.

    Returns
    -------
    list of Example
    """
    return [example(name) for name in EXAMPLES]


def copy_example(name: str, destination) -> list:
    """Write an editable copy of a bundled example (and its bank CSV); never replaces a file.

    Parameters
    ----------
    name : str
        One of :data:`EXAMPLES`.
    destination : str or Path
        The scenario file to create (``.toml``). Named other than the example's own file, its
        stem becomes the scenario's ``name``, and a bank CSV goes beside it as ``STEM_bank.csv``,
        which the copy reads; named like it, the copy is the example as it is.

    Returns
    -------
    list of Path
        The files written, the scenario first.

    Raises
    ------
    SimcoreError
        When a file to write exists already (nothing is written then), its folder does not exist,
        or writing fails (what was written is removed).

    Examples
    --------
    >>> import tempfile, simcore
    >>> folder = tempfile.mkdtemp()
    >>> [p.name for p in copy_example("enterprise", f"{folder}/acme.toml")]
    ['acme.toml', 'acme_bank.csv']
    >>> simcore.load_scenario(f"{folder}/acme.toml").name
    'acme'
    """
    source = example(name)
    destination = Path(destination)
    if destination.suffix.lower() != ".toml":
        raise SimcoreError(f"{destination}: a scenario file's name ends in .toml")
    text = source.path.read_text(encoding="utf-8")
    new_name = destination.stem
    keep = new_name == source.path.stem
    files = [(destination, None)]
    renames = {"name": new_name}
    if source.bank_csv is not None:
        bank = destination.with_name(source.bank_csv.name if keep else f"{new_name}_bank.csv")
        files.append((bank, source.bank_csv.read_bytes()))
        renames["csv"] = bank.name
    files[0] = (destination, (text if keep else _renamed(text, source, renames)).encode("utf-8"))
    for path, _ in files:
        if not path.parent.is_dir():
            raise SimcoreError(f"{path}: the folder {str(path.parent)!r} does not exist")
        if os.path.lexists(path):
            raise SimcoreError(f"{path}: exists already; give another name, or move it away first")
    written = []
    try:
        for path, data in reversed(files):  # the bank first: the scenario is then complete
            _create(path, data)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return [p for p, _ in files]


def _renamed(text: str, source: Example, renames: dict) -> str:
    """``text`` with the top-level ``name`` (and the bank's ``csv``) changed, checked by parsing."""
    out = re.sub(r'(?m)^name\s*=\s*"[^"\n]*"', f"name = {_quoted(renames['name'])}", text, count=1)
    if "csv" in renames:
        out = out.replace(f'"{source.bank_csv.name}"', _quoted(renames["csv"]))
    expected = tomllib.loads(text)
    expected["name"] = renames["name"]
    if "csv" in renames:
        expected["bank"]["csv"] = renames["csv"]
    if tomllib.loads(out) != expected:  # the file's layout changed: copy it as it is
        return text
    return out


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _create(path: Path, data: bytes) -> None:
    """Write a new file all at once: a temporary, then a hard link that fails if ``path`` exists."""
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise SimcoreError(f"{path}: exists already; give another name, or move it away first") from None
        except OSError:  # a file system without hard links: exclusive creation does the same
            with open(tmp, "rb") as src, open(path, "xb") as fh:
                shutil.copyfileobj(src, fh)
    except OSError as exc:
        raise SimcoreError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
