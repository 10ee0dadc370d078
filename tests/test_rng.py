"""The counter-based generator and its transforms (simcore.engine.rng; the kernel's lognormal
and Beta quantile tables).

Distribution checks are KS tests at alpha = 0.01, retried once with another seed
(SciPy's practice, ``helpers.retry_test``); approximations with a known error bound
(the normal quantile, the lognormal quantile table) are checked deterministically
against that bound.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from helpers import retry_test
from scipy import stats
from scipy.special import ndtr, ndtri

from simcore.engine.compile import lognormal_table
from simcore.engine.kernel import (
    TABLE_EXACT,
    TABLE_EXACT_LOW,
    TABLE_KNOTS,
    beta_table,
    beta_unit,
    lognormal_unit,
)
from simcore.engine.rng import (
    STREAM_DEAL,
    deal_key,
    gamma_draw,
    hi_uniform,
    lo_uniform,
    mix64,
    normal_quantile,
    uniform,
    word,
)

N = 100_000


@numba.njit(cache=True)
def uniforms_of_one_key(seed, n):
    """Draws 0..n-1 of one opportunity's sequence."""
    key = deal_key(seed, 0, STREAM_DEAL, 0, 0)
    out = np.empty(n)
    for j in range(n):
        out[j] = uniform(key, j)
    return out


@numba.njit(cache=True)
def first_uniform_of_many_keys(seed, n):
    """Draw 0 of deals 0..n-1 (how the kernel places creation times)."""
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(deal_key(seed, 0, STREAM_DEAL, 0, i), 0)
    return out


@numba.njit(cache=True)
def half_uniforms_of_one_key(seed, n):
    """The 2n 32-bit uniforms of words 0..n-1 of one sequence, high half first (how a deal's
    events draw their dwell and outcome)."""
    key = deal_key(seed, 0, STREAM_DEAL, 0, 0)
    out = np.empty(2 * n)
    for j in range(n):
        z = word(key, j)
        out[2 * j] = hi_uniform(z)
        out[2 * j + 1] = lo_uniform(z)
    return out


@numba.njit(cache=True)
def gammas(seed, n, shape):
    out = np.empty(n)
    for i in range(n):
        out[i], _ = gamma_draw(deal_key(seed, 0, STREAM_DEAL, 0, i), 0, shape)
    return out


@numba.njit(cache=True)
def beta_table_draws(row, u):
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = beta_unit(row, 0, u[i])
    return out


@numba.njit(cache=True)
def normal_quantiles(u):
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = normal_quantile(u[i])
    return out


@numba.njit(cache=True)
def table_draws(tables, u):
    flat = tables.reshape(tables.size)  # the kernel reads the table array flattened
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = lognormal_unit(flat, 0, u[i])
    return out


# ---------------------------------------------------------------------------------------
# Uniforms

_M64 = 2**64
_GOLDEN = 0x9E3779B97F4A7C15


def _unmix64(z):
    """Inverse of the SplitMix64 finaliser (to reach the extreme 64-bit words)."""
    z ^= (z >> 31) ^ (z >> 62)
    z = (z * pow(0x94D049BB133111EB, -1, _M64)) % _M64
    z ^= (z >> 27) ^ (z >> 54)
    z = (z * pow(0xBF58476D1CE4E5B9, -1, _M64)) % _M64
    z ^= (z >> 30) ^ (z >> 60)
    return z


def test_uniforms_are_strictly_inside_the_unit_interval():
    # The extreme words the mixer can produce map to 2^-54 and 1 - 2^-54, never 0 or 1.
    for w, expected in ((0, 2.0**-54), (_M64 - 1, 1.0 - 2.0**-54)):
        pre = _unmix64(w)
        assert int(mix64(np.uint64(pre))) == w
        key = np.uint64((pre - _GOLDEN) % _M64)  # draw j = 0 mixes key + 1 x golden
        assert uniform(key, 0) == expected
    for u in (uniforms_of_one_key(0, N), first_uniform_of_many_keys(0, N)):
        assert 0.0 < u.min() and u.max() < 1.0
    # The 32-bit halves of the extreme words: 2^-33 and 1 - 2^-33.
    assert hi_uniform(np.uint64(0)) == lo_uniform(np.uint64(0)) == 2.0**-33
    assert hi_uniform(np.uint64(_M64 - 1)) == lo_uniform(np.uint64(_M64 - 1)) == 1.0 - 2.0**-33


