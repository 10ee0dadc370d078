"""CRM stage names mapped to the scenario's stages and forecast categories.

A mapping is given as ``CRM name=Scenario stage[:category]`` pairs (comma-separated on the
command line, or one per line in a file; ``#`` starts a comment), e.g.
``Qualification=Stage 1:pipeline, Proposal=Stage 2:best_case, Negotiation=Stage 3:commit``.
Several CRM names may map to one stage. Closed stages (``Closed Won``, ``Won``, ``Closed
Lost``, ``Lost``...) are recognised by name and need no mapping.

Without a mapping, the open stages are the CRM's own names, ordered by how long after
creation deals first reach them (median, from the stage history), and each stage's forecast
category is the one its deals carry most often in the export (``Pipeline``, ``Best Case``,
``Commit``), or, without that column, by position: the first stages ``pipeline``, the
second-last ``best_case``, the last ``commit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simcore.calibrate.readers import LOST_WORDS, WON_WORDS
from simcore.errors import Problem, ScenarioError, SimcoreError

CATEGORIES = ("pipeline", "best_case", "commit")
WON, LOST = -1, -2
_CATEGORY_WORDS = {"pipeline": "pipeline", "bestcase": "best_case", "commit": "commit", "upside": "best_case"}


@dataclass
class StageMap:
    """The scenario's open stages and how CRM names map onto them.

    Attributes
    ----------
    names : list of str
        The scenario's open stages, in order; the last is the decision stage.
    categories : list of str
        Each stage's forecast category.
    code : dict
        CRM stage name (lower case) -> stage index, or ``WON`` (-1) / ``LOST`` (-2).
    """

    names: list
    categories: list
    code: dict

    def codes(self, stage: pd.Series, file: str, lines: pd.Series, column: str = "stage") -> np.ndarray:
        """Stage indices of CRM stage names; an unknown name is a problem naming its line."""
        # Through the few distinct names, not the million rows.
        key = stage.astype("category")
        lower = pd.Series(key.cat.categories.str.lower().map(self.code), dtype=float)
        out = pd.Series(lower.to_numpy()[key.cat.codes.to_numpy()], index=stage.index)
        bad = out.isna()
        if bad.any():
            seen = list(dict.fromkeys(stage[bad]))[:10]
            first = lines[bad].iloc[0]
            raise ScenarioError(
                [
                    Problem(
                        file,
                        f"line {first}, column {column!r}",
                        f"unknown stage {s!r}: map it with --stages '{s}=<stage>' "
                        f"(known: {', '.join(self.names)})",
                    )
                    for s in seen
                ]
            )
        return out.to_numpy(dtype=np.int64)


def closed_code(name: str):
    """``WON``, ``LOST`` or None for a CRM stage name."""
    low = name.strip().lower()
    if low in WON_WORDS:
        return WON
    if low in LOST_WORDS - {"closed - won"} or low.startswith("closed lost"):
        return LOST
    return None


def parse_mapping(text: str) -> list:
    """``"A=Stage 1:pipeline, B=Stage 2"`` (or a file of such lines) -> ``[(crm, stage, category)]``."""
    path = Path(text)
    if "=" not in text and path.exists():
        text = path.read_text(encoding="utf-8-sig")
    items = []
    for raw_line in text.replace(",", "\n").splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise SimcoreError(f"--stages {line!r}: expected 'CRM stage=Scenario stage[:category]'")
        crm, target = (x.strip() for x in line.split("=", 1))
        category = None
        if ":" in target:
            target, category = (x.strip() for x in target.rsplit(":", 1))
            category = _CATEGORY_WORDS.get(category.lower().replace("_", "").replace(" ", ""))
            if category is None:
                raise SimcoreError(f"--stages {line!r}: the category must be one of {', '.join(CATEGORIES)}")
        if not crm or not target:
            raise SimcoreError(f"--stages {line!r}: a name is empty")
        items.append((crm, target, category))
    if not items:
        raise SimcoreError("--stages: no stage mapping given")
    return items


def stage_map(opportunities: pd.DataFrame, history: pd.DataFrame | None, mapping=None) -> StageMap:
    """The open stages and the code of every CRM stage name, from ``mapping`` or from the data.

    Parameters
    ----------
    opportunities : pandas.DataFrame
        From :func:`simcore.calibrate.readers.read_opportunities`.
    history : pandas.DataFrame or None
        From :func:`simcore.calibrate.readers.read_stage_history`.
    mapping : str or list, optional
        See :func:`parse_mapping`.

    Returns
    -------
    StageMap
    """
    if mapping is not None:
        items = parse_mapping(mapping) if isinstance(mapping, str) else list(mapping)
        names = list(dict.fromkeys(t for _, t, _ in items))
        cats = {}
        for _, t, c in items:
            if c is not None:
                cats[t] = c
        categories = [cats.get(n) or _by_position(i, len(names)) for i, n in enumerate(names)]
        code = {crm.lower(): names.index(t) for crm, t, _ in items}
        for n in names:
            code.setdefault(n.lower(), names.index(n))
    else:
        names = _order_from_data(opportunities, history)
        categories = _categories_from_data(opportunities, names)
        code = {n.lower(): i for i, n in enumerate(names)}
    add_closed_names(code, (opportunities, history))
    return StageMap(names, categories, code)


def add_closed_names(code: dict, frames) -> None:
    """Add to ``code`` each won or lost stage name the tables use (``WON``/``LOST``).

    Parameters
    ----------
    code : dict
        CRM stage name (lower case) -> stage index, completed in place; a name already mapped
        keeps its mapping.
    frames : iterable of pandas.DataFrame or None
        Tables with a ``stage`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> code = {"discovery": 0}
    >>> add_closed_names(code, [pd.DataFrame({"stage": ["Discovery", "Closed Won"]}), None])
    >>> code
    {'discovery': 0, 'closed won': -1}
    """
    for frame in frames:
        if frame is None:
            continue
        for name in frame["stage"].drop_duplicates():
            c = closed_code(name)
            if c is not None:
                code.setdefault(name.lower(), c)


def _by_position(i, n):
    if i == n - 1:
        return "commit"
    if i == n - 2 and n >= 3:
        return "best_case"
    return "pipeline"


def _order_from_data(opportunities, history):
    open_names = [n for n in opportunities["stage"].drop_duplicates() if closed_code(n) is None]
    if history is None or history.empty:
        return open_names or ["Open"]
    created = opportunities.set_index("opportunity_id")["created"]
    h = history[history["stage"].map(closed_code).isna()]
    first = h.groupby(["opportunity_id", "stage"], sort=False)["changed"].min().reset_index()
    first["age"] = (first["changed"] - first["opportunity_id"].map(created)).dt.total_seconds()
    order = first.groupby("stage")["age"].median().sort_values(kind="stable")
    names = list(order.index)
    return names + [n for n in open_names if n not in names]


def _categories_from_data(opportunities, names):
    n = len(names)
    fc = opportunities["forecast_category"]
    if isinstance(fc, pd.Series) and (fc != "").any():
        words = fc.str.lower().str.replace(r"[^a-z]", "", regex=True).map(_CATEGORY_WORDS)
        by_stage = pd.DataFrame({"stage": opportunities["stage"], "cat": words}).dropna()
        mode = by_stage.groupby("stage")["cat"].agg(lambda x: x.value_counts().index[0])
        return [mode.get(s, _by_position(i, n)) for i, s in enumerate(names)]
    return [_by_position(i, n) for i in range(n)]
