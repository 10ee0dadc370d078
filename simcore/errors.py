"""Errors a user can act on: which file, which field, what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


def format_path(parts) -> str:
    """``["by", "source", "inbound", "stages", "Stage 1"]`` -> ``by.source.inbound.stages."Stage 1"``.

    Parameters
    ----------
    parts : list of str or int
        The path, one part per key or list index.

    Returns
    -------
    str
        E.g. ``defaults.stages."Stage 1".advance``.
    """
    out = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
            continue
        text = str(part)
        if text and all(ch.isalnum() or ch in "_-" for ch in text):
            out.append(("." if out else "") + text)
        else:
            out.append(("." if out else "") + '"' + text + '"')
    return "".join(out) or "(top level)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where it is and what is wrong.

    Attributes
    ----------
    file : str
        The scenario file (or the name given to :func:`simcore.scenario_from_dict`).
    path : str
        The field, e.g. ``defaults.decision.win``, or ``(file)``, ``(syntax)``.
    message : str
        What is wrong. ``str(problem)`` is ``"file: path: message"``.
    """

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class ScenarioError(ValueError):
    """A scenario that cannot be used, with one :class:`Problem` per thing wrong.

    Parameters
    ----------
    problems : iterable of Problem
        Everything wrong; the error's message is one problem per line.

    Attributes
    ----------
    problems : list of Problem
    """

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SimcoreError(ValueError):
    """Bad input outside a scenario file (an argument, an option)."""
