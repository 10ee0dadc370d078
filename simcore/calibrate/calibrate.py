"""``simcore.calibrate``: a company's CRM history in, a scenario with honest uncertainty out.

The statistics live in :mod:`simcore.calibrate.fit` and :mod:`simcore.calibrate.parameters`,
the scenario text in :mod:`simcore.calibrate.writer`; this module orchestrates them and
returns a :class:`CalibrationResult`.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simcore.calibrate import events as ev
from simcore.calibrate import parameters as pm
from simcore.calibrate.stages import LOST, WON, StageMap, stage_map
from simcore.calibrate.writer import bank_frame, scenario_document, to_toml
from simcore.errors import SimcoreError
from simcore.scenario import scenario_from_dict

NEEDED = ("opportunity_id", "created", "stage", "status", "loss_reason", "closed", "close_date", "amount")


@dataclass
class CalibrationResult:
    """What :func:`calibrate` found, read like SciPy's result objects.

    Attributes
    ----------
    scenario : Scenario
        The fitted scenario, ready for :func:`simcore.simulate`.
    evidence : pandas.DataFrame
        One row per fitted value: ``cell, stage, parameter, estimate, low, high`` (90%),
        ``deals, events, method, note``.
    diagnostics : dict
        ``with_history``, ``as_of``, ``deals``, ``open_deals``, ``dwell_family`` (per stage),
        ``seasonality``, ``warnings``.
    document : dict
        The fitted scenario as the dict a TOML reader would give (``bank.csv`` names the bank).
    toml : str
        The scenario file's text (with a comment giving the evidence of every fitted value).
    bank : pandas.DataFrame
        The deals open at the as-of date, as the bank CSV holds them.
    success : bool
    message : str
    warnings : list of str
        What is odd but usable in the history.
    events : Events
        The deals and stage spells the fit used (:class:`simcore.calibrate.events.Events`).
    """

    scenario: object
    evidence: pd.DataFrame
    diagnostics: dict
    document: dict
    toml: str
    bank: pd.DataFrame
    success: bool = True
    message: str = ""
    warnings: list = field(default_factory=list)
    events: object = field(default=None, repr=False)

    def to_dataframe(self) -> pd.DataFrame:
        """The evidence table."""
        return self.evidence.copy()

    def to_dict(self) -> dict:
        """A JSON-ready summary: diagnostics and the evidence rows."""
        from simcore.format import json_safe

        return json_safe(
            {
                "success": self.success,
                "message": self.message,
                "diagnostics": self.diagnostics,
                "evidence": self.evidence.to_dict(orient="records"),
            }
        )

    def write(self, path) -> tuple:
        """Write the scenario to ``path`` and its bank beside it (``<stem>_bank.csv``); returns both paths."""
        from simcore.io import write_atomic

        path = Path(path)
        bank_path = path.with_name(f"{path.stem}_bank.csv")
        write_atomic(bank_path, lambda tmp: self.bank.to_csv(tmp, index=False))
        text = self.toml.replace("__BANK_CSV__", bank_path.name)
        write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return path, bank_path


def _cells(opps, dimensions):
    values = {d: sorted(opps[d].astype(str).unique()) for d in dimensions}
    if not dimensions:
        values = {"segment": ["all"]}
    combos = list(itertools.product(*values.values()))
    return values, combos, {c: i for i, c in enumerate(combos)}


def _check_table(frame, what):
    if not isinstance(frame, pd.DataFrame):
        raise SimcoreError(
            f"calibrate: {what} must be a pandas DataFrame (see simcore.calibrate.read_opportunities)"
        )
    missing = [c for c in NEEDED if c not in frame.columns] if what == "opportunities" else []
    if missing:
        raise SimcoreError(
            f"calibrate: the opportunity table lacks {', '.join(missing)}: read it with read_opportunities"
        )


def calibrate(
    opportunities,
    as_of,
    dimensions=(),
    stage_history=None,
    stages=None,
    half_life=None,
    name="fitted",
    horizon_weeks=52,
) -> CalibrationResult:
    """Fit the model of ``docs/model.md`` to a CRM history and return the scenario it implies.

    Parameters
    ----------
    opportunities : pandas.DataFrame
        From :func:`simcore.calibrate.read_opportunities` (its ``.table``).
    as_of : date or str
        Only what was known before this date is used; it is the fitted scenario's start, and the
        deals open then are its bank.
    dimensions : sequence of str
        Columns of ``opportunities`` that make the cells (e.g. ``["source", "product"]``).
    stage_history : pandas.DataFrame, optional
        From :func:`simcore.calibrate.read_stage_history`. Without it the export supports one
        open stage (created to closed) and no push rate; the result says so.
    stages : str or list, optional
        Stage mapping (:func:`simcore.calibrate.stages.parse_mapping`).
    half_life : float, optional
        Days: an event this long before ``as_of`` weighs half as much as one today.
    name : str
        The fitted scenario's name.
    horizon_weeks : int
        Horizon of the fitted scenario.

    Returns
    -------
    CalibrationResult

    Examples
    --------
    >>> import simcore
    >>> from simcore.calibrate import calibrate, simulate_history, tidy_history
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> h = simulate_history(sc, "2024-01-01", "2026-01-01", seed=3)
    >>> opps, stage_history = tidy_history(h, dimensions=["source", "product"])
    >>> fit = calibrate(opps, "2026-01-01", ["source", "product"], stage_history)
    >>> fit.scenario.stages[-1].name
    'Negotiation'
    """
    _check_table(opportunities, "opportunities")
    as_of = pd.Timestamp(as_of)
    dimensions = list(dimensions)
    if len(set(dimensions)) < len(dimensions):
        twice = next(d for d in dimensions if dimensions.count(d) > 1)
        raise SimcoreError(f"calibrate: the dimension {twice!r} is given twice; name each dimension once")
    for d in dimensions:
        if d not in opportunities.columns:
            raise SimcoreError(f"calibrate: no dimension column {d!r} in the opportunity table")
    if half_life is not None and not half_life > 0:
        raise SimcoreError(f"calibrate: half_life must be a positive number of days, got {half_life!r}")
    opps = opportunities[opportunities["created"] < as_of]
    if opps.empty:
        raise SimcoreError(f"calibrate: no opportunity was created before the as-of date {as_of.date()}")
    if stage_history is not None:
        smap = stage_map(opps, stage_history, stages)
    else:
        code = {s.lower(): 0 for s in opps["stage"].unique()}
        smap = stage_map(opps, None, None)
        smap = StageMap(
            ["Open"], ["pipeline"], {**code, **{k: v for k, v in smap.code.items() if v in (WON, LOST)}}
        )
    values, combos, cells = _cells(opps, dimensions)
    if not dimensions:
        opps = opps.assign(segment="all")
    events, warnings = ev.build_events(opps, stage_history, smap, as_of, dimensions or ["segment"], cells)
    labels = ["/".join(c) for c in combos]
    rows, diag = _fit_all(events, smap, labels, combos, list(values), as_of, half_life)
    evidence = pd.DataFrame(rows)
    bank, bank_warnings = bank_frame(events.deals, smap, list(values), evidence, labels, as_of)
    warnings += bank_warnings
    doc, comments = scenario_document(
        name, as_of, horizon_weeks, values, smap, evidence, labels, diag, events
    )
    evidence.attrs.pop("_by_key", None)  # the writer's lookup table, not part of the result
    toml = to_toml(doc, comments, header=_header(events, as_of, diag))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bank.csv").write_text(bank.to_csv(index=False), encoding="utf-8")
        doc["bank"] = {"csv": "bank.csv"} if len(bank) else {}
        scenario = scenario_from_dict(doc, name=f"{name}.toml", base_dir=Path(tmp))
    diag.update(
        {
            "with_history": events.with_history,
            "as_of": str(as_of.date()),
            "deals": len(events.deals),
            "open_deals": len(bank),
            "warnings": warnings,
        }
    )
    message = (
        "fitted" if events.with_history else "fitted from the export alone: one open stage, no push rate"
    )
    return CalibrationResult(scenario, evidence, diag, doc, toml, bank, True, message, warnings, events)


def _header(events, as_of, diag):
    d = events.deals
    lines = [
        f"Fitted by simcore calibrate to {len(d):,} opportunities created before {as_of.date()}",
        f"({int((d['status'] == 'won').sum()):,} won, {int((d['status'] == 'lost').sum()):,} lost, "
        f"{int((d['status'] == 'open').sum()):,} open on that date).",
        "Intervals in comments are 90%. Edit freely: this is a starting point, not a verdict.",
    ]
    if not events.with_history:
        lines += [
            "No stage history was given: the export supports one open stage, from created to closed,",
            "and no push rate (push = 0 is not fitted). Give --history for per-stage rates and pushes.",
        ]
    return lines


def _fit_all(events, smap, labels, combos, dims, as_of, half_life):
    """Every evidence row, stage by stage, then the decision, deal sizes and creation."""
    spells = events.spells
    k = len(smap.names)
    rows, families = [], {}
    for s in range(k - 1):
        name = smap.names[s]
        st = spells[(spells["stage"] == s) & (spells["kind"] == ev.KIND_DWELL)]
        decided = st[st["outcome"] != ev.OUT_CENSORED]
        w = pm.recency_weight(decided["end"].to_numpy(), half_life)
        x = np.bincount(
            decided["cell"], weights=w * (decided["outcome"] == ev.OUT_ADVANCE), minlength=len(labels)
        )
        n = np.bincount(decided["cell"], weights=w, minlength=len(labels))
        rows += pm.rate_rows(
            f"advance[{name}]", name, x, n, labels, combos, dims, "left the stage by advancing"
        )
        rows.append(pm.loss_share_row(decided, name, f"lost_competition_share[{name}]"))
        dwell, families[name], _ = pm.dwell_rows(st, "dwell", name, labels, half_life)
        rows += dwell + pm.growth_rows(st, name, labels)
    rows += _decision_rows(events, smap, labels, combos, dims, half_life, families)
    rows += pm.amount_rows(events.deals, labels)
    creation, season, season_note = pm.creation_rows(events.deals, labels, as_of, half_life)
    rows += creation
    diag = {
        "dwell_family": families,
        "seasonality": [float(x) for x in season],
        "seasonality_note": season_note,
    }
    return rows, diag


def _decision_rows(events, smap, labels, combos, dims, half_life, families):
    spells = events.spells
    k = len(smap.names)
    name = smap.names[-1]
    dec = spells[spells["stage"] == k - 1]
    decisions = dec[dec["outcome"] != ev.OUT_CENSORED]
    w = pm.recency_weight(decisions["end"].to_numpy(), half_life)
    first = (decisions["pushes"] == 0).to_numpy()
    won = (decisions["outcome"] == ev.OUT_WON).to_numpy()
    pushed = (decisions["outcome"] == ev.OUT_PUSH).to_numpy()
    cell = decisions["cell"].to_numpy()
    n_cells = len(labels)
    x = np.bincount(cell[first], weights=(w * won)[first], minlength=n_cells)
    n = np.bincount(cell[first], weights=w[first], minlength=n_cells)
    rows = pm.rate_rows("win", name, x, n, labels, combos, dims, "first decisions won")
    win = [r["estimate"] for r in rows]
    max_pushes = int(dec["pushes"].max()) if len(dec) else 0
    if events.with_history:
        can = (decisions["pushes"] < max(max_pushes, 1)).to_numpy()
        xp = np.bincount(cell[can], weights=(w * pushed)[can], minlength=n_cells)
        np_ = np.bincount(cell[can], weights=w[can], minlength=n_cells)
        rows += pm.rate_rows("push", name, xp, np_, labels, combos, dims, "decisions pushed")
        rows.append(pm.win_decay_row(decisions, win, labels))
        delays = dec[dec["kind"] == ev.KIND_PUSH_DELAY]
        if (delays["outcome"] != ev.OUT_CENSORED).sum() >= 5:
            fit, families["(push delay)"], _ = pm.dwell_rows(delays, "push_delay", name, labels, half_life)
            rows += fit
    rows.append(pm.loss_share_row(decisions, name, "lost_competition_share[decision]"))
    dwell, families[name], _ = pm.dwell_rows(
        dec[dec["kind"] == ev.KIND_DWELL], "dwell", name, labels, half_life
    )
    rows += dwell
    rows.append(pm._row("*", name, "max_pushes", max_pushes, math.nan, math.nan, len(dec), max_pushes,
                        "most observed", "the most pushes any deal took"))  # fmt: skip
    return rows
