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
stratified coordinate), then each uncertain (cell, assumption) slot in cell-major order,
then each uncertain creation-attainment group.
The points are handed to the kernel as each trial's uniforms (:func:`kernel_uniforms`); the
kernel turns them into values by the same inverse CDF as its own draws.
"""

from __future__ import annotations

import warnings

import numpy as np

from simcore.engine.kernel import FIXED, trial_columns
from simcore.errors import SimcoreError

SAMPLERS = ("random", "lhs", "sobol")
# Trials per independent randomisation. Large enough that each replicate stratifies well
# (Sobol' is balanced on powers of two), small enough that a 10,000-trial run has a few
# dozen replicates to estimate its error from.
REPLICATE_SIZE = {"lhs": 256, "sobol": 512}
_TAG = {"lhs": 0x4C48, "sobol": 0x534F}  # keeps the two samplers' streams apart


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


def sampled_slots(model) -> tuple:
    """The (cell, slot) pairs of uncertain assumptions, in the order of dimensions 1.."""
    cells, slots = np.nonzero(model.param_kind != FIXED)
    return cells, slots


def kernel_uniforms(model, sampling: str, seed: int, trial0: int, n: int) -> np.ndarray:
    """Each trial's uniforms in the kernel's ``trial_u`` layout, from the sampler's points.

    The kernel turns every uniform into its draw by the same inverse CDF it applies to its own
    (quantile tables of the Beta behind a PERT or a Beta rate; the normal quantile for the
    market factor), so a sampler changes which uniforms a trial gets, never how they become
    values. Column 0 is the market factor, column ``1 + c * slots + q`` the assumption of slot
    ``q`` in cell ``c`` (:func:`simcore.engine.kernel.trial_columns`), then one per
    creation-attainment group; columns of fixed values are not read and hold 0.5.

    Parameters
    ----------
    model : Model
        From :func:`simcore.engine.compile.compile_scenario`.
    sampling : {"lhs", "sobol"}
    seed, trial0, n : int
        As :func:`uniforms`.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, trial_columns(cells, slots))``, every value in (0, 1).

    Examples
    --------
    >>> import simcore
    >>> model = simcore.compile_scenario(simcore.load_scenario("scenarios/smb.toml"))
    >>> u = kernel_uniforms(model, "sobol", 7, 0, 512)
    >>> u.shape[0], bool(((u > 0) & (u < 1)).all()), abs(float(u[:, 0].mean()) - 0.5) < 0.01
    (512, True, True)
    """
    cells, slots = sampled_slots(model)
    groups = np.flatnonzero(model.attain_kind != FIXED)
    n_cells, n_slots = model.param_kind.shape
    points = uniforms(sampling, seed, trial0, n, 1 + len(cells) + len(groups))
    out = np.full((n, trial_columns(n_cells, n_slots, len(model.attain_names))), 0.5)
    out[:, 0] = points[:, 0]
    out[:, 1 + cells * n_slots + slots] = points[:, 1 : 1 + len(cells)]
    out[:, 1 + n_cells * n_slots + groups] = points[:, 1 + len(cells) :]
    return out
