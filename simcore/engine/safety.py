"""The last check before the kernel: every number of a compiled :class:`Model` is finite and
in the range its draw needs, or the scenario is refused naming the cell and the field.

Validation (:mod:`simcore.scenario.spec`, :mod:`simcore.scenario.limits`) should already
have refused anything out of range; this is the safety net under it, so that a gap there
(or a model edited in Python) becomes one clear error instead of a kernel that never
returns or a result full of NaN. It costs a few vectorised passes over the model's arrays.
"""

from __future__ import annotations

import math

import numpy as np

from simcore.engine.kernel import BETA, DIST_GAMMA, FIXED, NEGATIVE_BINOMIAL, PERT
from simcore.errors import Problem, ScenarioError, format_path
from simcore.scenario import spec

# Most entries of the creation count tables (one CDF per cell and week, see
# compile.count_tables): 8 bytes each, and about five times that while they are built.
MAX_COUNT_TABLE = 50_000_000
_ROUNDING = 1e-9


def count_table_size(rate, process, dispersion) -> np.ndarray:
    """Entries of each (cell, week) count table, as :func:`compile.count_tables` sizes them."""
    lam = np.maximum(np.asarray(rate, dtype=np.float64), 0.0)
    nb = (np.asarray(process) == NEGATIVE_BINOMIAL) & np.isfinite(dispersion)
    size = np.where(nb, np.asarray(dispersion, dtype=np.float64), 1.0)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        sd = np.sqrt(np.where(nb[:, None], lam + lam * lam / size, lam))
        return np.where(lam > 0, lam + 40.0 * sd + 40.0, 0.0)


class _Checker:
    def __init__(self, model):
        self.model = model
        self.labels = model.scenario.cell_labels
        self.problems = []

    def fail(self, cell, field, message):
        where = f"{format_path(['cell', self.labels[cell]])}.{field}" if cell is not None else field
        self.problems.append(Problem(self.model.scenario.file, where, message))

    def each(self, name, values, ok, what, field=None):
        """Every cell (first axis) of ``values`` must satisfy ``ok``; report the first bad one."""
        values = np.asarray(values)
        with np.errstate(invalid="ignore", over="ignore"):
            good = np.asarray(ok(values), dtype=bool)
        if good.all():
            return
        index = np.argwhere(~good)[0]
        cell = int(index[0]) if values.ndim else None
        self.fail(cell, field or name, f"compiled {name} is {values[tuple(index)]!r}: it must be {what}")


def _finite(x):
    return np.isfinite(x)


def _check_slots(ch, m):
    """The per-cell assumptions: fixed values finite, PERT ranges whose Beta parameters are
    finite, Beta means in (0, 1) with a strength the gamma draws survive.
    """
    kind, a, b, c = m.kernel_params()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        span = c - a
        alpha = 1.0 + 4.0 * (b - a) / span
        beta = 1.0 + 4.0 * (c - b) / span
        bad_fixed = (kind == FIXED) & ~np.isfinite(a)
        bad_pert = (kind == PERT) & ~(
            np.isfinite(a)
            & np.isfinite(c)
            & (a <= b)
            & (b <= c)
            & ((span == 0) | (np.isfinite(alpha) & np.isfinite(beta)))
        )
        bad_beta = (kind == BETA) & ~((a > 0) & (a < 1) & (b >= spec.MIN_STRENGTH) & (b <= spec.MAX_STRENGTH))
    for bad, what in (
        (bad_fixed, "a finite number"),
        (bad_pert, "a finite PERT range low <= base <= high whose Beta parameters are finite"),
        (
            bad_beta,
            f"a Beta with mean in (0, 1) and strength in [{spec.MIN_STRENGTH:g}, {spec.MAX_STRENGTH:g}]",
        ),
    ):
        if bad.any():
            cell, slot = (int(i) for i in np.argwhere(bad)[0])
            values = (a[cell, slot], b[cell, slot], c[cell, slot])
            ch.fail(cell, m.param_names[slot], f"compiled as {values!r}: it must be {what}")
    # Dwell means and the push delay: positive and at most the documented maximum.
    dwell_slots = [i for i, n in enumerate(m.param_names) if n.startswith("dwell_mean[")] + [
        m.param_names.index("push_delay_mean")
    ]
    for slot in dwell_slots:
        hi = np.where(kind[:, slot] == PERT, c[:, slot], a[:, slot])
        lo = a[:, slot]
        bad = ~((lo > 0) & (hi <= spec.MAX_DWELL_DAYS))
        if bad.any():
            cell = int(np.argwhere(bad)[0][0])
            ch.fail(
                cell,
                m.param_names[slot],
                f"compiled as {hi[cell]!r} days: a mean dwell must be in (0, {spec.MAX_DWELL_DAYS:,}] days",
            )


