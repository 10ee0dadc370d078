"""Limits across the fields of one resolved cell, which the per-field bounds of
:mod:`simcore.scenario.spec` cannot see (a dwell's family and its cv may be set at
different levels of inheritance).

Each limit keeps a draw of the engine finite and terminating; docs/scenario-format.md
("Limits") lists them with their reasons.
"""

from __future__ import annotations

from simcore.scenario import spec
from simcore.scenario.params import CellParams

# All cells' empirical deal-size lists together: compile copies each cell's list.
MAX_EMPIRICAL_TOTAL = 1_000_000


def _dwell_problems(dist, where):
    if dist.dist == "gamma" and dist.cv < spec.MIN_GAMMA_CV:
        # Shape 1 / cv^2: at cv = 0 it is infinite and the gamma draw never accepts.
        return [
            (
                f"{where}.cv",
                f"a gamma dwell needs cv >= {spec.MIN_GAMMA_CV:g}, got {dist.cv:g}: for a "
                f'constant time give dist = "fixed"',
            )
        ]
    return []


def check_resolved(params: CellParams, stages, n_cells: int) -> list:
    """Problems of one cell's resolved parameters, as ``[(field path, message), ...]``.

    Parameters
    ----------
    params : CellParams
        One entry of :attr:`simcore.scenario.load.Scenario.params`.
    stages : sequence of Stage
        The scenario's stages (the last is the decision stage).
    n_cells : int
        Number of cells of the scenario.

    Returns
    -------
    list of (str, str)
        Empty when the cell is within every limit.

    Examples
    --------
    >>> import dataclasses
    >>> from simcore.scenario import load_scenario
    >>> p = load_scenario("scenarios/smb.toml").params[0]
    >>> gamma = dataclasses.replace(p.decision.dwell, dist="gamma", cv=0.0)
    >>> p = dataclasses.replace(p, decision=dataclasses.replace(p.decision, dwell=gamma))
    >>> check_resolved(p, load_scenario("scenarios/smb.toml").stages, 1)[0][0]
    'decision.dwell.cv'
    """
    out = []
    for s, st in enumerate(params.stages):
        out += _dwell_problems(st.dwell, f'stages."{stages[s].name}".dwell')
    out += _dwell_problems(params.decision.dwell, "decision.dwell")
    out += _dwell_problems(params.decision.push_delay, "decision.push_delay")
    n_empirical = len(params.amount.empirical)
    if n_empirical * n_cells > MAX_EMPIRICAL_TOTAL:
        out.append(
            (
                "amount.empirical",
                f"{n_empirical:,} deal sizes in each of {n_cells:,} cells is more than "
                f"{MAX_EMPIRICAL_TOTAL:,} in all: give a shorter list (a few hundred deals "
                f"describe a distribution), or fewer cells",
            )
        )
    return out
