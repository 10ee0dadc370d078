"""Programs compiled onto a :class:`~simcore.engine.compile.Model`: creation added, rates lifted.

:func:`with_programs` returns a new model (the base is never edited) with the creation and
the rate lifts of the funded programs:

- **Creation.** A program's creation at full effect (dollars or a count per day) is split over
  the cells it feeds in proportion to their own planned creation over the horizon (equally
  when none plans any), ramped linearly from its start to full effect over its ramp, summed
  per week, and made a creation component of the model
  (:meth:`~simcore.engine.compile.Model.with_components`; dollars turned into counts with the
  cell's base mean amount, as the plan's own). A program's creation follows no seasonality.
  Its deals come from random-number streams of its own (keyed by its place in the file), so
  the plan's deals and every other program's are the same bits whichever programs are
  funded: a plan with and without a program are paired trial by trial. Its attainment, when
  declared, is a draw of its own per trial (the share of its creation delivered).
- **Rate lifts.** A lift is added to the rate's parameter slot in each cell fed: to a number,
  to each of a PERT's low, base and high, to a Beta's mean (a fixed lift only). An uncertain
  lift ``{low, base, high}`` is comonotone with the rate: ``low + low``, ``base + base``,
  ``high + high`` of one PERT drawn with the rate's own uniform, so a trial where the rate is
  good is one where the lift is large. Rates are drawn once per trial and cell, not per week,
  so a lift acts for the whole run, scaled by the program's mean effect over the horizon
  (its ramp averaged over the days of the plan): a program at full effect from the first
  day lifts by its full amount, one that starts halfway through by about half.
"""

from __future__ import annotations

import numpy as np

from simcore.engine.compile import Model
from simcore.engine.kernel import BETA, FIXED, PERT
from simcore.scenario.values import Pert

__all__ = ["program_creation", "with_programs"]


def _variant(model: Model, **changes) -> Model:
    # The model's own variant maker: shares every array not changed, and rebuilds the
    # creation-count tables only when the creation plan changes.
    return model._variant(**changes)


def program_creation(model: Model, program) -> np.ndarray:
    """Expected opportunities a program adds per cell and week (cells x weeks).

    Parameters
    ----------
    model : Model
        The compiled base plan (its creation splits the program's over the cells it feeds).
    program : simcore.scenario.programs.Program

    Returns
    -------
    numpy.ndarray
        Shaped like ``model.creation_rate``; zero outside the cells the program feeds.

    Examples
    --------
    >>> from simcore import load_scenario
    >>> from simcore.engine.compile import compile_scenario
    >>> sc = load_scenario("scenarios/programs.toml")
    >>> model = compile_scenario(sc)
    >>> added = program_creation(model, sc.programs[0])
    >>> added.shape == model.creation_rate.shape, bool(added[1:].sum() == 0)
    (True, True)
    """
    out = np.zeros_like(model.creation_rate)
    if program.creation_kind is None or not program.cells:
        return out
    cells = np.asarray(program.cells)
    horizon = int(model.horizon)
    planned = model.creation_rate[cells].sum(axis=1)
    if program.creation_kind == "dollars":
        planned = planned * model.mean_amount[cells]
    share = planned / planned.sum() if planned.sum() > 0 else np.full(len(cells), 1.0 / len(cells))
    daily = program.creation_per_day * program.effect(np.arange(horizon) + 0.5)
    weekly = np.add.reduceat(daily, np.arange(0, horizon, 7))
    for c, w in zip(cells, share, strict=True):
        per_unit = 1.0 / model.mean_amount[c] if program.creation_kind == "dollars" else 1.0
        out[c] = weekly * w * per_unit
    return out


def _slot(model: Model, lift) -> int:
    if lift.parameter == "win":
        return model.param_names.index("win")
    return model.param_names.index(f"advance[{model.scenario.stages[lift.stage].name}]")


def _lift(kind, base, low, high, c, q, amount):
    """Add ``amount`` (a number or a Pert) to slot ``q`` of cell ``c``, comonotone."""
    if isinstance(amount, Pert):
        if kind[c, q] == FIXED:
            value = base[c, q]
            kind[c, q] = PERT
            low[c, q], base[c, q], high[c, q] = value + amount.low, value + amount.base, value + amount.high
        elif kind[c, q] == PERT:
            low[c, q] += amount.low
            base[c, q] += amount.base
            high[c, q] += amount.high
        else:  # the scenario's checks keep an uncertain lift off a Beta rate
            raise ValueError("an uncertain lift on a Beta rate")
    else:
        base[c, q] += amount
        if kind[c, q] == PERT:
            low[c, q] += amount
            high[c, q] += amount
        elif kind[c, q] != BETA and kind[c, q] != FIXED:  # pragma: no cover - no other kinds
            raise ValueError(f"unknown slot kind {kind[c, q]}")


def _scaled(amount, factor):
    if isinstance(amount, Pert):
        return Pert(amount.low * factor, amount.base * factor, amount.high * factor)
    return amount * factor


def with_programs(model: Model, programs, plan: Model | None = None) -> Model:
    """The model with ``programs`` funded: their creation added, their rate lifts applied.

    Parameters
    ----------
    model : Model
        The compiled base plan (not edited).
    programs : iterable of simcore.scenario.programs.Program
        The programs funded (e.g. some of ``model.scenario.programs``).
    plan : Model, optional
        The model whose planned creation splits each program's over the cells it feeds
        (default: ``model``; give the plan's when ``model`` is a variant without creation).

    Returns
    -------
    Model
        A new model; with no programs, ``model`` itself. Components ``model`` already had are
        replaced by the programs' (pass the plan's own model).

    Examples
    --------
    >>> from simcore import load_scenario
    >>> from simcore.engine.compile import compile_scenario
    >>> sc = load_scenario("scenarios/programs.toml")
    >>> base = compile_scenario(sc)
    >>> funded = with_programs(base, sc.programs[:2])
    >>> funded.component_rate.shape[0], bool(funded.component_rate.sum() > 0)
    (2, True)
    """
    programs = list(programs)
    if not programs:
        return model
    creating = [p for p in programs if p.creation_kind is not None]
    if creating:
        model = model.with_components(
            np.stack([program_creation(plan or model, p) for p in creating]),
            attainment=[p.attainment for p in creating],
            keys=[p.key for p in creating],
            loading=[p.attainment_loading for p in creating],
        )
    changes = {}
    if any(p.effects for p in programs):
        kind, base = model.param_kind.copy(), model.param_base.copy()
        low, high = model.param_low.copy(), model.param_high.copy()
        days = np.arange(int(model.horizon)) + 0.5
        for p in programs:
            factor = float(p.effect(days).mean())
            for lift in p.effects:
                q = _slot(model, lift)
                for c in p.cells:
                    _lift(kind, base, low, high, c, q, _scaled(lift.lift, factor))
        changes.update(param_kind=kind, param_base=base, param_low=low, param_high=high)
    return _variant(model, **changes) if changes else model
