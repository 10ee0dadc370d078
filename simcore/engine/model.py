"""The compiled model: everything the kernel needs, as arrays, and its variants.

:func:`simcore.engine.compile.compile_scenario` builds a :class:`Model` from a scenario. A
model is never edited; each variant (base values, fixed assumptions or attainment, another
bank, creation from a day on, creation scaled or with components) is a new model that shares
the arrays it does not change and keeps every deal's random numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from simcore.calendar import Periods
from simcore.engine import creation
from simcore.engine.creation import daily_plan
from simcore.engine.kernel import BETA, FIXED, NEW_DEALS_BLOCK, PERT, assumption_tables
from simcore.engine.safety import check_model
from simcore.errors import SimcoreError
from simcore.scenario.load import Scenario

__all__ = ["Model"]


@dataclass(frozen=True)
class Model:
    """Everything the kernel needs, as arrays (see :func:`simcore.engine.kernel.simulate_trials`).

    Build one with :func:`compile_scenario`. A model is never edited: its variants
    (:meth:`at_base_values`, :meth:`with_fixed_assumptions`, :meth:`without_bank`,
    :meth:`with_bank_only_in`, :meth:`with_creation_scale`) are new models, which share
    the arrays they do not change and keep every deal's random numbers, so runs of a
    model and of its variants with one seed are paired trial by trial.

    The per-cell parameter slots (cells x slots, in
    :func:`~simcore.engine.kernel.param_layout` order, named by ``param_names``) say how
    each parameter is drawn in ``param_kind`` (``FIXED``, ``PERT`` or ``BETA``), and its
    numbers in ``param_base`` (the fixed value, a PERT's base, a Beta's mean),
    ``param_low``, ``param_high`` (a PERT's ends) and ``param_strength`` (a Beta's); NaN
    where a kind has no such number.
    """

    scenario: Scenario = field(repr=False)
    periods: Periods
    n_stages: int
    category: np.ndarray
    entry_stage: np.ndarray
    free_stage: np.ndarray
    lost_comp_share: np.ndarray
    dwell_kind: np.ndarray
    dwell_cv: np.ndarray
    dwell_table: np.ndarray
    push_kind: np.ndarray
    push_cv: np.ndarray
    push_table: np.ndarray
    decision_lost_comp_share: np.ndarray
    max_pushes: np.ndarray
    market_loading: np.ndarray
    amount_kind: np.ndarray
    amount_sigma: np.ndarray
    amount_table: np.ndarray
    tables: np.ndarray
    empirical: np.ndarray
    empirical_offset: np.ndarray
    whale_factor_max: np.ndarray
    amount_floor: np.ndarray
    amount_cap: np.ndarray
    param_kind: np.ndarray
    param_base: np.ndarray
    param_low: np.ndarray
    param_high: np.ndarray
    param_strength: np.ndarray
    creation_rate: np.ndarray
    process: np.ndarray
    dispersion: np.ndarray
    week_start: np.ndarray
    week_length: np.ndarray
    bank_cell: np.ndarray
    bank_stage: np.ndarray
    bank_amount: np.ndarray
    bank_created: np.ndarray
    bank_close: np.ndarray
    # The bank's start day and each deal's age in its stage then (NaN: unknown); the plan's
    # own bank starts at day 0 with unknown ages (see :meth:`with_bank`).
    bank_start: np.ndarray
    bank_age: np.ndarray
    bank_pushes: np.ndarray
    period_of_day: np.ndarray
    cohorts: Periods  # creation quarters: the cohorts of bookings_by_cohort
    horizon: float
    cycle_edges: np.ndarray
    param_names: list
    mean_amount: np.ndarray
    # Creation attainment (docs/model.md "Creation"): one group per declaration, its draw
    # shared by the cells it covers. ``attain_group`` (cells,) is the plan's group of each
    # cell (-1: delivered as planned); per group its kind and numbers as the parameter slots
    # have them, its loading on the market factor, the key of its stream and its name (the
    # field that declared it, e.g. ``by.source.inbound.creation.attainment``).
    attain_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    attain_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    attain_base: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_high: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_strength: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_loading: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_key: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # The bound each group's count tables are built at (PERT high, Beta 1, a number itself).
    attain_upper: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_names: tuple = ()
    # Creation components (see with_components): expected new deals per (component, cell,
    # week), each component's stream key and its attainment group per cell (-1: none).
    component_rate: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    component_key: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    component_group: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    # The capacity check of the plan (simcore.engine.capacity.CapacityCheck), when the
    # scenario has a [capacity] table; creation_rate is then already capped.
    capacity: object = field(default=None, repr=False, compare=False)
    # The creation-count tables, built on first use (they take a while, and every chunk of a
    # chunked run, every variant that keeps the creation plan, would rebuild the same ones).
    _count_tables: list = field(default_factory=list, repr=False, compare=False)

    def __repr__(self) -> str:
        sc = self.scenario
        return (
            f"Model({sc.name!r}: {len(sc.cells)} cells, {self.n_stages} stages, "
            f"{int(self.horizon)} days by {self.periods.kind}, {len(self.bank_cell)} bank deals)"
        )

    def count_tables(self) -> tuple:
        """``(cdf, offsets)`` of the deals created per source, cell and week (:func:`count_tables`
        of this model's ``creation_rate``, then of each component's rate, ``process`` and
        ``dispersion``, each rate times its attainment group's upper bound), built once.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            The CDFs, flattened, and the offsets of each (source, cell, week) table in them
            (``sources x cells x weeks + 1`` int64; one source, the plan, without components).
        """
        if not self._count_tables:
            self._count_tables.append(creation.join_tables(creation.source_tables(self)))
        return self._count_tables[0]

    def kernel_params(self) -> tuple:
        """The parameter slots as the kernel reads them.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray)
            ``kind, a, b, c``: a PERT's low, base, high; a Beta's mean, strength, NaN; a
            fixed value, NaN, NaN.
        """
        pert, beta = self.param_kind == PERT, self.param_kind == BETA
        a = np.where(pert, self.param_low, self.param_base)
        b = np.where(pert, self.param_base, np.where(beta, self.param_strength, np.nan))
        c = np.where(pert, self.param_high, np.nan)
        return self.param_kind, a, b, c

    def kernel_args(self) -> tuple:
        """Inputs of :func:`simcore.engine.kernel.simulate_trials`, after ``seed, trial0``.

        Returns
        -------
        tuple
            In the kernel's argument order; the count tables are built on the first call.
        """
        count_cdf, count_offset = self.count_tables()
        return (
            self.n_stages,
            self.category,
            self.entry_stage,
            self.free_stage,
            self.lost_comp_share,
            self.dwell_kind,
            self.dwell_cv,
            self.dwell_table,
            self.push_kind,
            self.push_cv,
            self.push_table,
            self.decision_lost_comp_share,
            self.max_pushes,
            self.market_loading,
            self.amount_kind,
            self.amount_table,
            self.empirical,
            self.empirical_offset,
            self.whale_factor_max,
            self.amount_floor,
            self.amount_cap,
            self.tables,
            *self.kernel_params(),
            *assumption_tables(*self.kernel_params()),
            count_cdf,
            count_offset,
            *creation.kernel_creation_args(self),
            self.week_start,
            self.week_length,
            self.bank_cell,
            self.bank_stage,
            self.bank_amount,
            self.bank_created,
            self.bank_close,
            self.bank_start,
            self.bank_age,
            self.bank_pushes,
            len(self.cohorts),  # the starting bank's cohort index, after the creation quarters
            self.period_of_day,
            self.cohorts.of_day(int(self.horizon)),
            self.periods.start_day,
            self.horizon,
            self.cycle_edges,
            NEW_DEALS_BLOCK,
        )

    def _variant(self, **changes) -> Model:
        creation_fields = {"creation_rate", "process", "dispersion", "component_rate", "attain_group"}
        creation_fields |= {"attain_upper"}
        changed = creation_fields & set(changes)
        # A variant with the same creation plan shares the count tables (built or not yet).
        tables = [] if changed else self._count_tables
        return dataclasses.replace(self, **changes, _count_tables=tables)

    def at_base_values(self) -> Model:
        """Every uncertain assumption and creation attainment fixed at its planning value (PERT
        base, Beta mean), and no market factor: what the deterministic funnel assumes, simulated.

        Returns
        -------
        Model
            Deals keep their random numbers (the parameter stream is simply not used).
        """
        return self._variant(
            param_kind=np.full_like(self.param_kind, FIXED),
            market_loading=np.zeros_like(self.market_loading),
            # Attainment at its planning value too (PERT base, Beta mean), thinned as drawn.
            attain_kind=np.full_like(self.attain_kind, FIXED),
        )

    def with_fixed_assumptions(self, values: dict) -> Model:
        """Some parameter slots fixed at given values (the others drawn as before).

        Parameters
        ----------
        values : dict
            ``{(cell, slot): value}``; slots as in ``param_names``.

        Returns
        -------
        Model
        """
        kind, base = self.param_kind.copy(), self.param_base.copy()
        for (cell, slot), value in values.items():
            kind[cell, slot] = FIXED
            base[cell, slot] = value
        return self._variant(param_kind=kind, param_base=base)

    def without_bank(self) -> Model:
        """No starting bank: only the deals the plan creates.

        Returns
        -------
        Model
        """
        return self._variant(
            **{
                name: getattr(self, name)[:0]
                for name in (
                    "bank_cell",
                    "bank_stage",
                    "bank_amount",
                    "bank_created",
                    "bank_close",
                    "bank_start",
                    "bank_age",
                    "bank_pushes",
                )
            }
        )

    def with_bank_only_in(self, stage: int) -> Model:
        """The starting bank's deals outside ``stage`` worth nothing (their amounts zero).

        The deals stay, so every deal keeps its random numbers.

        Parameters
        ----------
        stage : int
            Index of the stage whose deals keep their amounts.

        Returns
        -------
        Model
        """
        return self._variant(bank_amount=np.where(self.bank_stage == stage, self.bank_amount, 0.0))

    def with_bank(
        self, cell, stage, amount, created=None, close=None, start=0.0, age=None, pushes=None
    ) -> Model:
        """Another starting bank: open deals that start their lives at day ``start``.

        The bank of an as-of forecast: the deals open on the as-of date, each from its stage,
        with its age in that stage (its remaining dwell is conditioned on it, see
        :func:`simcore.engine.kernel._aged_dwell`) and its expected close date.

        Parameters
        ----------
        cell, stage : array_like of int
            Each deal's cell (index into ``scenario.cells``) and stage (index).
        amount : array_like of float
            Dollars, each at least the smallest deal size.
        created, close : array_like of float, optional
            Created and expected close, in days from the scenario's start (NaN: not known).
        start : float
            The day (from the scenario's start) every deal starts from, inside the horizon.
        age : array_like of float, optional
            Days each deal has spent in its stage by ``start`` (NaN: not known, the
            renewal-theory residual of a deal found mid-stage).
        pushes : array_like of int, optional
            Pushes each deal has already taken at the decision stage (default none): its next
            win chance is decayed that many times, and it has that many fewer pushes left.

        Returns
        -------
        Model
            Deals keep their random numbers by position: deal ``q`` of this bank draws what
            deal ``q`` of any other bank would.

        Raises
        ------
        SimcoreError
            When the arrays differ in length, a cell or stage is out of range, or ``start``
            is outside the horizon.

        Examples
        --------
        >>> from simcore import load_scenario
        >>> from simcore.engine.compile import compile_scenario
        >>> m = compile_scenario(load_scenario("scenarios/smb.toml"))
        >>> m.with_bank([0, 1], [2, 0], [40_000.0, 25_000.0], start=120.0, age=[30.0, float("nan")])
        Model('smb_inside_sales': 6 cells, 3 stages, 365 days by month, 2 bank deals)
        """
        cell = np.ascontiguousarray(cell, dtype=np.int64).reshape(-1)
        n = len(cell)

        def floats(x, fill):
            a = np.full(n, fill) if x is None else np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
            if len(a) != n:
                raise SimcoreError(f"with_bank: {len(a)} values for {n} deals")
            return a

        stage = np.ascontiguousarray(stage, dtype=np.int64).reshape(-1)
        if len(stage) != n:
            raise SimcoreError(f"with_bank: {len(stage)} stages for {n} deals")
        if n and (cell.min() < 0 or cell.max() >= len(self.scenario.cells)):
            raise SimcoreError("with_bank: a cell index is out of range")
        if n and (stage.min() < 0 or stage.max() >= self.n_stages):
            raise SimcoreError("with_bank: a stage index is out of range")
        start = float(start)
        if not 0.0 <= start < self.horizon:
            raise SimcoreError(
                f"with_bank: start {start!r} is outside the horizon (0 to {self.horizon:g} days)"
            )
        age = floats(age, np.nan)
        pushes = (
            np.zeros(n, dtype=np.int64) if pushes is None else np.asarray(pushes, dtype=np.int64).reshape(-1)
        )
        if len(pushes) != n or (n and pushes.min() < 0):
            raise SimcoreError(f"with_bank: pushes must be {n} counts, none negative")
        model = self._variant(
            bank_cell=cell,
            bank_stage=stage,
            bank_amount=floats(amount, np.nan),
            bank_created=floats(created, np.nan),
            bank_close=floats(close, np.nan),
            bank_start=np.full(n, start),
            bank_age=np.where(np.isnan(age), np.nan, np.maximum(age, 0.0)),
            bank_pushes=np.ascontiguousarray(pushes),
        )
        check_model(model)
        return model

    def from_day(self, day: int) -> Model:
        """The plan's creation from ``day`` on: nothing created before it, and the week that
        contains it creates only its remaining days' share of its plan.

        Every week keeps its random numbers, so the deals the plan creates after ``day`` are
        those of the plan's own run (common random numbers).

        Parameters
        ----------
        day : int
            Days from the scenario's start, inside the horizon.

        Returns
        -------
        Model

        Examples
        --------
        >>> from simcore import load_scenario
        >>> from simcore.engine.compile import compile_scenario
        >>> m = compile_scenario(load_scenario("scenarios/smb.toml"))
        >>> later = m.from_day(10)
        >>> float(later.week_start[1]), float(later.week_length[1]), bool((later.creation_rate[:, 0] == 0).all())
        (10.0, 4.0, True)
        """
        day = int(day)
        if not 0 <= day < self.horizon:
            raise SimcoreError(f"from_day: day {day!r} is outside the horizon (0 to {self.horizon:g} days)")
        if day == 0:
            return self
        w = day // 7
        lo, hi = int(self.week_start[w]), int(self.week_start[w] + self.week_length[w])
        sc = self.scenario
        rate = self.creation_rate.copy()
        rate[:, :w] = 0.0
        for c in range(len(sc.cells)):
            daily = daily_plan(sc, c)[lo:hi]
            total = daily.sum()
            share = daily[day - lo :].sum() / total if total > 0 else (hi - day) / (hi - lo)
            rate[c, w] *= share
        week_start, week_length = self.week_start.copy(), self.week_length.copy()
        week_start[w], week_length[w] = float(day), float(hi - day)
        # Creation components (programs) spread evenly over their weeks: the week that
        # contains ``day`` keeps its remaining days' share.
        component = self.component_rate.copy()
        if component.size:
            component[:, :, :w] = 0.0
            component[:, :, w] *= (hi - day) / (hi - lo)
        return dataclasses.replace(
            self,
            creation_rate=np.ascontiguousarray(rate),
            component_rate=np.ascontiguousarray(component),
            week_start=week_start,
            week_length=week_length,
            _count_tables=[],
        )

    def with_fixed_attainment(self, values: dict) -> Model:
        """Some attainment groups fixed at given values (the others drawn as before).

        The count tables stay (built at each group's bound) and a fixed group keeps each deal
        with probability value / bound, so the variant's deals are a subset of the model's,
        paired deal by deal (what the tornado's swings want).

        Parameters
        ----------
        values : dict
            ``{group: value}``, a group by index or name (``attain_names``), a value in
            ``[0, attain_upper[group]]``.

        Returns
        -------
        Model
        """
        kind, base = self.attain_kind.copy(), self.attain_base.copy()
        for group, value in values.items():
            g = self.attain_names.index(group) if isinstance(group, str) else int(group)
            if not 0.0 <= float(value) <= self.attain_upper[g]:
                raise SimcoreError(
                    f"attainment {value} for {self.attain_names[g]} is outside [0, {self.attain_upper[g]:g}]"
                )
            kind[g], base[g] = FIXED, float(value)
        return self._variant(attain_kind=kind, attain_base=base)

    def with_creation_scale(self, scale) -> Model:
        """Expected creation multiplied by ``scale`` (cells x weeks, or broadcastable).

        Deals keep their random numbers (common random numbers), so this is how the
        optimizer and comparisons vary a plan without re-reading the scenario.

        Parameters
        ----------
        scale : float or array_like
            Broadcastable to ``creation_rate`` (cells x weeks).

        Returns
        -------
        Model
        """
        rate = np.ascontiguousarray(self.creation_rate * np.asarray(scale, dtype=np.float64))
        return self._variant(creation_rate=rate)

    def with_components(self, rates, attainment=None, keys=None, loading=None) -> Model:
        """The plan plus creation components: extra creation per (component, cell, week).

        A component is, say, a program's added creation. Its deals are made in the cell
        (the cell's drawn parameters, amounts and lifecycle) and reported in the cell's
        outputs, but from count and deal streams of the component's own ``key``: adding,
        removing or resizing one component leaves the plan's deals and every other
        component's deals bit-identical (common random numbers), and a larger rate keeps
        the deals of a smaller one. The plan's count tables are shared, not rebuilt.

        Parameters
        ----------
        rates : array_like
            (components, cells, weeks) expected new deals per week (a count: divide planned
            dollars by ``mean_amount[cell]``). A component that is off is a zero rate, or is
            left out: either way the others keep their deals.
        attainment : sequence, optional
            Per component: ``None`` (delivered as planned, the default), a number, a
            :class:`~simcore.scenario.values.Pert` or a
            :class:`~simcore.scenario.values.BetaRate` (a group of the component's own,
            drawn once per trial, named ``"component <key>"``), or the name of one of the
            model's groups (``attain_names``) to share that draw.
        keys : array_like of int, optional
            Per component, the key of its streams, in [0, 65535] and distinct (default:
            0, 1, ...). Keep a component's key from run to run to pair its deals.
        loading : sequence of float, optional
            Per component with an attainment of its own, its loading on the market factor,
            in [-1, 1] (default 0).

        Returns
        -------
        Model
            Any components this model already had are replaced.

        Examples
        --------
        >>> import simcore
        >>> from simcore.scenario.values import Pert
        >>> model = simcore.compile_scenario(simcore.load_scenario("scenarios/smb.toml"))
        >>> extra = np.zeros((1,) + model.creation_rate.shape)
        >>> extra[0, 0] = model.creation_rate[0]  # cell 0's plan once more
        >>> more = model.with_components(extra, attainment=[Pert(0.5, 0.8, 1.0)], keys=[7])
        >>> more.attain_names
        ('component 7',)
        >>> a = simcore.simulate(model.scenario, 400, seed=3, model=model, progress=False)
        >>> b = simcore.simulate(model.scenario, 400, seed=3, model=more, progress=False)
        >>> bool(b.opportunities.mean() > a.opportunities.mean())
        True
        """
        base = self.with_components_removed() if self.component_rate.shape[0] else self
        changes = creation.component_changes(base, rates, attainment, keys, loading)
        model = dataclasses.replace(base, **changes, _count_tables=[])
        # The plan's tables (built once, cached on the plan's model), then the components' own.
        plan = base.count_tables()
        model._count_tables.append(creation.join_tables([plan, *creation.source_tables(model, plan=False)]))
        return model

    def with_components_removed(self) -> Model:
        """The plan alone: this model without creation components (and their own groups).

        Returns
        -------
        Model
        """
        n = len(self.attain_names) - sum(name.startswith("component ") for name in self.attain_names)
        return self._variant(
            component_rate=np.zeros((0,) + self.creation_rate.shape),
            component_key=np.zeros(0, dtype=np.int64),
            component_group=np.zeros((0, len(self.creation_rate)), dtype=np.int64),
            **{f: getattr(self, f)[:n] for f in _GROUP_FIELDS},
            attain_names=self.attain_names[:n],
        )


_GROUP_FIELDS = (
    "attain_kind",
    "attain_base",
    "attain_low",
    "attain_high",
    "attain_strength",
    "attain_loading",
    "attain_key",
    "attain_upper",
)
