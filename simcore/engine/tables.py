"""The lookup tables compiled for the kernel: lognormal quantile tables and creation-count CDFs.

Both are pure functions of a few numbers per cell; :mod:`simcore.engine.compile` builds them
and the :class:`~simcore.engine.model.Model` caches the (slow) count tables.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy.special import ndtri

from simcore.engine.kernel import NEGATIVE_BINOMIAL, TABLE_KNOTS


def lognormal_table(sigma: float, shift: float) -> np.ndarray:
    """Knots of the quantile function of ``exp(sigma * Z + shift)``, then sigma and shift.

    Knot ``i`` is the quantile at ``i / TABLE_KNOTS`` (the ends are never read: the
    kernel computes the outer bins exactly).

    Parameters
    ----------
    sigma : float
        Sigma of log amount.
    shift : float
        Mean of log amount.

    Returns
    -------
    numpy.ndarray
        ``TABLE_KNOTS + 3`` float64: the knots, then sigma and shift.
    """
    u = np.arange(TABLE_KNOTS + 1) / TABLE_KNOTS
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # sigma 0: 0 * inf at the ends
        knots = np.exp(sigma * ndtri(u) + shift)
    knots[0], knots[-1] = 0.0, 0.0
    return np.concatenate([knots, [sigma, shift]])


class _Tables:
    """Lognormal quantile tables, one per distinct (sigma, shift)."""

    def __init__(self):
        self.rows = {}

    def row(self, sigma, shift):
        key = (float(sigma), float(shift))
        if key not in self.rows:
            self.rows[key] = len(self.rows)
        return self.rows[key]

    def array(self):
        out = np.zeros((max(len(self.rows), 1), TABLE_KNOTS + 3))
        for (sigma, shift), i in self.rows.items():
            out[i] = lognormal_table(sigma, shift)
        return out


def _lognormal_sigma(cv):
    return math.sqrt(math.log1p(cv * cv))


def count_tables(rate, process, dispersion):
    """CDF of the number of deals created per (cell, week), flattened with offsets.

    ``rate`` is (cells, weeks) expected counts. Each table runs until the CDF is 1 to
    double precision, so a uniform in (0, 1) always finds its count (and is at least
    40 entries long, which the kernel's branch-free count relies on).

    Poisson CDFs are evaluated in one vectorised ``scipy.special.pdtr`` call (what
    ``scipy.stats.poisson.cdf`` computes, without building one frozen distribution per
    cell and week, which cost a second per run); negative binomial ones through
    ``scipy.stats.nbinom``, imported only when a scenario uses it (importing
    ``scipy.stats`` costs about a second too).

    Parameters
    ----------
    rate : numpy.ndarray
        (cells, weeks) expected counts.
    process : numpy.ndarray
        Per cell, ``POISSON`` or ``NEGATIVE_BINOMIAL``.
    dispersion : numpy.ndarray
        Per cell, the negative binomial size (``inf``: Poisson).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The CDFs, flattened, and the offset of each (cell, week) table in them
        (``cells x weeks + 1`` int64).
    """
    n_cells, n_weeks = rate.shape
    lam = np.maximum(np.asarray(rate, dtype=np.float64), 0.0)
    nb = np.array([process[c] == NEGATIVE_BINOMIAL and math.isfinite(dispersion[c]) for c in range(n_cells)])
    size = np.where(nb, np.asarray(dispersion, dtype=np.float64), 1.0)[:, None]
    sd = np.sqrt(np.where(nb[:, None], lam + lam * lam / size, lam))
    length = np.where(lam > 0, (lam + 40.0 * sd + 40.0).astype(np.int64), 0)
    offsets = np.concatenate([[0], np.cumsum(length.ravel())]).astype(np.int64)
    total = int(offsets[-1])
    # k = 0, 1, ... within each (cell, week) table.
    k = np.arange(total, dtype=np.float64) - np.repeat(offsets[:-1], length.ravel())
    lam_k = np.repeat(lam.ravel(), length.ravel())
    cdf = special.pdtr(k, lam_k)
    if nb.any():
        from scipy import stats  # lazily, as said above: importing it costs about a second

        cell_k = np.repeat(np.repeat(np.arange(n_cells), n_weeks), length.ravel())
        m = nb[cell_k]
        size_k = size[cell_k, 0][m]
        cdf[m] = stats.nbinom.cdf(k[m], size_k, size_k / (size_k + lam_k[m]))
    cdf[offsets[1:][length.ravel() > 0] - 1] = 1.0
    return cdf, offsets
