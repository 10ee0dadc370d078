"""Counter-based random numbers: every draw is a pure function of its coordinates.

A draw comes from ``word(key, j)``: the key names one opportunity (or one trial's
assumptions, or one cell's counts) and ``j`` counts the 64-bit words drawn for it. A word is
either one 53-bit uniform (:func:`uniform`, for the per-trial assumptions and the rare draws)
or two 32-bit uniforms (:func:`hi_uniform`, :func:`lo_uniform`: the two uniforms of a deal's
event, its dwell and its outcome, cost one mix). Nothing depends on which thread ran it, in which order, or
which other deals exist, so results are the same bits for any thread count and any
split of trials, and changing one cell's volume leaves every other draw alone
(common random numbers, docs/model.md "Randomness").

The mixer is SplitMix64's finaliser (Steele, Lea & Flood 2014), a bijection on
64-bit words with full avalanche; the per-key sequence ``mix64(key + (j+1)*golden)``
is exactly the SplitMix64 stream started at ``key``, which passes BigCrush.
Keys are built by chaining the mixer over the coordinates.
"""

from __future__ import annotations

import math

import numpy as np

from simcore.engine._jit import jit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_TWO_M53 = 1.0 / 9007199254740992.0
_TWO_M32 = 1.0 / 4294967296.0
_LOW32 = np.uint64(0xFFFFFFFF)

# Streams: which kind of quantity a key belongs to.
STREAM_DEAL = 1  # a newly created opportunity: a = cell, b = week << 32 | k
STREAM_COUNT = 2  # the number created in one cell and week: a = cell, b = week
STREAM_BANK = 3  # an opportunity of the starting bank: a = 0, b = bank index
STREAM_PARAM = 4  # a trial's drawn assumptions: a = cell, draw j = parameter slot
STREAM_MARKET = 5  # the market factor of a trial: a = 0, draw 0
STREAM_ATTAINMENT = 6  # a trial's creation attainment: a = the group's key, draw 0
STREAM_COMPONENT_COUNT = 7  # a creation component's counts: a = key << 16 | cell, b = week
STREAM_COMPONENT_DEAL = 8  # a creation component's new deal: a = key << 16 | cell, b = week << 32 | k


@jit
def mix64(z):
    """SplitMix64 finaliser: a bijective 64-bit mixer."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit
def trial_key(seed, trial):
    """The first two links of :func:`deal_key`'s chain: shared by every key of a trial."""
    return mix64(mix64(np.uint64(seed) ^ _GOLDEN) ^ np.uint64(trial))


@jit
def stream_key(trial_k, stream, a):
    """The third link of :func:`deal_key`'s chain: shared by every key of a (trial, stream, a)."""
    return mix64(trial_k ^ ((np.uint64(stream) << _S32) | np.uint64(a)))


@jit
def deal_key(seed, trial, stream, a, b):
    """The key of one random sequence, from its coordinates (all non-negative ints).

    Equal to ``mix64(stream_key(trial_key(seed, trial), stream, a) ^ b)``: the hot
    loops hoist the first three links out and pay one mix per key.
    """
    return mix64(stream_key(trial_key(seed, trial), stream, a) ^ np.uint64(b))


@jit
def word(key, j):
    """Word ``j`` of sequence ``key``: 64 random bits (the SplitMix64 stream started at ``key``)."""
    return mix64(key + np.uint64(j + 1) * _GOLDEN)


@jit
def uniform(key, j):
    """Word ``j`` of sequence ``key`` as one double in the open interval (0, 1), 53 bits."""
    return (float(word(key, j) >> _S11) + 0.5) * _TWO_M53


@jit(inline="always")
def hi_uniform(z):
    """The high 32 bits of word ``z`` as a double in (0, 1): ``(n + 0.5) / 2**32``."""
    return (float(z >> _S32) + 0.5) * _TWO_M32


@jit(inline="always")
def lo_uniform(z):
    """The low 32 bits of word ``z`` as a double in (0, 1): ``(n + 0.5) / 2**32``."""
    return (float(z & _LOW32) + 0.5) * _TWO_M32


# Acklam's rational approximation of the standard normal quantile (relative error
# below 1.2e-9): one uniform per normal keeps draws monotone in u, which keeps the
# coupling between scenarios tight, and it is cheaper than Box-Muller.
_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


@jit
def normal_quantile(u):
    """Standard normal quantile of ``u`` in (0, 1)."""
    if u < 0.02425:
        q = math.sqrt(-2.0 * math.log(u))
        return (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    if u > 0.97575:
        q = math.sqrt(-2.0 * math.log1p(-u))
        return -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    q = u - 0.5
    r = q * q
    return (
        (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
        * q
        / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    )


@jit
def gamma_draw(key, j, shape):
    """A Gamma(shape, 1) variate from sequence ``key`` starting at draw ``j``.

    Marsaglia & Tsang (2000), with the ``shape < 1`` boost ``G(a+1) * U**(1/a)``.
    Rejection uses a variable number of draws; they are still a pure function of
    (key, j), which is all reproducibility needs. Returns ``(value, next_j)``. A shape
    that is not a positive finite number (validation keeps it out) gives NaN at once
    rather than a loop that never accepts.
    """
    if not (shape > 0.0 and shape < math.inf):
        return math.nan, j
    boost = 1.0
    a = shape
    if a < 1.0:
        boost = uniform(key, j) ** (1.0 / a)
        j += 1
        a += 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal_quantile(uniform(key, j))
        j += 1
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(key, j)
        j += 1
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost, j