@pytest.mark.parametrize(
    "draws",
    [uniforms_of_one_key, first_uniform_of_many_keys, half_uniforms_of_one_key],
    ids=["one-key", "many-keys", "32-bit-halves"],
)
def test_uniforms_pass_ks_and_are_uncorrelated(draws):
    retry_test(lambda seed: stats.kstest(draws(seed, N), "uniform").pvalue, seeds=(0, 1))
    u = draws(0, N)
    # Neighbours (draw j and j+1, deal i and i+1) and seeds 0 and 1 are uncorrelated:
    # the sample correlation of independent draws has SE 1 / sqrt(n).
    for a, b in ((u[:-1], u[1:]), (u, draws(1, N))):
        assert abs(np.corrcoef(a, b)[0, 1]) < 4 / math.sqrt(a.size)


def test_seed_zero_is_a_seed():
    # seed 0 is a seed like any other (STYLE.md: SALib's ``if seed:`` made 0 mean "unseeded").
    np.testing.assert_array_equal(uniforms_of_one_key(0, 100), uniforms_of_one_key(0, 100))
    assert not np.array_equal(uniforms_of_one_key(0, 100), uniforms_of_one_key(1, 100))


# ---------------------------------------------------------------------------------------
# Transforms


def test_normal_quantile_against_ndtri():
    tails = np.logspace(-300, np.log10(0.02425), 20_001)
    u = np.concatenate([tails, np.linspace(0.02425, 0.97575, 200_001), 1.0 - tails[tails > 1e-16]])
    exact = ndtri(u)
    got = normal_quantiles(u)
    # Acklam's approximation: relative error below 1.15e-9 (absolute near the median).
    err = np.abs(got - exact) / np.maximum(np.abs(exact), 1.0)
    assert err.max() < 1.2e-9
    assert np.all(np.diff(got[np.argsort(u)]) >= 0), "the quantile must be monotone in u"