def check_model(model) -> None:
    """Raise :class:`~simcore.errors.ScenarioError` if any array of ``model`` holds a number the
    kernel cannot use: non-finite, out of its range, or a count table too large to build.

    Parameters
    ----------
    model : Model
        From :func:`simcore.engine.compile.compile_scenario`.

    Raises
    ------
    ScenarioError
        One problem per field found wrong, naming the scenario file, the cell and the field.

    Examples
    --------
    >>> from simcore import compile_scenario, load_scenario
    >>> model = compile_scenario(load_scenario("scenarios/fy2026.toml"))
    >>> check_model(model)  # nothing wrong: returns None
    """
    m = model
    ch = _Checker(m)
    unit = "a probability in [0, 1]"
    # Shares are ratios of rates the user gave: rounding may put them an ulp past 1, harmlessly.
    share = lambda x: (x >= -_ROUNDING) & (x <= 1 + _ROUNDING)  # noqa: E731
    ch.each("lost_competition_share", m.lost_comp_share, share, unit)
    ch.each("decision.lost_competition_share", m.decision_lost_comp_share, share, unit)
    cv_ok = lambda x: (x >= 0) & (x <= 10)  # noqa: E731
    ch.each("dwell.cv", m.dwell_cv, cv_ok, "in [0, 10]")
    ch.each("push_delay.cv", m.push_cv, cv_ok, "in [0, 10]")
    gamma_cv = spec.MIN_GAMMA_CV
    ch.each("dwell.cv", np.where(m.dwell_kind == DIST_GAMMA, m.dwell_cv, 1.0), lambda x: x >= gamma_cv,
            f"at least {gamma_cv:g} for a gamma dwell")  # fmt: skip
    ch.each("push_delay.cv", np.where(m.push_kind == DIST_GAMMA, m.push_cv, 1.0), lambda x: x >= gamma_cv,
            f"at least {gamma_cv:g} for a gamma push delay")  # fmt: skip
    ch.each("market_loading", m.market_loading, lambda x: np.abs(x) <= 10, "in [-10, 10]")
    ch.each("amount.sigma", m.amount_sigma, lambda x: (x >= 0) & (x <= 3.6), "in [0, 3.6]")
    ch.each(
        "amount.floor", m.amount_floor, lambda x: (x >= 0) & (x <= spec.MAX_DOLLARS), "in [0, MAX_DOLLARS]"
    )
    ch.each("amount.cap", m.amount_cap, lambda x: x > 0, "> 0 (or none)")
    ch.each("amount.mean", m.mean_amount, lambda x: _finite(x) & (x > 0), "a finite number of dollars > 0")
    ch.each(
        "amount.whale_factor_max",
        m.whale_factor_max,
        lambda x: np.isnan(x) | ((x >= 1) & (x <= 1000)),
        "in [1, 1000] (or none)",
    )
    if m.empirical.size:
        ok = np.isfinite(m.empirical) & (m.empirical >= spec.MIN_DOLLARS) & (m.empirical <= spec.MAX_DOLLARS)
        if not ok.all():
            ch.fail(
                None, "amount.empirical", "a compiled deal size is not a finite number of dollars in range"
            )
    ch.each("tables", m.tables, _finite, "finite (lognormal quantile tables)", field="amount.sigma")
    ch.each("creation rate", m.creation_rate, lambda x: _finite(x) & (x >= 0), "finite and >= 0",
            field="creation")  # fmt: skip
    nb = m.process == NEGATIVE_BINOMIAL
    ch.each(
        "creation.dispersion",
        np.where(nb, m.dispersion, 1.0),
        lambda x: (x >= spec.MIN_DISPERSION) & (x <= spec.MAX_DISPERSION),
        f"in [{spec.MIN_DISPERSION:g}, {spec.MAX_DISPERSION:g}] for a negative binomial",
    )
    if len(m.bank_amount):
        ok = np.isfinite(m.bank_amount) & (m.bank_amount >= spec.MIN_DOLLARS)
        ok &= ~np.isinf(m.bank_created) & ~np.isinf(m.bank_close)
        if not ok.all():
            ch.fail(
                None, "bank", "a compiled open deal has a non-finite or too small amount, or an infinite date"
            )
    _check_slots(ch, m)
    if not ch.problems:
        # The tables are built at each attainment group's upper bound (up to 3x the plan).
        rate = m.creation_rate
        if m.attain_upper.size:
            rate = (
                rate
                * np.where(m.attain_group >= 0, m.attain_upper[np.maximum(m.attain_group, 0)], 1.0)[:, None]
            )
        sizes = count_table_size(rate, m.process, m.dispersion)
        total = float(sizes.sum())
        if not math.isfinite(total) or total > MAX_COUNT_TABLE:
            cell = int(np.argmax(sizes.sum(axis=1)))
            lumpy = " and a small creation.dispersion" if nb[cell] else ""
            ch.fail(
                cell,
                "creation",
                f"the creation count tables would need {total:,.0f} entries, more than the limit of "
                f"{MAX_COUNT_TABLE:,}: this cell's plan is the largest ({sizes[cell].sum():,.0f} entries, "
                f"from its expected count per week{lumpy}); check the units of the plan",
            )
    if ch.problems:
        raise ScenarioError(ch.problems)
