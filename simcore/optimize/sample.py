"""A plan simulated, reduced to what the optimizer needs: per-trial bookings by unit.

``bookings_by_cohort`` linearity: a deal's fate never depends on the volume around it
(counter-based generator, docs/model.md "Randomness"; a larger plan keeps a smaller plan's
deals), so trial ``t``'s bookings under a plan ``x`` are modelled as
``bank_t + sum_u (x_u / x_ref_u) B_t[u]``, where ``B_t[u]`` are the bookings of the deals unit
``u`` created in the simulation of ``x_ref``: exact in expectation, exact in every trial at
``x = x_ref`` (and for ``x_u = 0``). The ending decision-stage bank is modelled the same way.

Every call of the kernel goes through :func:`_run` and every edit of a compiled model through
:func:`_without_bank` and :func:`_decision_bank_only`, so that a change of the engine's shape
touches three small functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simcore.engine.distributed import kernel_chunks
from simcore.engine.kernel import flow_layout
from simcore.engine.simulate import run_kernel
from simcore.optimize.layout import Layout
from simcore.scenario.spec import CATEGORIES

_CHUNK = 4096


@dataclass
class Sim:
    """One simulation of a plan, reduced: per-trial bookings by unit and close quarter."""

    x: np.ndarray  # unit dollars simulated
    unit_bookings: np.ndarray  # (T, J, P) bookings of the unit's deals closing in quarter P
    bank: np.ndarray  # (T, P) bookings of the starting bank
    stage4: np.ndarray  # (P, C) mean decision-stage creation dollars (in the period it happened)
    stage1: np.ndarray  # (P, C) mean entry-stage creation dollars
    ending_bank: np.ndarray  # (C,) mean decision-stage-category bank at the horizon, dollars
    ending_total: np.ndarray  # (T,) decision-stage-category bank at the horizon, per trial
    unit_ending: np.ndarray | None = None  # (T, J) of it from each unit's deals (when asked)
    # Other forecast categories asked for at the end: name -> ((T,) bank, (T, J) of it by unit).
    other_endings: dict | None = None

    def ratio(self, x) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.x > 0, np.asarray(x, dtype=np.float64) / self.x, 0.0)

    def bookings(self, x) -> np.ndarray:
        """(T, P) bookings under the linear model at unit dollars ``x``."""
        return self.bank + np.einsum("tjp,j->tp", self.unit_bookings, self.ratio(x))

    def per_dollar(self) -> np.ndarray:
        """(T, J, P) bookings per planned dollar of each unit."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(self.x > 0, 1.0 / self.x, 0.0)
        return self.unit_bookings * r[None, :, None]

    def ending_per_dollar(self) -> np.ndarray:
        """(T, J) ending decision-stage bank per planned dollar of each unit."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(self.x > 0, 1.0 / self.x, 0.0)
        return self.unit_ending * r[None, :]

    @property
    def bank_ending(self) -> np.ndarray:
        """(T,) the ending bank not attributed to a unit (the starting bank's deals still open)."""
        return self.ending_total - self.unit_ending.sum(axis=1)

    def ending(self, x) -> np.ndarray:
        """(T,) ending decision-stage bank under the linear model at ``x``."""
        return self.bank_ending + self.unit_ending @ self.ratio(x)

    def category_ending(self, category, x) -> np.ndarray:
        """(T,) ending bank in forecast ``category`` (one asked for) under the linear model at ``x``."""
        total, unit = self.other_endings[category]
        return total - unit.sum(axis=1) + unit @ self.ratio(x)

    def category_ending_per_dollar(self, category) -> tuple:
        """``(bank part (T,), per planned dollar (T, J))`` of the ending bank in ``category``."""
        total, unit = self.other_endings[category]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(self.x > 0, 1.0 / self.x, 0.0)
        return total - unit.sum(axis=1), unit * r[None, :]


def _run(model, trials, seed, client=None):
    """The kernel in chunks of trials (same bits as one call): yields ``(lo, hi, output)``;
    on ``client``'s Dask workers when given.
    """
    yield from kernel_chunks(client, model, trials, seed, _CHUNK)


def _without_bank(model):
    """The model with no starting bank (a copy)."""
    return model.without_bank()


def _decision_bank_only(model, stage):
    """No creation, and only the starting bank's deals in the decision stage (a copy)."""
    return model.with_creation_scale(0.0).with_bank_only_in(stage)


def _quarter_shares(layout: Layout, model) -> list:
    """Per quarter, the share of each creation week's days that fall in it."""
    week_day = model.week_start.astype(np.int64)
    of_day = layout.quarters.of_day(layout.scenario.horizon_days)
    return [
        np.array([np.mean(of_day[d : d + 7] == q) for d in week_day]) for q in range(len(layout.quarters))
    ]


def simulate_plan(
    layout: Layout, x, trials, seed, *, ending=None, only_bank4=False, cells=None, client=None
) -> Sim:
    """Simulate unit dollars ``x`` (``trials`` trials, ``seed``), reduced to a :class:`Sim`.

    ``ending``: the yields of :func:`ending_yields`, to attribute each trial's ending
    decision-stage bank to the units. ``only_bank4``: no
    creation and only the decision-stage part of the starting bank (what a scaled bank books).
    ``cells``: simulate these (cells, quarters) dollars instead (``x`` is then ignored).
    ``client``: run the chunks of trials on this Dask client's workers (same bits).
    """
    if cells is None:
        cells = layout.cell_dollars(x)
    else:
        x = layout.unit_dollars(cells)
    model = layout.compiled(cells)
    if only_bank4:
        model = _decision_bank_only(model, layout.scenario.decision_stage)
    k = model.n_stages
    created0 = flow_layout(k)[1]
    P = len(model.periods)
    C = len(layout.scenario.cells)
    unit_bookings = np.zeros((trials, layout.n_units, P))
    bank = np.zeros((trials, P))
    stage4, stage1 = np.zeros((P, C)), np.zeros((P, C))
    ending_cells = np.zeros((trials, C))
    category = model.category[k - 1]
    others = (
        {} if not isinstance(ending, dict) else {name: np.zeros((trials, C)) for name in ending["others"]}
    )
    for lo, hi, out in _run(model, trials, seed, client):
        cohort = out.cohort_amt  # (t, close period, cohort, cell)
        bank[lo:hi] = cohort[:, :, P, :].sum(axis=-1)
        unit_bookings[lo:hi] = np.moveaxis(layout.unit_matrix(cohort[:, :, :P, :]), 1, 2)
        stage4 += out.flow_amt[..., created0 + k - 1].sum(axis=0)
        ending_cells[lo:hi] = out.bank_amt[:, P, :, category]
        for name, cells_of in others.items():
            cells_of[lo:hi] = out.bank_amt[:, P, :, CATEGORIES.index(name)]
        stage1 += out.flow_amt[:, :, np.arange(C), created0 + model.entry_stage].sum(axis=0)
    if layout.programs is not None and not only_bank4:
        # HOOK (simcore.optimize.joint): the funded programs' own deals book the same whatever
        # the plan's dollars, so they join each trial's constant, as the bank does.
        bank += layout.programs.bookings(model, trials, seed)
    if layout.as_of is not None and not only_bank4:
        # The bookings already won are every trial's, by the quarter they closed in: the
        # confidence is of actuals + simulated >= target, and period targets see them too.
        bank += layout.as_of.by_period(layout.as_of.actuals, model)[0].sum(axis=1)[None, :]
    sim = Sim(
        np.asarray(x, dtype=np.float64).copy(),
        unit_bookings,
        bank,
        stage4 / trials,
        stage1 / trials,
        ending_cells.mean(axis=0),
        ending_cells.sum(axis=1),
    )
    if isinstance(ending, dict):
        sim.unit_ending = _unit_ending(layout, cells, ending_cells, ending["decision"])
        sim.other_endings = {
            name: (e.sum(axis=1), _unit_ending(layout, cells, e, ending["others"][name]))
            for name, e in others.items()
        }
    elif ending is not None and ending is not False:
        sim.unit_ending = _unit_ending(layout, cells, ending_cells, ending)
    return sim


def _unit_ending(layout: Layout, cells, ending_cells, yields) -> np.ndarray:
    """(T, J) each trial's ending decision-stage bank attributed to the units.

    Each cell's ending bank in a trial is split between the starting bank and the creation
    quarters in proportion to their expected contributions (``yields``: ending bank per planned
    dollar by cell and quarter, and the bank's expected part by cell, from :func:`ending_yields`).
    The split adds up to the trial's own figure, so the linear model is exact at the plan
    simulated, as for bookings.
    """
    per_dollar, bank_part = yields
    expected = per_dollar * cells  # (C, Q)
    total = bank_part + expected.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total[:, None] > 0, expected / total[:, None], 0.0)
    out = np.zeros((ending_cells.shape[0], layout.n_units))
    C, Q = cells.shape
    for c in range(C):
        for q in range(Q):
            out[:, layout.cell_unit[c, q]] += ending_cells[:, c] * share[c, q]
    return out