@pytest.mark.parametrize("shape", [0.3, 1.0, 1 / 0.36, 10.0])
def test_gamma_draw_ks(shape):
    retry_test(lambda seed: stats.kstest(gammas(seed, N // 2, shape), stats.gamma(shape).cdf).pvalue)


def test_gamma_draw_terminates_on_a_bad_shape():
    key = deal_key(0, 0, STREAM_DEAL, 0, 0)
    for shape in (0.0, -1.0, math.nan, math.inf):
        value, j = gamma_draw(key, 0, shape)
        assert math.isnan(value) and j == 0


# ---------------------------------------------------------------------------------------
# Beta quantile table (the per-trial PERT and Beta assumptions)

# PERT shapes span [1, 5] x [1, 5]; Beta {mean, strength} shapes from strength 2 up.
BETA_SHAPES = [
    (1.0, 1.0),
    (2.5, 3.5),
    (1.0, 5.0),
    (5.0, 1.0),
    (6.0, 14.0),
    (0.5, 0.5),
    (0.3, 3.0),
    (60.0, 40.0),
]


def beta_table_mean(a, b):
    """E[beta_unit(U)] computed exactly: trapezoids inside, the power-law tails in closed form."""
    row = beta_table(a, b)
    knots, h, e_lower, e_upper = row[: TABLE_KNOTS + 1], 1.0 / TABLE_KNOTS, row[-2], row[-1]
    middle = 0.5 * (knots[1 : TABLE_KNOTS - 1] + knots[2:TABLE_KNOTS]).sum() * h
    # int_0^h Q(h) (u / h)^e du and its mirror at 1.
    lower = knots[1] * h / (1.0 + e_lower)
    upper = h - (1.0 - knots[TABLE_KNOTS - 1]) * h / (1.0 + e_upper)
    return lower + middle + upper


@pytest.mark.parametrize("a,b", BETA_SHAPES)
def test_beta_table_mean_bias(a, b):
    # Below 5% of the Monte-Carlo standard error of the mean of the draws even at a million
    # trials (SE = 1e-3 sd): the bias of linear interpolation, ~ Q'' / (12 TABLE_KNOTS^2).
    mean, sd = stats.beta(a, b).mean(), stats.beta(a, b).std()
    assert abs(beta_table_mean(a, b) - mean) < 5e-5 * sd


@pytest.mark.parametrize("a,b", BETA_SHAPES)
def test_beta_table_is_the_quantile(a, b):
    # At the knots the table returns the quantile; everywhere it is continuous and monotone,
    # and in the outer bins it follows the power-law tails to within 5% of a bin in probability.
    row = beta_table(a, b)
    i = np.arange(1, TABLE_KNOTS)
    np.testing.assert_allclose(
        beta_table_draws(row, i / TABLE_KNOTS), stats.beta(a, b).ppf(i / TABLE_KNOTS), rtol=1e-9, atol=1e-300
    )
    u = np.sort(
        np.concatenate(
            [
                np.linspace(1e-12, 1 - 1e-12, 100_001),
                np.logspace(-12, -3, 1000),
                1 - np.logspace(-12, -3, 1000),
            ]
        )
    )
    x = beta_table_draws(row, u)
    assert np.all(np.diff(x) >= 0) and 0.0 <= x.min() and x.max() <= 1.0
    # In the tails, the error in probability is a small part of the bin it lies in.
    tails = (u < 1.0 / TABLE_KNOTS) | (u > 1.0 - 1.0 / TABLE_KNOTS)
    cdf = stats.beta(a, b).cdf(x[tails])
    assert np.max(np.abs(cdf - u[tails])) < 0.05 / TABLE_KNOTS


@pytest.mark.parametrize("a,b", [(2.5, 3.5), (0.5, 0.5), (6.0, 14.0)])
def test_beta_table_draws_ks(a, b):
    row = beta_table(a, b)
    retry_test(
        lambda seed: (
            stats.kstest(
                beta_table_draws(row, first_uniform_of_many_keys(seed, N)), stats.beta(a, b).cdf
            ).pvalue
        )
    )


# ---------------------------------------------------------------------------------------
# Lognormal quantile table


def table_mean(sigma, shift):
    """E[lognormal_unit(U)] computed exactly: the exact outer bins in closed form, the
    interpolated bins by the trapezoid rule (exact for a linear interpolant)."""
    table = lognormal_table(sigma, shift)
    knots = table[: TABLE_KNOTS + 1]
    lo, hi = TABLE_EXACT_LOW, TABLE_KNOTS - TABLE_EXACT
    middle = 0.5 * (knots[lo:hi] + knots[lo + 1 : hi + 1]).sum() / TABLE_KNOTS
    scale = math.exp(shift + 0.5 * sigma * sigma)
    # E[exp(sigma Z + shift); Z < z0] = scale * Phi(z0 - sigma)
    lower = scale * ndtr(ndtri(lo / TABLE_KNOTS) - sigma)
    upper = scale * (1.0 - ndtr(ndtri(hi / TABLE_KNOTS) - sigma))
    return lower + middle + upper


@pytest.mark.parametrize("sigma", [0.05, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5])
@pytest.mark.parametrize("mean_one", [False, True], ids=["median-one", "mean-one"])
def test_lognormal_table_mean_bias(sigma, mean_one):
    shift = -0.5 * sigma * sigma if mean_one else 0.0
    exact = math.exp(shift + 0.5 * sigma * sigma)
    assert abs(table_mean(sigma, shift) / exact - 1.0) < 2e-5


def test_table_mean_matches_the_kernels_interpolation():
    # The closed-form bookkeeping above must describe what lognormal_unit does: at a
    # knot it returns the knot, halfway it returns the knots' average, and in the outer
    # bins the exact quantile.
    sigma = 0.9
    table = lognormal_table(sigma, 0.0)
    tables = table.reshape(1, -1)
    i = np.arange(TABLE_EXACT_LOW, TABLE_KNOTS - TABLE_EXACT)
    knots = table[: TABLE_KNOTS + 1]
    np.testing.assert_allclose(table_draws(tables, i / TABLE_KNOTS), knots[i], rtol=1e-12)
    np.testing.assert_allclose(
        table_draws(tables, (i + 0.5) / TABLE_KNOTS), (knots[i] + knots[i + 1]) / 2, rtol=1e-12
    )
    outer = np.array([1e-12, 1e-4, 0.0008, 0.9925, 0.9999, 1 - 1e-12])
    z = ndtri(outer)
    # The normal quantile's error bound, 1.2e-9 x |z|, carried through exp(sigma z).
    log_err = np.abs(np.log(table_draws(tables, outer)) - sigma * z)
    assert np.all(log_err <= sigma * 1.2e-9 * np.maximum(np.abs(z), 1.0))


@pytest.mark.parametrize("sigma", [0.3, 1.5])
def test_lognormal_table_draws_ks(sigma):
    table = lognormal_table(sigma, 0.0).reshape(1, -1)
    dist = stats.lognorm(sigma)
    retry_test(
        lambda seed: stats.kstest(table_draws(table, first_uniform_of_many_keys(seed, N)), dist.cdf).pvalue
    )
