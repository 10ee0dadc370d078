"""The counter-based generator and its transforms (simcore.rng, kernel.lognormal_unit).

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
from simcore.engine.kernel import TABLE_EXACT, TABLE_KNOTS, lognormal_unit
from simcore.engine.rng import STREAM_DEAL, beta_draw, deal_key, gamma_draw, mix64, normal_quantile, uniform

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
def gammas(seed, n, shape):
    out = np.empty(n)
    for i in range(n):
        out[i], _ = gamma_draw(deal_key(seed, 0, STREAM_DEAL, 0, i), 0, shape)
    return out


@numba.njit(cache=True)
def betas(seed, n, a, b):
    out = np.empty(n)
    for i in range(n):
        out[i], _ = beta_draw(deal_key(seed, 0, STREAM_DEAL, 0, i), 0, a, b)
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
    for word, expected in ((0, 2.0**-54), (_M64 - 1, 1.0 - 2.0**-54)):
        pre = _unmix64(word)
        assert int(mix64(np.uint64(pre))) == word
        key = np.uint64((pre - _GOLDEN) % _M64)  # draw j = 0 mixes key + 1 x golden
        assert uniform(key, 0) == expected
    for u in (uniforms_of_one_key(0, N), first_uniform_of_many_keys(0, N)):
        assert 0.0 < u.min() and u.max() < 1.0


@pytest.mark.parametrize(
    "draws", [uniforms_of_one_key, first_uniform_of_many_keys], ids=["one-key", "many-keys"]
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


@pytest.mark.parametrize("a,b", [(2.0, 5.0), (0.5, 0.5), (6.0, 14.0)])
def test_beta_draw_ks(a, b):
    retry_test(lambda seed: stats.kstest(betas(seed, N // 2, a, b), stats.beta(a, b).cdf).pvalue)


# ---------------------------------------------------------------------------------------
# Lognormal quantile table


def table_mean(sigma, shift):
    """E[lognormal_unit(U)] computed exactly: the exact outer bins in closed form, the
    interpolated bins by the trapezoid rule (exact for a linear interpolant)."""
    table = lognormal_table(sigma, shift)
    knots = table[: TABLE_KNOTS + 1]
    lo, hi = TABLE_EXACT, TABLE_KNOTS - TABLE_EXACT
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
    i = np.arange(TABLE_EXACT, TABLE_KNOTS - TABLE_EXACT)
    knots = table[: TABLE_KNOTS + 1]
    np.testing.assert_allclose(table_draws(tables, i / TABLE_KNOTS), knots[i], rtol=1e-12)
    np.testing.assert_allclose(
        table_draws(tables, (i + 0.5) / TABLE_KNOTS), (knots[i] + knots[i + 1]) / 2, rtol=1e-12
    )
    outer = np.array([1e-12, 1e-4, 0.01, 0.99, 0.9999, 1 - 1e-12])
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
