"""Stratified sampling of the per-trial draws: Latin hypercube and scrambled Sobol'.

Most of the spread of annual bookings comes from what is drawn once per trial (the market
factor and each cell's uncertain assumptions), and that is where stratifying pays: the
lifecycles within a trial stay plain Monte Carlo, keyed as always (docs/model.md).

Each trial's draws are a pure function of (seed, trial), so chunking, thread counts and
Dask workers give the same bits:

- ``"random"``: the kernel draws them itself (the default; nothing here is used).
- ``"lhs"``: trials ``r B .. r B + B - 1`` (``B`` = :data:`REPLICATE_SIZE` ``["lhs"]``) form
  one Latin hypercube, replicate ``r``: in every dimension its ``B`` points take one
  stratum ``[k / B, (k + 1) / B)`` each, in an order permuted per (seed, r, dimension), at a
  uniform position within the stratum.
- ``"sobol"``: replicate ``r``'s trials are the points ``0 .. B - 1`` of a Sobol' sequence
  scrambled (Owen-type linear matrix scramble plus digital shift, :class:`scipy.stats.qmc.Sobol`)
  from (seed, r); a trial's point index is its place in the replicate.

Replicates are independent randomisations, so the Monte-Carlo error of any figure is
estimated from the spread of its value across replicates
(:func:`simcore.analysis.convergence.replicate_errors`), never from the i.i.d. formula,
which overstates it. Every point is marginally uniform, so every estimate is unbiased
whatever the number of trials (a final partial replicate included).

Dimension 0 is the market factor (the largest single source of variance, and Sobol's best
stratified coordinate), then each uncertain (cell, assumption) slot in cell-major order.
Uniforms go to values by inverse CDF: the normal quantile for the market factor and the
Beta quantile (a PERT is a scaled Beta) for the assumptions.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from simcore.engine.kernel import BETA, FIXED, PERT
from simcore.errors import SimcoreError

SAMPLERS = ("random", "lhs", "sobol")
# Trials per independent randomisation. Large enough that each replicate stratifies well
# (Sobol' is balanced on powers of two), small enough that a 10,000-trial run has a few
# dozen replicates to estimate its error from.
REPLICATE_SIZE = {"lhs": 256, "sobol": 512}
_TAG = {"lhs": 0x4C48, "sobol": 0x534F}  # keeps the two samplers' streams apart

# Beta quantiles through a table of knots, linearly interpolated, with the outer bins
# computed exactly: ``scipy.special.betaincinv`` costs ~5 us a call, and a run makes one
# per trial and uncertain slot. The outer 2% at each end, where a quantile can be steep,
# are exact; inside, the interpolation error is below 5e-6 of the range for the shapes
# tests/test_scale.py tries (PERT shapes have both parameters >= 1), far inside any
# Monte-Carlo error.
_KNOTS = 4096
_EXACT = 82


def check_sampling(sampling) -> str:
    """``sampling`` if it is one of :data:`SAMPLERS`, else a clear error."""
    if sampling not in SAMPLERS:
        raise SimcoreError(f"sampling must be one of {', '.join(SAMPLERS)}, got {sampling!r}")
    return sampling


def replicate_of(sampling: str, trials) -> np.ndarray:
    """The replicate (independent randomisation) of each trial index; 0..n-1 for ``random``."""
    trials = np.asarray(trials, dtype=np.int64)
    if sampling == "random":
        return trials
    return trials // REPLICATE_SIZE[sampling]


def _rng(seed: int, replicate: int, sampling: str, salt: int = 0) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, _TAG[sampling], replicate, salt]))
    )


def _lhs_replicate(seed: int, r: int, dims: int) -> np.ndarray:
    size = REPLICATE_SIZE["lhs"]
    rng = _rng(seed, r, "lhs")
    strata = rng.permuted(np.tile(np.arange(size), (dims, 1)), axis=1).T  # (size, dims)
    return (strata + rng.random((size, dims))) / size


def _sobol_points(seed: int, r: int, dims: int, lo: int, n: int) -> np.ndarray:
    from scipy.stats import qmc  # lazy: scipy.stats takes a while to import

    engine = qmc.Sobol(dims, scramble=True, seed=_rng(seed, r, "sobol"))
    if lo:
        engine.fast_forward(lo)
    with warnings.catch_warnings():
        # "balance properties require n to be a power of 2": a chunk is a slice of a
        # replicate of 512 points, which is balanced as a whole.
        warnings.simplefilter("ignore", UserWarning)
        return engine.random(n)


def uniforms(sampling: str, seed: int, trial0: int, n: int, dims: int) -> np.ndarray:
    """Points in (0, 1)^dims of trials ``trial0 .. trial0 + n - 1``, shape ``(n, dims)``.

    Parameters
    ----------
    sampling : {"lhs", "sobol"}
    seed : int
    trial0, n : int
        The first trial's absolute index, and how many.
    dims : int
        Dimensions of each point.

    Returns
    -------
    numpy.ndarray
        The same values for a trial whatever ``trial0`` and ``n`` it was asked with.

    Examples
    --------
    >>> from simcore.engine.sampling import uniforms
    >>> a = uniforms("lhs", 7, 0, 300, 3)
    >>> bool((a[100:200] == uniforms("lhs", 7, 100, 100, 3)).all())
    True
    """
    check_sampling(sampling)
    size = REPLICATE_SIZE[sampling]
    out = np.empty((n, dims))
    t = trial0
    while t < trial0 + n:
        r = t // size
        hi = min(trial0 + n, (r + 1) * size)
        lo_in, hi_in = t - r * size, hi - r * size
        if sampling == "lhs":
            out[t - trial0 : hi - trial0] = _lhs_replicate(seed, r, dims)[lo_in:hi_in]
        else:
            out[t - trial0 : hi - trial0] = _sobol_points(seed, r, dims, lo_in, hi_in - lo_in)
        t = hi
    # Open interval: a scrambled Sobol' coordinate may be exactly 0.
    return np.clip(out, 2.0**-53, 1.0 - 2.0**-53)


@functools.lru_cache(maxsize=256)
def _beta_table(a: float, b: float) -> np.ndarray:
    from scipy.special import betaincinv  # lazy: start-up

    return betaincinv(a, b, np.linspace(0.0, 1.0, _KNOTS + 1))


def beta_quantile(a: float, b: float, u: np.ndarray) -> np.ndarray:
    """The Beta(a, b) quantile of each ``u`` in (0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from simcore.engine.sampling import beta_quantile
    >>> round(float(beta_quantile(2.0, 2.0, np.array([0.5]))[0]), 9)
    0.5
    """
    from scipy.special import betaincinv  # lazy: start-up

    table = _beta_table(float(a), float(b))
    pos = u * _KNOTS
    i = np.minimum(pos.astype(np.int64), _KNOTS - 1)
    out = table[i] + (pos - i) * (table[i + 1] - table[i])
    edge = (i < _EXACT) | (i >= _KNOTS - _EXACT)
    if edge.any():
        out[edge] = betaincinv(a, b, u[edge])
    return out


def sampled_slots(model) -> tuple:
    """The (cell, slot) pairs of uncertain assumptions, in the order of dimensions 1.."""
    cells, slots = np.nonzero(model.param_kind != FIXED)
    return cells, slots


def draws(model, sampling: str, seed: int, trial0: int, n: int) -> tuple:
    """Each trial's assumptions and market factor, for the kernel's ``preset_*`` inputs.

    Parameters
    ----------
    model : Model
        From :func:`simcore.engine.compile.compile_scenario`.
    sampling : {"lhs", "sobol"}
    seed, trial0, n : int
        As :func:`uniforms`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``drawn`` of shape (n, cells, slots), as the kernel would draw them (a fixed value
        as given, a PERT ``{low, base, high}`` as ``low + (high - low) Beta(1 + 4 (base -
        low) / (high - low), 1 + 4 (high - base) / (high - low))``, a Beta ``{mean,
        strength}`` as Beta(mean strength, (1 - mean) strength)), and the market factor
        (n,), standard normal.

    Examples
    --------
    >>> sc = simcore.load_scenario("scenarios/fy2026.toml")
    >>> model = simcore.compile_scenario(sc)
    >>> drawn, market = draws(model, "sobol", 7, 0, 512)
    >>> abs(float(market.mean())) < 0.05
    True
    """
    from scipy.special import ndtri  # lazy: start-up

    cells, slots = sampled_slots(model)
    u = uniforms(sampling, seed, trial0, n, 1 + len(cells))
    kind, pa, pb, pc = model.param_kind, model.param_a, model.param_b, model.param_c
    drawn = np.broadcast_to(np.where(kind == FIXED, pa, 0.0), (n, *kind.shape)).copy()
    # Cells often share an assumption's distribution: one table (and one call) per distinct shape.
    groups: dict = {}
    for d, (c, q) in enumerate(zip(cells, slots), start=1):
        if kind[c, q] == PERT:
            low, mode, high = pa[c, q], pb[c, q], pc[c, q]
            if high <= low:
                drawn[:, c, q] = mode
                continue
            shape = (1.0 + 4.0 * (mode - low) / (high - low), 1.0 + 4.0 * (high - mode) / (high - low))
            scale = (low, high - low)
        elif kind[c, q] == BETA:
            mean, strength = pa[c, q], pb[c, q]
            shape, scale = (mean * strength, (1.0 - mean) * strength), (0.0, 1.0)
        else:  # pragma: no cover - a kind the kernel does not know
            raise SimcoreError(f"unknown assumption kind {kind[c, q]}")
        groups.setdefault(shape, []).append((d, c, q, scale))
    for (a, b), members in groups.items():
        cols = [d for d, *_ in members]
        x = beta_quantile(a, b, u[:, cols].ravel()).reshape(n, len(cols))
        for j, (_, c, q, (offset, width)) in enumerate(members):
            drawn[:, c, q] = offset + width * x[:, j]
    return drawn, ndtri(u[:, 0])
