"""Streamed runs: exact per-trial headline figures, everything else reduced as it goes.

A full result keeps every output of every trial (about 24 KB a quarterly fy2026 trial, so a
million trials need 25 GB). A streamed run simulates a chunk of trials at a time and keeps,
per trial, only what the headline figures and their errors are computed from
(:data:`KEPT`: bookings and deals won by period, dollars created by period and stage,
opportunities simulated, the market factor), each computed from the chunk exactly as the
summary computes it from a full result, so the summary of a streamed run equals the full
run's bit for bit. Every other output is reduced to its mean and standard deviation over
trials (``<name>_mean``, ``<name>_sd``, over the variable's own dims without ``trial``).

The moments are computed per block of :data:`BLOCK` trials (counted from the run's first
trial) and folded block after block in trial order (Chan, Golub & LeVeque's pairwise
update), so they are the same bits for any chunking into whole blocks and any number of
Dask workers.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

BLOCK = 512
KEPT = ("bookings_amount", "bookings_count", "created_amount", "opportunities", "market_factor")


def kept_bytes(model) -> int:
    """Bytes per trial of a streamed run's :data:`KEPT` figures."""
    n, k = len(model.periods), model.n_stages
    return 8 * (2 * n + n * k + 2)


def headline(ds: xr.Dataset) -> dict:
    """The :data:`KEPT` per-trial figures of a (chunk) result, as numpy arrays."""
    acc = ds.simcore
    return {
        "bookings_amount": acc.total("bookings_amount", ("trial", "period")).values,
        "bookings_count": acc.total("bookings_count", ("trial", "period")).values,
        "created_amount": np.stack([acc.stage_created(s).values for s in range(ds.sizes["stage"])], axis=-1),
        "opportunities": ds["opportunities"].values,
        "market_factor": ds["market_factor"].values,
    }


def block_moments(ds: xr.Dataset) -> list:
    """Per block of :data:`BLOCK` trials: ``{name: (n, mean, m2)}`` of every per-trial output."""
    names = [n for n, v in ds.data_vars.items() if v.dims[:1] == ("trial",)]
    out = []
    for lo in range(0, ds.sizes["trial"], BLOCK):
        block = {}
        for name in names:
            x = np.asarray(ds[name].values[lo : lo + BLOCK], dtype=np.float64)
            mean = x.mean(axis=0)
            block[name] = (len(x), mean, ((x - mean) ** 2).sum(axis=0))
        out.append(block)
    return out


def reduce_chunk(ds: xr.Dataset) -> tuple:
    """What a chunk contributes to a streamed run: ``(headline(ds), block_moments(ds))``.

    This is what a Dask worker sends back: a few hundred bytes per trial, not the chunk.
    """
    return headline(ds), block_moments(ds)


def _fold(a, b):
    na, ma, m2a = a
    nb, mb, m2b = b
    n = na + nb
    delta = mb - ma
    return n, ma + delta * (nb / n), m2a + m2b + delta * delta * (na * nb / n)


class StreamReducer:
    """Collects chunks of a streamed run, in trial order, into one small Dataset.

    Parameters
    ----------
    trials : int
        Trials of the whole run (the kept arrays are allocated once, up front).

    Examples
    --------
    >>> sc = simcore.load_scenario("scenarios/fy2026.toml")
    >>> ds = simcore.simulate(sc, trials=600, seed=1, stream=True)
    >>> ds.sizes["trial"], "bank_amount_mean" in ds
    (600, True)
    """

    def __init__(self, trials: int):
        self.trials = trials
        self.filled = 0
        self.kept = None
        self.moments = None
        self.template = None

    def add(self, ds: xr.Dataset) -> None:
        """Add the next chunk (trials in order, starting at a multiple of :data:`BLOCK`)."""
        if self.template is None:
            self.template = ds.isel(trial=slice(0, 0))
        self.take(*reduce_chunk(ds))

    def take(self, kept: dict, moments: list, template: xr.Dataset | None = None) -> None:
        """Add the next chunk's :func:`reduce_chunk`, e.g. from a Dask worker."""
        if template is not None and self.template is None:
            self.template = template
        n = len(kept["opportunities"])
        if self.kept is None:
            self.kept = {k: np.empty((self.trials, *v.shape[1:]), v.dtype) for k, v in kept.items()}
        for k, v in kept.items():
            self.kept[k][self.filled : self.filled + n] = v
        self.filled += n
        for block in moments:
            if self.moments is None:
                self.moments = dict(block)
            else:
                self.moments = {k: _fold(self.moments[k], block[k]) for k in block}

    def dataset(self) -> xr.Dataset:
        """The streamed result: :data:`KEPT` per trial, ``<name>_mean``/``_sd`` for every output."""
        t = self.template
        trial = np.arange(t.attrs["trial_start"], t.attrs["trial_start"] + self.filled)
        cell_dims = t.simcore.dimensions
        data = {}
        for name, value in self.kept.items():
            dims = [d for d in t[name].dims if d not in cell_dims]
            data[name] = xr.Variable(dims, value[: self.filled], t[name].attrs)
        for name, (n, mean, m2) in self.moments.items():
            dims = t[name].dims[1:]
            attrs = dict(t[name].attrs)
            long_name = attrs.get("long_name", name)
            data[f"{name}_mean"] = xr.Variable(
                dims, mean, {**attrs, "long_name": f"{long_name}, mean over trials"}
            )
            sd = np.sqrt(m2 / (n - 1)) if n > 1 else np.full_like(mean, np.nan)
            data[f"{name}_sd"] = xr.Variable(dims, sd, {**attrs, "long_name": f"{long_name}, sd over trials"})
        for name, var in t.data_vars.items():
            if "trial" not in var.dims:
                data[name] = var.variable
        coords = {k: v for k, v in t.coords.items() if k != "trial"}
        out = xr.Dataset(data, coords={**coords, "trial": trial})
        out.attrs.update(t.attrs)
        out.attrs["trials"] = self.filled
        out.attrs["streamed"] = 1
        return out