def quarter_yields(layout: Layout, x, trials, seed, *, stage4=False, ending=False, categories=()):
    """What a planned dollar of each cell's creation in each quarter yields, from one set of short
    simulations: one bank-free run per quarter with only that quarter's creation, and (for the
    ending bank) one run of the bank alone. The mix rule and the ending-bank requirements share
    them (they were separate runs of the same models).

    Parameters
    ----------
    layout : Layout
    x : numpy.ndarray
        Unit dollars to simulate at (units at 0 at 1 dollar: yields per dollar are what is wanted).
    trials, seed : int
    stage4 : bool
        Also the expected decision-stage dollars created inside the horizon per planned dollar,
        per unit (:func:`stage4_yield`).
    ending : bool
        Also the ending decision-stage bank's yields (:func:`ending_yields`).
    categories : sequence of str
        Other forecast categories whose ending bank is asked for.

    Returns
    -------
    dict
        ``stage4`` (J,) or None; ``ending``: None, or ``{"decision": (per_dollar (C, Q), bank (C,)),
        "others": {category: (per_dollar, bank)}}`` (what :func:`simulate_plan` takes as ``ending``).

    Examples
    --------
    >>> import simcore
    >>> from simcore.optimize.layout import build_layout
    >>> lay = build_layout(simcore.load_scenario("scenarios/smb.toml"), "source", False)
    >>> got = quarter_yields(lay, lay.unit_dollars(lay.reference), 200, 0, ending=True, categories=("pipeline",))
    >>> sorted(got["ending"]["others"]), got["stage4"] is None, got["ending"]["decision"][0].shape == (len(lay.scenario.cells), 4)
    (['pipeline'], True, True)
    """
    ref = np.maximum(np.asarray(x, dtype=np.float64), 1.0)
    cells = layout.cell_dollars(ref)
    model = layout.compiled(cells)
    k, P = model.n_stages, len(model.periods)
    created0 = flow_layout(k)[1]
    cats = [int(model.category[k - 1])] + [CATEGORIES.index(c) for c in categories]
    per_dollar = np.zeros((len(cats),) + cells.shape)
    s4 = np.zeros(layout.n_units)
    bare = _without_bank(model)
    for q, share in enumerate(_quarter_shares(layout, model)):
        if not share.any():
            continue
        out = run_kernel(bare.with_creation_scale(share[None, :]), trials, seed, progress=False)
        if stage4:
            made = out.flow_amt[..., created0 + k - 1].sum(axis=(0, 1)) / trials  # per cell
            for c in range(len(layout.scenario.cells)):
                if cells[c, q] > 0:
                    s4[layout.cell_unit[c, q]] += made[c]
        if ending:
            for i, cat in enumerate(cats):
                mean = out.bank_amt[:, P, :, cat].mean(axis=0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    per_dollar[i, :, q] = np.where(cells[:, q] > 0, mean / cells[:, q], 0.0)
    result = {"stage4": None, "ending": None}
    if stage4:
        units = layout.unit_dollars(cells)
        with np.errstate(divide="ignore", invalid="ignore"):
            result["stage4"] = np.where(units > 0, s4 / units, 0.0)
    if ending:
        alone = run_kernel(model.with_creation_scale(0.0), trials, seed, progress=False).bank_amt
        bank = [alone[:, P, :, cat].mean(axis=0) for cat in cats]
        result["ending"] = {
            "decision": (per_dollar[0], bank[0]),
            "others": {c: (per_dollar[i + 1], bank[i + 1]) for i, c in enumerate(categories)},
        }
    return result


def ending_yields(layout: Layout, x, trials, seed) -> tuple:
    """``(per_dollar (C, Q), bank (C,))``: the expected ending decision-stage bank per planned dollar
    of each cell's creation in each quarter, and the starting bank's expected part, per cell
    (:func:`quarter_yields`).
    """
    return quarter_yields(layout, x, trials, seed, ending=True)["ending"]["decision"]


def stage4_yield(layout: Layout, x, trials, seed) -> np.ndarray:
    """Expected decision-stage dollars created inside the horizon per planned dollar, per unit
    (expectations only: the mix constraint is on expected stage-4 creation; :func:`quarter_yields`).
    """
    return quarter_yields(layout, x, trials, seed, stage4=True)["stage4"]


def confidence_of_model(model, trials, seed, target) -> float:
    """P(bookings over the horizon >= target) of a compiled model, simulated."""
    hit = 0
    for _lo, _hi, out in _run(model, trials, seed):
        hit += int((out.flow_amt[..., 0].sum(axis=(1, 2)) >= target).sum())
    return hit / trials
