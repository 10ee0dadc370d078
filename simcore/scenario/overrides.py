"""Overrides of a scenario document: ``--set path=value`` and the ``set`` tables of variants."""

from __future__ import annotations

import tomllib

from simcore.errors import format_path
from simcore.scenario import spec

# ---------------------------------------------------------------------------------------
# Overrides


def split_path(path: str) -> list:
    """``'by.source.inbound.stages."Stage 1".advance'`` -> its parts (quotes protect dots).

    Parameters
    ----------
    path : str
        A field path as ``--set`` takes it.

    Returns
    -------
    list of str or int
        List indices as ints.
    """
    parts, buf, quoted, i = [], "", False, 0
    while i < len(path):
        ch = path[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
        i += 1
    parts.append(buf)
    return [int(p) if p.isdigit() else p for p in parts]


def parse_value(text: str):
    """A ``--set`` value: TOML syntax (``0.3``, ``[1, 2, 1]``, ``{low=1, base=2, high=3}``), else text.

    Parameters
    ----------
    text : str
        The value of a ``--set path=value``.

    Returns
    -------
    object
        What the TOML value is (a number, a list, a table), or ``text`` itself.
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_override(raw, path, value, where, problems):
    parts = split_path(path) if isinstance(path, str) else list(path)
    if not parts or any(p == "" for p in parts):
        problems.append((where, f"empty part in the field path {path!r}"))
        return
    node = raw
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                problems.append((where, f"{path}: no entry {part!r} in the list at {format_path(parts[:i])}"))
                return
            node = node[part]
        elif isinstance(node, dict):
            key = str(part)
            if key not in node:
                node[key] = {}
            node = node[key]
        else:
            problems.append((where, f"{path}: {format_path(parts[:i])} is not a table"))
            return
        if not isinstance(node, (dict, list)):
            problems.append((where, f"{path}: {format_path(parts[: i + 1])} is a value, not a table"))
            return
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or last >= len(node):
            problems.append((where, f"{path}: no entry {last!r} in the list"))
            return
        node[last] = value
    else:
        table = spec.BLOCK.fields.get(parts[-2]) if len(parts) >= 2 else None
        if isinstance(table, spec.Table):
            _replace_other_form(node, str(last), table)
        node[str(last)] = value


def _replace_other_form(node, key, table):
    """An override in one form of a two-form field replaces the other form in that table.

    Overriding ``win`` (or ``push``...) where the table gives ``win_loss_push`` keeps what
    the ratio said for the other outcomes: ``[1, 2, 1]`` becomes ``win = 0.25, push = 0.25``
    (losses the rest), then the override applies. So ``--set defaults.decision.win=0.3`` on
    a 1:2:1 plan moves the win rate and leaves the push rate alone.
    """
    for one, other in table.two_forms:
        replaced = other if key in one else one if key in other else ()
        present = [k for k in replaced if k in node]
        if not present:
            continue
        ratio = node.get("win_loss_push")
        numbers = isinstance(ratio, list) and all(type(x) in (int, float) and x >= 0 for x in ratio)
        if present == ["win_loss_push"] and numbers and len(ratio) == 3 and sum(ratio) > 0:
            node["win"] = ratio[0] / sum(ratio)
            node["push"] = ratio[2] / sum(ratio)
        for k in present:
            del node[k]
