"""The lifecycle kernel: plain arrays in, aggregates written into preallocated outputs.

Nothing here sees a scenario, a dict or a Dataset (:mod:`simcore.engine.compile` builds the
arrays, :mod:`simcore.engine.simulate` allocates the outputs and builds the Dataset). One
trial is simulated by one thread from start to end, deal after deal in a fixed
order, so its sums are the same bits whatever the thread count; every random draw
comes from :mod:`simcore.engine.rng` keyed by the trial's absolute index, so any split of
trials into chunks gives the same bits too. Aggregation happens here, per trial,
period and cell: memory never grows with the number of deals.

Layouts shared with Python (one definition each, used on both sides, in
:mod:`simcore.engine.layout`):
- parameter slots per cell: :func:`param_layout`;
- flow slots per trial, period and cell: :func:`flow_layout`;
- the per-trial uniforms: :func:`trial_columns` (column 0 the market factor, then one column
  per cell and parameter slot).

Draws. Each per-trial draw (an assumption, the market factor) is the quantile function of
one 53-bit uniform per (trial, cell, slot), so a sampler can hand the kernel its own
uniforms (``trial_u``; see :func:`trial_uniforms`) in place of the generator's. A deal's
event (a dwell and its outcome) takes the two 32-bit halves of one 64-bit word.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from scipy.special import betaincinv

from simcore.engine._jit import jit, jit_parallel
from simcore.engine.layout import N_CATEGORIES, flow_layout, param_layout
from simcore.engine.rng import (
    STREAM_ATTAINMENT,
    STREAM_BANK,
    STREAM_COMPONENT_COUNT,
    STREAM_COMPONENT_DEAL,
    STREAM_COUNT,
    STREAM_DEAL,
    STREAM_MARKET,
    STREAM_PARAM,
    gamma_draw,
    hi_uniform,
    lo_uniform,
    mix64,
    normal_quantile,
    stream_key,
    trial_key,
    uniform,
    word,
)

# Dwell and push-delay distribution families.
DIST_FIXED, DIST_EXPONENTIAL, DIST_LOGNORMAL, DIST_GAMMA = 0, 1, 2, 3
# How a parameter slot is given: a number, a PERT {low, base, high}, a Beta {mean, strength}.
FIXED, PERT, BETA = 0, 1, 2
# Creation processes.
POISSON, NEGATIVE_BINOMIAL = 0, 1
# Amount distributions.
AMOUNT_LOGNORMAL, AMOUNT_EMPIRICAL = 0, 1


# Lognormal draws go through a quantile table: ``TABLE_KNOTS`` knots of the
# quantile function, linearly interpolated, with the outer ``TABLE_EXACT_LOW`` bins at
# the lower end and ``TABLE_EXACT`` at the upper end computed exactly. That replaces a
# log and an exp per draw by two loads; the bias it leaves on the mean is below 2e-5
# relative for sigma <= 1.5 (held by tests/test_rng.py), far inside any Monte-Carlo
# error. The upper tail carries the mean and bends hard, so it keeps more exact bins;
# near zero a linear interpolant is off by almost nothing in absolute terms, and each
# exact draw (a log, a square root, an exp and a mispredicted branch) costs as much as
# tens of table draws.
TABLE_KNOTS = 2048
TABLE_EXACT = 16
TABLE_EXACT_LOW = 2


# Rows of the table array, flattened: row r starts at r * TABLE_ROW.
TABLE_ROW = TABLE_KNOTS + 3


@jit(inline="always")
def lognormal_unit(tab, off, u):
    """``exp(sigma * Z + shift)`` for the table row at ``off`` of the flat table array
    (``tab[off + TABLE_KNOTS + 1]`` = sigma, ``tab[off + TABLE_KNOTS + 2]`` = shift).
    """
    pos = u * TABLE_KNOTS
    i = int(pos)
    if i < TABLE_EXACT_LOW or i >= TABLE_KNOTS - TABLE_EXACT:
        return math.exp(tab[off + TABLE_KNOTS + 1] * normal_quantile(u) + tab[off + TABLE_KNOTS + 2])
    lo = tab[off + i]
    return lo + (pos - i) * (tab[off + i + 1] - lo)


@jit(inline="always")
def beta_unit(tab, off, u):
    """The Beta quantile at ``u`` from the table row at ``off`` of the flat table array.

    The row holds the quantile at ``i / TABLE_KNOTS`` for ``i = 0 .. TABLE_KNOTS``, then the
    exponents of the two tails. Inside, linear interpolation; in the two outer bins, a power
    law through the bin's inner knot, as the Beta's tails are (``Q(u) ~ (u a B(a, b))**(1/a)``
    near 0, its mirror near 1), which linear interpolation would miss when the density is
    infinite or zero at an end. Continuous and non-decreasing in ``u``.
    """
    pos = u * TABLE_KNOTS
    i = int(pos)
    if i == 0:
        return tab[off + 1] * pos ** tab[off + TABLE_KNOTS + 1]
    if i >= TABLE_KNOTS - 1:
        return 1.0 - (1.0 - tab[off + TABLE_KNOTS - 1]) * (TABLE_KNOTS - pos) ** tab[off + TABLE_KNOTS + 2]
    lo = tab[off + i]
    return lo + (pos - i) * (tab[off + i + 1] - lo)


@functools.lru_cache(maxsize=256)
def beta_table(a: float, b: float) -> np.ndarray:
    """A :func:`beta_unit` table row for Beta(``a``, ``b``), ``a, b > 0``.

    Parameters
    ----------
    a, b : float
        The Beta's shape parameters.

    Returns
    -------
    numpy.ndarray
        ``TABLE_ROW`` values: the quantile at ``i / TABLE_KNOTS``, then the exponents of the
        lower and upper tails. Each is the local power of the quantile over the two bins next
        to its end, ``log(Q(2h) / Q(h)) / log 2`` at 0 (``h = 1 / TABLE_KNOTS``), which tends
        to ``1 / a`` as the bins shrink, and is closer than it at any finite size.

    Examples
    --------
    >>> row = beta_table(2.0, 2.0)
    >>> float(row[TABLE_KNOTS // 2]), round(float(row[-2]), 2)  # the lower tail: ~ 1 / a
    (0.5, 0.5)
    """
    u = np.arange(TABLE_KNOTS + 1) / TABLE_KNOTS
    knots = betaincinv(a, b, u)
    knots[0], knots[-1] = 0.0, 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = math.log(knots[2] / knots[1]) / math.log(2.0)
        upper = math.log((1.0 - knots[-3]) / (1.0 - knots[-2])) / math.log(2.0)
    # A quantile so flat at an end that the knots underflow: the exact asymptote instead.
    lower = lower if 0.0 < lower < math.inf else 1.0 / a
    upper = upper if 0.0 < upper < math.inf else 1.0 / b
    out = np.concatenate([knots, [lower, upper]])
    out.flags.writeable = False  # shared by every caller through the cache
    return out


def assumption_tables(param_kind, param_a, param_b, param_c):
    """The Beta quantile table row of each drawn (cell, parameter slot).

    A PERT ``{low, base, high}`` is ``low + (high - low) x Beta(1 + 4 (base - low) / (high -
    low), 1 + 4 (high - base) / (high - low))``, a Beta ``{mean, strength}`` is ``Beta(mean x
    strength, (1 - mean) x strength)``; the kernel reads ``Q(u)`` from row ``row[c, q]`` (an
    offset into ``tables``, flattened). Equal shapes share one row. ``row < 0``: nothing to
    draw (a number, a PERT without spread, a Beta shape that is not positive and finite).

    Parameters
    ----------
    param_kind : numpy.ndarray of int
        (cells, slots): ``FIXED``, ``PERT`` or ``BETA``.
    param_a, param_b, param_c : numpy.ndarray of float
        (cells, slots): the number; PERT's low, base, high; Beta's mean, strength.

    Returns
    -------
    tuple
        ``(row, tables)``: int64 (cells, slots), and the table rows (rows, ``TABLE_ROW``).

    Examples
    --------
    >>> kind = np.array([[FIXED, PERT, BETA]])
    >>> row, tables = assumption_tables(
    ...     kind, np.array([[3.0, 0.1, 0.3]]), np.array([[0.0, 0.2, 20.0]]), np.array([[0.0, 0.5, 0.0]])
    ... )
    >>> row.tolist(), tables.shape[0]
    ([[-1, 0, 2051]], 2)
    """
    kind = np.asarray(param_kind)
    row = np.full(kind.shape, -1, dtype=np.int64)
    shapes = {}
    for c, q in np.argwhere(kind != FIXED):
        a_, b_, c_ = float(param_a[c, q]), float(param_b[c, q]), float(param_c[c, q])
        if kind[c, q] == PERT:
            if not c_ > a_:  # no spread: the base value
                continue
            shape = (1.0 + 4.0 * (b_ - a_) / (c_ - a_), 1.0 + 4.0 * (c_ - b_) / (c_ - a_))
        else:
            shape = (a_ * b_, (1.0 - a_) * b_)
        if not (0.0 < shape[0] < math.inf and 0.0 < shape[1] < math.inf):  # validation keeps these out
            continue
        row[c, q] = shapes.setdefault(shape, len(shapes)) * TABLE_ROW
    tables = np.zeros((max(len(shapes), 1), TABLE_ROW))
    for (a_, b_), i in shapes.items():
        tables[i] = beta_table(a_, b_)
    return row, tables


@jit(inline="always")
def _dwell(key, j, kind, mean, cv, tab, off, residual, u, length_bias):
    """One dwell (days) from the table row at ``off`` and the uniform ``u``. ``residual``:
    the time left for a deal found mid-stage.

    A deal already in a stage at an arbitrary instant has been there for an unknown
    time; renewal theory gives its remaining dwell as U x (a length-biased dwell),
    which for a lognormal(mu, s) is lognormal(mu + s^2, s), the same table's draw times
    ``length_bias`` = exp(s^2) (ignored otherwise), and for a Gamma(k, theta) is
    Gamma(k + 1, theta). The gamma (rejection) and the residual's U take further words of
    ``key`` from ``j``. Returns ``(days, next_j)``.
    """
    if kind == DIST_LOGNORMAL and not residual:
        # The common case first, on its own: one table lookup.
        return mean * lognormal_unit(tab, off, u), j
    if kind == DIST_LOGNORMAL:
        x = mean * length_bias * lognormal_unit(tab, off, u)
    elif kind == DIST_EXPONENTIAL:
        # Memoryless: the residual of an exponential is the same exponential.
        return -mean * math.log(u), j
    elif kind == DIST_GAMMA:
        shape = 1.0 / (cv * cv)
        g, j = gamma_draw(key, j, shape + 1.0 if residual else shape)
        x = g * mean / shape
    else:
        x = mean
    if residual:
        x *= uniform(key, j)
        j += 1
    return x, j


# Most proposals the conditioned gamma dwell of an aged deal tries (acceptance is above
# ~0.2 for any shape validation allows, so this bound is never met in practice; it is
# there so that no input can make the kernel loop for ever).
MAX_REJECTIONS = 10_000


@jit(inline="always")
def _aged_dwell(key, j, kind, mean, cv, tab, off, age, u):
    """The remaining dwell of a deal already ``age`` days in its stage: ``D - age`` given
    ``D > age``, with ``D`` the stage's dwell (mean ``mean``, from the table row at ``off``).

    - lognormal: exact, by the quantile of the upper tail beyond ``age``:
      ``Z = -Phi^-1(u P(Z > z_age))``, ``D = mean exp(sigma Z - sigma^2 / 2)``;
    - exponential: memoryless, a fresh dwell;
    - fixed: ``max(mean - age, 0)`` (overdue: due now);
    - gamma: exact, by rejection. Below the mean age, fresh gamma draws until one exceeds
      ``age``; from the mean age on, the excess ``X`` (density proportional to
      ``(age + x)^(k-1) exp(-x / theta)``) is proposed from an exponential of rate
      ``1 / theta - max(k - 1, 0) / age`` and accepted with probability
      ``(1 + x / age)^(k-1) exp(-x max(k - 1, 0) / age)``, which is at most one.

    ``age <= 0`` is a fresh dwell. Further words of ``key`` are taken from ``j``. Returns
    ``(days, next_j)``.
    """
    if kind == DIST_EXPONENTIAL:
        return -mean * math.log(u), j
    if kind == DIST_FIXED:
        return max(mean - age, 0.0), j
    if kind == DIST_LOGNORMAL:
        s = tab[off + TABLE_KNOTS + 1]
        if age <= 0.0 or not s > 0.0:
            return max(mean * math.exp(s * normal_quantile(u) - 0.5 * s * s) - max(age, 0.0), 0.0), j
        za = (math.log(age / mean) + 0.5 * s * s) / s
        tail = 0.5 * math.erfc(za / math.sqrt(2.0))  # P(Z > za), accurate far out
        if tail > 1e-300:
            z = -normal_quantile(u * tail)
        else:
            # Beyond double precision: the normal tail beyond za is za + Exp(1) / za.
            z = za - math.log(u) / za
        return max(mean * math.exp(s * z - 0.5 * s * s) - age, 0.0), j
    # DIST_GAMMA
    k = 1.0 / (cv * cv)
    theta = mean / k
    x = 0.0
    if age < mean:
        for _ in range(MAX_REJECTIONS):
            g, j = gamma_draw(key, j, k)
            x = g * theta - age
            if x > 0.0:
                return x, j
        return max(x, 0.0), j
    excess = max(k - 1.0, 0.0) / age
    rate = 1.0 / theta - excess
    for _ in range(MAX_REJECTIONS):
        x = -math.log(uniform(key, j)) / rate
        accept = (k - 1.0) * math.log1p(x / age) - x * excess
        j += 2
        if math.log(uniform(key, j - 1)) <= accept:
            return x, j
    return x, j


# New deals made (and held) at a time, by default: 32 KB of scratch per thread. Any block
# size gives the same bits (tests/test_reproducible.py).
NEW_DEALS_BLOCK = 1024
# Trials a thread takes at a time (with one set of scratch arrays); callers set numba's
# parallel chunk size to 1, so a thread takes one block as it finishes the last.
TRIAL_BLOCK = 8

# Per-trial values of each (cell, stage), side by side in one flat array: the lifecycle
# reads several per event, and one flat index costs a third of the instructions of a
# two-dimensional one (numba's negative-index fix-up and stride product per axis).
ST_ADVANCE, ST_GROWTH, ST_REMAINING, ST_DWELL_MEAN, ST_DWELL_CV, ST_LOST_COMP, ST_WIDTH = range(7)
# The same for the integers, which do not change between trials.
SI_KIND, SI_TABLE, SI_CATEGORY, SI_WIDTH = range(4)
# Per-cell values of one trial.
CP_WIN, CP_PUSH, CP_DECAY, CP_PUSH_MEAN, CP_MEDIAN, CP_WHALE_P, CP_WHALE_F, CP_WIDTH = range(8)


def trial_columns(n_cells, n_slots, n_groups=0):
    """Columns of a trial's uniforms (:func:`trial_uniforms`, the kernel's ``trial_u``).

    Column 0 is the market factor's; column ``1 + c * n_slots + q`` is parameter slot ``q``
    of cell ``c`` (see :func:`param_layout`); then one column per creation-attainment group
    (``1 + n_cells * n_slots + g``). Returns the number of columns.

    Examples
    --------
    >>> trial_columns(16, 18), trial_columns(16, 18, 2)
    (289, 291)
    """
    return 1 + n_cells * n_slots + n_groups


def trial_uniforms(seed, trial0, n_trials, n_cells, n_slots, group_key=None):
    """The uniforms the kernel draws for trials ``trial0 ..``, shape (n_trials, columns).

    Each is a 53-bit uniform in (0, 1), a pure function of (seed, trial, column): the market
    factor's is draw 0 of ``stream_key(trial_key(seed, trial), STREAM_MARKET, 0)``, cell
    ``c``'s slot ``q`` draw ``q`` of ``stream_key(trial_key(seed, trial), STREAM_PARAM, c)``,
    attainment group ``g``'s draw 0 of ``stream_key(.., STREAM_ATTAINMENT, group_key[g])``.
    The kernel turns each into its draw by a quantile function (the normal for the market
    factor, a Beta table for an assumption or an attainment), so a sampler (Latin hypercube,
    scrambled Sobol) can replace these columns by its own points, passed as ``trial_u``;
    columns of fixed slots are read by nobody.

    Parameters
    ----------
    seed : numpy.uint64
    trial0 : int
        Absolute index of the first trial.
    n_trials, n_cells, n_slots : int
    group_key : numpy.ndarray of int64, optional
        The key of each creation-attainment group (``Model.attain_key``).

    Returns
    -------
    numpy.ndarray
        (n_trials, :func:`trial_columns`) float64.

    Examples
    --------
    >>> u = trial_uniforms(np.uint64(1), 0, 4, 2, 3)
    >>> u.shape, bool(((0 < u) & (u < 1)).all())
    ((4, 7), True)
    """
    keys = np.zeros(0, dtype=np.int64) if group_key is None else np.asarray(group_key, dtype=np.int64)
    return _trial_uniforms(seed, trial0, n_trials, n_cells, n_slots, keys)


@jit
def _trial_uniforms(seed, trial0, n_trials, n_cells, n_slots, group_key):
    n_groups = group_key.shape[0]
    out = np.empty((n_trials, 1 + n_cells * n_slots + n_groups))
    for i in range(n_trials):
        tk = trial_key(seed, trial0 + i)
        out[i, 0] = uniform(stream_key(tk, STREAM_MARKET, 0), 0)
        for c in range(n_cells):
            pk = stream_key(tk, STREAM_PARAM, c)
            for q in range(n_slots):
                out[i, 1 + c * n_slots + q] = uniform(pk, q)
        for g in range(n_groups):
            out[i, 1 + n_cells * n_slots + g] = uniform(stream_key(tk, STREAM_ATTAINMENT, group_key[g]), 0)
    return out


@jit(inline="always")
def normal_cdf(x):
    """The standard normal CDF (the inverse of :func:`~simcore.engine.rng.normal_quantile`)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@jit(inline="always")
def _draw_attainment(trial_k, trial_u, i, col0, z, kind, p_a, p_b, p_c, row, tab, loading, key, out):
    """Each creation-attainment group's share of the plan delivered, for one trial.

    Group ``g``'s uniform is column ``col0 + g`` of ``trial_u[i]`` when given, else draw 0 of
    its own stream (see :func:`trial_uniforms`). A loading ``l`` on the market factor ``z``
    moves the uniform by a Gaussian copula, ``Phi(sqrt(1 - l^2) Phi^-1(u) + l z)``: the
    attainment keeps the distribution it is declared with and correlates ``l`` (on the
    normal scale) with the market. Then as :func:`_draw_assumptions`: a number is itself, a
    PERT ``low + (high - low) Q(u)``, a Beta ``Q(u)``.
    """
    given = trial_u.shape[0] > 0
    for g in range(kind.shape[0]):
        k = kind[g]
        r = row[g]
        if k == FIXED:
            out[g] = p_a[g]
        elif r < 0:
            out[g] = p_b[g] if k == PERT else p_a[g]
        else:
            u = trial_u[i, col0 + g] if given else uniform(stream_key(trial_k, STREAM_ATTAINMENT, key[g]), 0)
            lo = loading[g]
            if lo != 0.0:
                u = normal_cdf(math.sqrt(1.0 - lo * lo) * normal_quantile(u) + lo * z)
                u = min(max(u, 1e-300), 1.0 - 1e-16)
            x = beta_unit(tab, r, u)
            out[g] = p_a[g] + (p_c[g] - p_a[g]) * x if k == PERT else x


@jit(inline="always")
def _count_weeks(count_k, count_cdf, count_offset, slot0, n_weeks, counts):
    """How many deals each week of one (source, cell) creates, into ``counts[slot0 ..]``.

    Inverting one uniform through the count's CDF keeps a larger plan's deals a superset
    of a smaller one's (common random numbers). Weeks 2w and 2w + 1 take the two halves of
    word w of ``count_k``.
    """
    zc = np.uint64(0)
    for wk in range(n_weeks):
        if wk & 1 == 0:
            zc = word(count_k, wk >> 1)
        u = lo_uniform(zc) if wk & 1 else hi_uniform(zc)
        slot = slot0 + wk
        o0 = count_offset[slot]
        o1 = count_offset[slot + 1]
        n = 0
        if o1 - o0 > 4:
            # The CDF is non-decreasing: its first four comparisons, branch-free,
            # count the usual small numbers; the table is long enough to go on.
            n = (
                (count_cdf[o0] < u)
                + (count_cdf[o0 + 1] < u)
                + (count_cdf[o0 + 2] < u)
                + (count_cdf[o0 + 3] < u)
            )
            if n == 4:
                o = o0 + 4
                while o < o1 - 1 and count_cdf[o] < u:
                    o += 1
                    n += 1
        elif o1 > o0:
            while o0 < o1 - 1 and count_cdf[o0] < u:
                o0 += 1
                n += 1
        counts[slot] = n


# The word of a new deal's key that decides whether attainment keeps it: far beyond the
# words its life draws (2, 3, ...), so thinning changes none of them.
KEEP_WORD = 1 << 40
# A component's key and its cell share one stream coordinate: key << COMPONENT_SHIFT | cell.
COMPONENT_SHIFT = 16
MAX_COMPONENT_KEY = (1 << (32 - COMPONENT_SHIFT)) - 1


@jit(inline="always")
def _draw_assumptions(trial_k, trial_u, i, kind, p_a, p_b, p_c, row, tab, out):
    """Each cell's assumptions for one trial, the uniform ``u`` of a drawn slot from
    ``trial_u[i]`` when given, else from the generator (see :func:`trial_uniforms`): a
    number is itself, a PERT ``low + (high - low) Q(u)``, a Beta ``Q(u)``, with ``Q`` the
    Beta quantile of the slot's table row (:func:`assumption_tables`). A slot without a row
    (no spread, or a shape validation keeps out) is its base value. The kind is read here,
    not only in the tables, so that a caller that fixes a slot (``kind = FIXED``, ``a`` its
    value) needs no new tables. Returns the market factor's uniform.
    """
    n_cells, n_slots = row.shape
    given = trial_u.shape[0] > 0
    for c in range(n_cells):
        pk = stream_key(trial_k, STREAM_PARAM, c)
        for q in range(n_slots):
            k = kind[c, q]
            r = row[c, q]
            if k == FIXED:
                out[c, q] = p_a[c, q]
            elif r < 0:
                out[c, q] = p_b[c, q] if k == PERT else p_a[c, q]
            else:
                u = trial_u[i, 1 + c * n_slots + q] if given else uniform(pk, q)
                x = beta_unit(tab, r, u)
                if k == PERT:
                    out[c, q] = p_a[c, q] + (p_c[c, q] - p_a[c, q]) * x
                else:
                    out[c, q] = x
    if given:
        return trial_u[i, 0]
    return uniform(stream_key(trial_k, STREAM_MARKET, 0), 0)


@jit(inline="always")
def _add_into(out, part):
    """``out += part``, element by element in order (one sequential pass)."""
    for x in range(out.shape[0]):
        out[x] += part[x]


@jit_parallel
def simulate_trials(
    seed,
    trial0,
    n_stages,
    category,
    # per-cell structure
    entry_stage,
    free_stage,
    lost_comp_share,
    dwell_kind,
    dwell_cv,
    dwell_table,
    push_kind,
    push_cv,
    push_table,
    decision_lost_comp_share,
    max_pushes,
    market_loading,
    amount_kind,
    amount_table,
    empirical,
    empirical_offset,
    whale_factor_max,
    amount_floor,
    amount_cap,
    tables,
    # per-cell parameter slots (see param_layout): the compiled values, and the Beta tables
    # of the drawn slots (assumption_tables)
    param_kind,
    param_a,
    param_b,
    param_c,
    param_row,
    param_tables,
    # creation: CDF of the count per cell and week (see compile.count_tables)
    count_cdf,
    count_offset,
    # creation sources and attainment (see Model.kernel_args): the count tables hold
    # sources x cells x weeks tables, source 0 the plan and then one per component, each
    # with its own count and deal streams (count_key: -1 the plan's, else the component's
    # key); keep_group (sources, cells) the attainment group that thins a source's deals in
    # a cell (-1: none); per group its kind and numbers (as the parameter slots), Beta table
    # row, market loading, stream key and the upper bound the count tables were built at
    count_key,
    keep_group,
    attain_kind,
    attain_a,
    attain_b,
    attain_c,
    attain_row,
    attain_tables,
    attain_loading,
    attain_key,
    attain_upper,
    week_start,
    week_length,
    # starting bank
    bank_cell,
    bank_stage,
    bank_amount,
    bank_created,
    bank_close,
    # each bank deal's start day (the as-of day; 0 for the plan's own bank) and its age in
    # its stage at that day (NaN: unknown, the renewal-theory residual of :func:`_dwell`)
    bank_start,
    bank_age,
    # pushes each bank deal has already taken at the decision stage (its win chance decayed
    # that many times, and fewer pushes left before max_pushes)
    bank_pushes,
    bank_cohort,
    # calendar; cohorts are creation quarters whatever the reporting period, so the cohort
    # output grows with periods, not with periods squared
    period_of_day,
    cohort_of_day,
    period_start,
    horizon,
    cycle_edges,
    # new deals made at a time (see NEW_DEALS_BLOCK)
    deal_block,
    # per run: whether to record the bank, due and slipped deals at every period boundary
    # (when False those outputs stay zero, and the kernel is ~15% faster); the trials'
    # uniforms (trials, trial_columns) from a sampler, or an empty (0, n) array to draw them
    boundaries,
    trial_u,
    # outputs (first axis: trial - trial0)
    flow_amt,
    flow_cnt,
    bank_amt,
    bank_cnt,
    cohort_amt,
    cycle_hist,
    drawn,
    market,
    attained,
):
    """Simulate trials ``trial0 .. trial0 + flow_amt.shape[0] - 1`` into the outputs.

    Outputs must be zeroed by the caller. Shapes: ``flow_*`` (trials, periods, cells,
    flow slots), ``bank_*`` (trials, periods + 1, cells, categories) at each period
    boundary, ``cohort_amt`` (trials, close period, creation quarter + bank, cells),
    ``cycle_hist`` (trials, cells, bins), ``drawn`` (trials, cells, slots), ``market``
    (trials,), ``attained`` (trials, attainment groups); ``trial_u``, when not empty,
    (trials, :func:`trial_columns`).

    The lifecycle is written once, inline, for new and bank deals alike: a call per
    deal with dozens of array arguments costs more in reference counting than the
    deal itself.
    """
    n_trials = flow_amt.shape[0]
    n_cells = param_kind.shape[0]
    n_periods = period_start.shape[0] - 1
    n_weeks = week_start.shape[0]
    n_cw = n_cells * n_weeks
    n_sources = count_key.shape[0]
    n_slots = n_sources * n_cw
    group_col0 = 1 + n_cells * param_kind.shape[1]
    n_bank = bank_cell.shape[0]
    k = n_stages
    decision = k - 1
    # The layouts' fields as plain ints: numba's parallel lowering of the trial loop cannot
    # see the NamedTuple classes.
    pl = param_layout(k)
    advance0 = pl.advance0
    dwell0 = pl.dwell0
    growth0 = pl.growth0
    win_slot = pl.win
    push_slot = pl.push
    push_delay_slot = pl.push_delay
    decay_slot = pl.win_decay
    to_decision_slot = pl.to_decision
    median_slot = pl.median
    whale_p_slot = pl.whale_probability
    whale_f_slot = pl.whale_factor
    fl = flow_layout(k)
    booked = fl.booked
    created0 = fl.created0
    lost_comp0 = fl.lost_competition0
    lost_nd0 = fl.lost_no_decision0
    pushes_slot = fl.pushes
    slipped = fl.slipped
    due0 = fl.due0
    won_pushes = fl.won_pushes
    won_cycle = fl.won_cycle
    n_flow = fl.n_slots
    n_bins = cycle_edges.shape[0] - 1
    # Period boundaries with +inf after the last, so the boundary loop needs no bounds test.
    bounds = np.empty(n_periods + 2)
    bounds[: n_periods + 1] = period_start
    bounds[n_periods + 1] = np.inf
    tab = tables.reshape(tables.size)
    ptab = param_tables.reshape(param_tables.size)
    atab = attain_tables.reshape(attain_tables.size)
    # Flat output strides: flows (period, cell, slot), bank (boundary, cell, category),
    # cohort bookings (period, cohort, cell), cycle histogram (cell, bin).
    flow_period = n_cells * n_flow
    bank_period = n_cells * N_CATEGORIES
    n_cohort_cols = cohort_amt.shape[2]
    si = np.empty(n_cells * k * SI_WIDTH, dtype=np.int64)
    for c in range(n_cells):
        for s in range(k):
            o = (c * k + s) * SI_WIDTH
            si[o + SI_KIND] = dwell_kind[c, s]
            si[o + SI_TABLE] = dwell_table[c, s] * TABLE_ROW
            si[o + SI_CATEGORY] = category[s]
    # Each creation slot's (source, cell, week), looked up rather than divided out per deal.
    slot_source = np.empty(n_slots, dtype=np.int64)
    slot_cell = np.empty(n_slots, dtype=np.int64)
    slot_week = np.empty(n_slots, dtype=np.int64)
    for slot in range(n_slots):
        slot_source[slot] = slot // n_cw
        slot_cell[slot] = (slot - slot_source[slot] * n_cw) // n_weeks
        slot_week[slot] = slot - slot_source[slot] * n_cw - slot_cell[slot] * n_weeks
    # A lognormal dwell's length-biased version (the renewal-theory residual of a bank deal
    # whose age is unknown) is the same table's draw times exp(sigma^2).
    length_bias = np.ones(n_cells * k)
    for c in range(n_cells):
        for s in range(k):
            if dwell_kind[c, s] == DIST_LOGNORMAL:
                sigma = tab[dwell_table[c, s] * TABLE_ROW + TABLE_KNOTS + 1]
                length_bias[c * k + s] = math.exp(sigma * sigma)
    # Trials run a block at a time, each block on one thread, so that a thread allocates its
    # scratch once per block rather than once per trial (~14 allocations, a few percent of a
    # trial). Callers hand out blocks one at a time (parallel chunk size 1). The bits do not
    # depend on the block: every trial still starts from its own zeroed sums.
    n_blocks = (n_trials + TRIAL_BLOCK - 1) // TRIAL_BLOCK
    for b in numba.prange(n_blocks):
        # Per-trial parameters derived from the drawn assumptions.
        st = np.empty(n_cells * k * ST_WIDTH)
        cp = np.empty(n_cells * CP_WIDTH)
        deal_keys = np.empty(n_sources * n_cells, dtype=np.uint64)
        counts = np.empty(n_slots, dtype=np.int64)
        keep = np.empty(n_sources * n_cells)
        fa = np.empty(flow_amt[0].size)
        fc = np.empty(flow_cnt[0].size, dtype=flow_cnt.dtype)
        ba = np.empty(bank_amt[0].size)
        bc = np.empty(bank_cnt[0].size, dtype=bank_cnt.dtype)
        ca = np.empty(cohort_amt[0].size)
        block = max(deal_block, 1)
        first = np.empty(n_slots, dtype=np.int64)
        owner = np.empty(block, dtype=np.int64)
        new_key = np.empty(block, dtype=np.uint64)
        new_cell = np.empty(block, dtype=np.int64)
        new_t = np.empty(block)
        new_amount = np.empty(block)
        for i in range(b * TRIAL_BLOCK, min(b * TRIAL_BLOCK + TRIAL_BLOCK, n_trials)):
            trial_k = trial_key(seed, trial0 + i)
            params = drawn[i]
            z = normal_quantile(
                _draw_assumptions(
                    trial_k, trial_u, i, param_kind, param_a, param_b, param_c, param_row, ptab, params
                )
            )
            market[i] = z
            for c in range(n_cells):
                fixed_product = 1.0
                n_free = 0
                for s in range(entry_stage[c], k - 1):
                    if free_stage[c, s]:
                        n_free += 1
                    else:
                        fixed_product *= params[c, advance0 + s]
                # Cumulative conversion split evenly (geometrically) over the stages that have
                # no rate of their own: one power per cell, not one per such stage.
                a_free = 1.0
                if n_free > 0:
                    ratio = params[c, to_decision_slot] / fixed_product if fixed_product > 0 else 1.0
                    a_free = min(max(ratio ** (1.0 / n_free), 0.0), 1.0)
                for s in range(k):
                    o = (c * k + s) * ST_WIDTH
                    if s == k - 1:
                        st[o + ST_ADVANCE] = 0.0  # the decision stage decides instead
                        st[o + ST_GROWTH] = 1.0
                    elif free_stage[c, s]:
                        st[o + ST_ADVANCE] = a_free
                        st[o + ST_GROWTH] = params[c, growth0 + s]
                        # The drawn-assumptions output shows the rate in effect, not the placeholder.
                        params[c, advance0 + s] = a_free
                    else:
                        st[o + ST_ADVANCE] = min(max(params[c, advance0 + s], 0.0), 1.0)
                        st[o + ST_GROWTH] = params[c, growth0 + s]
                    st[o + ST_DWELL_CV] = dwell_cv[c, s]
                    st[o + ST_LOST_COMP] = lost_comp_share[c, s]
                acc = 0.0
                for s in range(k - 1, -1, -1):
                    o = (c * k + s) * ST_WIDTH
                    mean = max(params[c, dwell0 + s], 1e-9)
                    st[o + ST_DWELL_MEAN] = mean
                    acc += mean
                    st[o + ST_REMAINING] = acc
                w = min(max(params[c, win_slot], 0.0), 1.0)
                if market_loading[c] != 0.0 and 0.0 < w < 1.0:
                    # The market factor shifts every cell's win rate on the log-odds scale.
                    x = math.log(w / (1.0 - w)) + market_loading[c] * z
                    w = 1.0 / (1.0 + math.exp(-x))
                o = c * CP_WIDTH
                cp[o + CP_WIN] = w
                cp[o + CP_PUSH] = min(max(params[c, push_slot], 0.0), 1.0 - w)
                cp[o + CP_DECAY] = params[c, decay_slot]
                cp[o + CP_PUSH_MEAN] = max(params[c, push_delay_slot], 1e-9)
                cp[o + CP_MEDIAN] = params[c, median_slot]
                cp[o + CP_WHALE_P] = params[c, whale_p_slot]
                cp[o + CP_WHALE_F] = params[c, whale_f_slot]
                deal_keys[c] = stream_key(trial_k, STREAM_DEAL, c)
                # How many deals each (cell, week) creates, in one tight pass: most weeks
                # create none or one or two.
                _count_weeks(
                    stream_key(trial_k, STREAM_COUNT, c),
                    count_cdf,
                    count_offset,
                    c * n_weeks,
                    n_weeks,
                    counts,
                )
            # Creation components (a program's added creation) come after the plan, each on
            # streams of its own key, so that adding or removing one leaves the others' deals.
            for src in range(1, n_sources):
                kk = np.uint64(count_key[src]) << np.uint64(COMPONENT_SHIFT)
                for c in range(n_cells):
                    a_c = kk | np.uint64(c)
                    deal_keys[src * n_cells + c] = stream_key(trial_k, STREAM_COMPONENT_DEAL, a_c)
                    count_k = stream_key(trial_k, STREAM_COMPONENT_COUNT, a_c)
                    _count_weeks(count_k, count_cdf, count_offset, src * n_cw + c * n_weeks, n_weeks, counts)
            # Attainment: each group's share of its plan delivered, drawn once per trial; the
            # count tables were built at the group's upper bound, and each deal made is kept
            # with probability attainment / upper bound (thinning keeps a Poisson a Poisson and
            # a negative binomial one of the same size, and a higher attainment keeps a
            # superset of a lower one's deals).
            att = attained[i]
            _draw_attainment(
                trial_k,
                trial_u,
                i,
                group_col0,
                z,
                attain_kind,
                attain_a,
                attain_b,
                attain_c,
                attain_row,
                atab,
                attain_loading,
                attain_key,
                att,
            )
            for src in range(n_sources):
                for c in range(n_cells):
                    g = keep_group[src, c]
                    kp = 1.0
                    if g >= 0 and attain_upper[g] > 0.0:
                        kp = min(max(att[g] / attain_upper[g], 0.0), 1.0)
                    keep[src * n_cells + c] = kp
            bank_k = stream_key(trial_k, STREAM_BANK, 0)

            # The trial's sums build up in small zeroed arrays of its own, which stay in the
            # core's cache, and are added to the outputs once, in order, at the end: the outputs
            # are fresh memory (out of cache), and a scattered first touch of each of their lines
            # stalls the deal that makes it. Each sum is formed in the same order as before and
            # added to the zero the caller left, so the bits are the same.
            fa[:] = 0.0
            fc[:] = 0
            ba[:] = 0.0
            bc[:] = 0
            ca[:] = 0.0
            ch = cycle_hist[i].reshape(cycle_hist[i].size)

            # New deals are made a block at a time, in (source, cell, week, k) order, in a tight
            # loop, and then live their lives; the bank's deals come last. Scratch memory stays
            # one block, whatever the number of deals. Candidates are numbered in that order,
            # first[slot] the number of the slot's first; each chunk of candidates marks where
            # its slots start and finds a candidate's slot as the running maximum of the marks,
            # so the loop over candidates has a fixed length and no branch on where a week ends
            # (one mispredicted branch per week, ~830 a trial, before).
            n_new = 0
            for slot in range(n_slots):
                first[slot] = n_new
                n_new += counts[slot]
            cand = 0  # candidates made so far
            mark = 0  # the next slot whose start is to be marked
            cur = 0  # the slot of the candidate being made
            bank_done = False
            while True:
                m = 0
                while m < block and cand < n_new:
                    n_chunk = min(block - m, n_new - cand)
                    end = cand + n_chunk
                    for q in range(n_chunk):
                        owner[q] = -1
                    # In order, so that a week with no deals is overwritten by the next one.
                    while mark < n_slots and first[mark] < end:
                        owner[first[mark] - cand] = mark
                        mark += 1
                    for q in range(n_chunk):
                        cur = max(cur, owner[q])
                        d = cand + q - first[cur]
                        src = slot_source[cur]
                        c = slot_cell[cur]
                        wk = slot_week[cur]
                        o = c * CP_WIDTH
                        # A new deal's draws: its key's own 64 bits its creation time and amount
                        # (the key is a fresh mix of the deal's coordinates, so a word of its own
                        # would cost a mix for nothing), word 1 its whale draws (taken only when
                        # the cell has whales), then one word per event from 2 on; KEEP_WORD
                        # whether attainment keeps it.
                        key = mix64(deal_keys[src * n_cells + c] ^ np.uint64((wk << 32) | d))
                        kp = keep[src * n_cells + c]
                        # A thinned deal is made too, into the slot the next one overwrites:
                        # cheaper than a branch that goes either way at random.
                        kept = kp >= 1.0 or uniform(key, KEEP_WORD) < kp
                        new_key[m] = key
                        new_cell[m] = c
                        z0 = key
                        new_t[m] = week_start[wk] + week_length[wk] * hi_uniform(z0)
                        if amount_kind[c] == AMOUNT_EMPIRICAL:
                            e0 = empirical_offset[c]
                            n_emp = empirical_offset[c + 1] - e0
                            amount = (
                                cp[o + CP_MEDIAN]
                                * empirical[e0 + min(int(lo_uniform(z0) * n_emp), n_emp - 1)]
                            )
                        else:
                            amount = cp[o + CP_MEDIAN] * lognormal_unit(
                                tab, amount_table[c] * TABLE_ROW, lo_uniform(z0)
                            )
                        if cp[o + CP_WHALE_P] > 0.0:
                            z1 = word(key, 1)
                            if hi_uniform(z1) < cp[o + CP_WHALE_P]:
                                whale_lo = cp[o + CP_WHALE_F]
                                whale_hi = whale_factor_max[c]
                                if whale_hi == whale_hi:
                                    amount *= whale_lo + (whale_hi - whale_lo) * lo_uniform(z1)
                                else:
                                    amount *= whale_lo
                        new_amount[m] = min(max(amount, amount_floor[c]), amount_cap[c])
                        m += kept
                    cand = end
                if m > 0:
                    n_lives = m
                elif bank_done:
                    break
                else:
                    n_lives = n_bank
                    bank_done = True
                for q in range(n_lives):
                    if m > 0:
                        key = new_key[q]
                        c = new_cell[q]
                        t = new_t[q]
                        amount = new_amount[q]
                        s = entry_stage[c]
                        p = period_of_day[int(t)]
                        fa[p * flow_period + c * n_flow + created0 + s] += amount
                        fc[p * flow_period + c * n_flow + created0 + s] += 1
                        j = 2
                        t_created = t
                        cohort = cohort_of_day[int(t)]
                        row = c * k  # (cell, stage) rows of st and si are row + s
                        expected_close = t + st[(row + s) * ST_WIDTH + ST_REMAINING]
                        n_push = 0
                        w = cp[c * CP_WIDTH + CP_WIN]
                        t_next = -1.0  # the next event's time, when already known
                        u_next = 0.0  # and that event's outcome uniform
                    else:
                        key = mix64(bank_k ^ np.uint64(q))
                        c = bank_cell[q]
                        s = bank_stage[q]
                        t = bank_start[q]
                        p = period_of_day[int(t)]
                        n_push = bank_pushes[q]
                        amount = bank_amount[q]
                        t_created = bank_created[q]
                        cohort = bank_cohort
                        row = c * k
                        o = (row + s) * ST_WIDTH
                        oi = (row + s) * SI_WIDTH
                        given_close = bank_close[q]
                        if given_close == given_close:  # a bank deal's own expected close date
                            expected_close = given_close
                        else:
                            expected_close = t + st[o + ST_REMAINING]
                        w = cp[c * CP_WIDTH + CP_WIN]
                        for _ in range(n_push):
                            w *= cp[c * CP_WIDTH + CP_DECAY]  # the pushes it has already taken
                        # Its first event, drawn here so that the event loop below knows nothing
                        # of the bank: at its own close date (a decision), after the rest of a
                        # dwell it is already ``age`` days into, or after a renewal-theory
                        # residual dwell when its age is unknown.
                        j = 0
                        ze = word(key, j)
                        j += 1
                        u_next = lo_uniform(ze)
                        age = bank_age[q]
                        if s == decision and given_close == given_close:
                            t_next = max(given_close, t)
                        elif age == age:
                            dwell, j = _aged_dwell(
                                key,
                                j,
                                si[oi + SI_KIND],
                                st[o + ST_DWELL_MEAN],
                                st[o + ST_DWELL_CV],
                                tab,
                                si[oi + SI_TABLE],
                                age,
                                hi_uniform(ze),
                            )
                            t_next = t + dwell
                        else:
                            dwell, j = _dwell(
                                key,
                                j,
                                si[oi + SI_KIND],
                                st[o + ST_DWELL_MEAN],
                                st[o + ST_DWELL_CV],
                                tab,
                                si[oi + SI_TABLE],
                                True,
                                hi_uniform(ze),
                                length_bias[row + s],
                            )
                            t_next = t + dwell

                    # ---- the life of one opportunity, from (c, s, t, amount) ----
                    # One loop over its events (a stage exit, a decision), with the period
                    # boundaries it lives through recorded in one place. Indices are flat:
                    # ``flow_cell + p * flow_period + slot`` is flow ``slot`` of period p.
                    flow_cell = c * n_flow
                    bank_of_cell = c * N_CATEGORIES
                    bj = p + (period_start[p] < t)  # the first boundary at or after t (whole days)
                    pend_j = -1
                    pend_amount = 0.0
                    co = c * CP_WIDTH
                    while True:
                        o = (row + s) * ST_WIDTH
                        oi = (row + s) * SI_WIDTH
                        if t_next < 0.0:
                            # One word per event: the high half times it, the low half decides it.
                            ze = word(key, j)
                            j += 1
                            u_next = lo_uniform(ze)
                            dwell, j = _dwell(
                                key,
                                j,
                                si[oi + SI_KIND],
                                st[o + ST_DWELL_MEAN],
                                st[o + ST_DWELL_CV],
                                tab,
                                si[oi + SI_TABLE],
                                False,
                                hi_uniform(ze),
                                1.0,
                            )
                            t_next = t + dwell
                        # Open at each period boundary it lives through: in the bank, maybe due,
                        # and slipped if still open at the end of the period it was due in.
                        while boundaries and bounds[bj] < t_next:
                            if pend_j >= 0:
                                fa[pend_j * flow_period + flow_cell + slipped] += pend_amount
                                fc[pend_j * flow_period + flow_cell + slipped] += 1
                                pend_j = -1
                            cat = si[oi + SI_CATEGORY]
                            ba[bj * bank_period + bank_of_cell + cat] += amount
                            bc[bj * bank_period + bank_of_cell + cat] += 1
                            if bj < n_periods and bounds[bj] <= expected_close < bounds[bj + 1]:
                                fa[bj * flow_period + flow_cell + due0 + cat] += amount
                                fc[bj * flow_period + flow_cell + due0 + cat] += 1
                                pend_j = bj
                                pend_amount = amount
                            bj += 1
                        if t_next >= horizon:
                            break  # open at the horizon: in the ending bank
                        t = t_next
                        t_next = -1.0
                        p = period_of_day[int(t)]
                        fp = p * flow_period + flow_cell
                        u = u_next
                        if s < decision:
                            a = st[o + ST_ADVANCE]
                            if u < a:
                                amount *= st[o + ST_GROWTH]
                                s += 1
                                fa[fp + created0 + s] += amount
                                fc[fp + created0 + s] += 1
                                expected_close = t + st[o + ST_WIDTH + ST_REMAINING]  # of stage s + 1
                                continue
                            lost = (
                                lost_comp0 + s if u < a + (1.0 - a) * st[o + ST_LOST_COMP] else lost_nd0 + s
                            )
                            fa[fp + lost] += amount
                            fc[fp + lost] += 1
                            break
                        # The decision: won, lost, or pushed to be decided again later.
                        if u < w:
                            fa[fp + booked] += amount
                            fc[fp + booked] += 1
                            fc[fp + won_pushes] += n_push
                            ca[(p * n_cohort_cols + cohort) * n_cells + c] += amount
                            if t_created == t_created:
                                cycle = t - t_created
                                fa[fp + won_cycle] += cycle
                                fc[fp + won_cycle] += 1
                                # The edges ascend, so the bin is the number of inner edges at
                                # or below the cycle: a fixed-length loop, no branch to miss.
                                bin_ = 0
                                for e in range(1, n_bins):
                                    bin_ += cycle >= cycle_edges[e]
                                ch[c * n_bins + bin_] += 1
                            break
                        p_push = cp[co + CP_PUSH]
                        # Decay moves win mass to no decision: the competition share stays that of
                        # the undecayed win rate.
                        p_lost_comp = (1.0 - cp[co + CP_WIN] - p_push) * decision_lost_comp_share[c]
                        if u < w + p_lost_comp:
                            fa[fp + lost_comp0 + s] += amount
                            fc[fp + lost_comp0 + s] += 1
                            break
                        if u < w + p_lost_comp + p_push and n_push < max_pushes[c]:
                            n_push += 1
                            fa[fp + pushes_slot] += amount
                            fc[fp + pushes_slot] += 1
                            ze = word(key, j)
                            j += 1
                            u_next = lo_uniform(ze)
                            delay, j = _dwell(
                                key,
                                j,
                                push_kind[c],
                                cp[co + CP_PUSH_MEAN],
                                push_cv[c],
                                tab,
                                push_table[c] * TABLE_ROW,
                                False,
                                hi_uniform(ze),
                                1.0,
                            )
                            t_next = t + delay
                            expected_close = t + cp[co + CP_PUSH_MEAN]
                            # Each push taken decays the next win chance; the mass goes to no decision.
                            w *= cp[co + CP_DECAY]
                            continue
                        # Lost to no decision: the rest, the mass decay removed from the win,
                        # and a push beyond max_pushes.
                        fa[fp + lost_nd0 + s] += amount
                        fc[fp + lost_nd0 + s] += 1
                        break
            _add_into(flow_amt[i].reshape(fa.size), fa)
            _add_into(flow_cnt[i].reshape(fc.size), fc)
            if boundaries:
                _add_into(bank_amt[i].reshape(ba.size), ba)
                _add_into(bank_cnt[i].reshape(bc.size), bc)
            _add_into(cohort_amt[i].reshape(ca.size), ca)
