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

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # xarray is imported when a Dataset is built (start-up speed)
    import xarray as xr

from simcore.variables import attrs_of, dims_of

BLOCK = 512
KEPT = ("bookings_amount", "bookings_count", "created_amount", "opportunities", "market_factor")
KEPT_DIMS = {
    "bookings_amount": ("period",),
    "bookings_count": ("period",),
    "created_amount": ("period", "stage"),
    "opportunities": (),
    "market_factor": (),
    "attainment": ("attainment_group",),  # kept when the scenario declares creation.attainment
}
# The kernel's raw outputs, in ``_Outputs.arrays`` order.
RAW = ("flow_amt", "flow_cnt", "bank_amt", "bank_cnt", "cohort_amt", "cycle_hist", "drawn", "market")


def kept_bytes(model) -> int:
    """Bytes per trial of a streamed run's :data:`KEPT` figures."""
    n, k = len(model.periods), model.n_stages
    return 8 * (2 * n + n * k + 2 + len(model.attain_names))


def cell_totals(values, keep: int = 2) -> np.ndarray:
    """``values`` summed over every axis after its first ``keep`` (the cells, in order).

    One sum for every way a run's headline figures are made (from a Dataset, from a chunk,
    from the kernel's outputs): a C-ordered copy, then numpy's sum over its last axis, so the
    same values give the same bits whatever the memory layout they came in (numpy's sum
    over a strided axis can take another order).

    Parameters
    ----------
    values : array_like
        ``(trial, period, ..., cell axes)``: the cells last, in the scenario's order.
    keep : int, default 2
        Leading axes kept.

    Returns
    -------
    numpy.ndarray
        Over the ``keep`` leading axes.

    Examples
    --------
    >>> cell_totals(np.arange(12.0).reshape(1, 2, 2, 3)).tolist()
    [[15.0, 51.0]]
    """
    a = np.ascontiguousarray(values)
    if a.ndim == keep:
        return a.copy()
    return a.reshape(a.shape[:keep] + (-1,)).sum(axis=-1)


def _total(da: xr.DataArray, keep) -> np.ndarray:
    # The cells last, in the scenario's order: the sum simcore.engine.simulate.kept_figures
    # makes of the kernel's outputs.
    return cell_totals(da.transpose(*keep, ...).values, len(keep))


def headline(ds: xr.Dataset, names=KEPT) -> dict:
    """The :data:`KEPT` per-trial figures of a (chunk) result, as numpy arrays: the figures
    ``ds.simcore.summary()`` is made of, and that a streamed run keeps.

    Parameters
    ----------
    ds : xarray.Dataset
        A full result, a chunk of one, or a streamed result.
    names : sequence of str, default :data:`KEPT`
        The figures wanted; ``attainment`` is added when ``ds`` has it.

    Returns
    -------
    dict
        ``name -> array`` over ``("trial", *KEPT_DIMS[name])``.
    """
    names = [*names, *(["attainment"] if "attainment" in ds and "attainment" not in names else [])]
    return {name: _total(ds[name], ("trial", *KEPT_DIMS[name])) for name in names}


def block_moments(out, n: int) -> list:
    """Per block of :data:`BLOCK` trials of the kernel outputs ``out`` (its first ``n``
    trials): ``{output: (trials, mean, m2)}`` of every raw output array.

    The raw arrays are contiguous, so a block is one strided pass per array; the Dataset's
    variables are selections of them, so their moments are the same selections of these.
    """
    result = []
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        block = {}
        for name, array in zip(RAW, out.arrays(lo, hi)[: len(RAW)]):
            x = array.reshape(hi - lo, -1)
            mean = x.mean(axis=0, dtype=np.float64)
            block[name] = (hi - lo, mean, np.square(x - mean).sum(axis=0))
        result.append(block)
    return result


def reduce_chunk(out, n: int, ds: xr.Dataset) -> tuple:
    """What a chunk contributes to a streamed run: ``(headline(ds), block_moments(out, n))``.

    This is what a Dask worker sends back: a few hundred bytes per trial, not the chunk.
    """
    return headline(ds), block_moments(out, n)


def _fold(a, b):
    na, ma, m2a = a
    nb, mb, m2b = b
    n = na + nb
    delta = mb - ma
    return n, ma + delta * (nb / n), m2a + m2b + delta * delta * (na * nb / n)


class _Moments:
    """Outputs-like holder of one row of per-output statistics, for ``build_dataset``."""

    def __init__(self, shapes: dict, values: dict):
        for name in RAW:
            setattr(self, name, values[name].reshape((1, *shapes[name])))

    def arrays(self, lo, hi):
        return tuple(getattr(self, name)[lo:hi] for name in RAW)


class StreamReducer:
    """Collects chunks of a streamed run, in trial order, into one small Dataset.

    Parameters
    ----------
    model : Model
        The compiled model the chunks were simulated from.
    trials : int
        Trials of the whole run (the kept arrays are allocated once, up front).
    seed, trial_start : int
    sampling : str

    Examples
    --------
    >>> import simcore
    >>> sc = simcore.load_scenario("scenarios/fy2026.toml")
    >>> ds = simcore.simulate(sc, trials=600, seed=1, stream=True)
    >>> ds.sizes["trial"], "bank_amount_mean" in ds
    (600, True)
    """

    def __init__(self, model, trials: int, seed: int, trial_start: int, sampling: str):
        self.model, self.trials, self.seed, self.trial_start, self.sampling = (
            model,
            trials,
            seed,
            trial_start,
            sampling,
        )
        self.filled = 0
        self.kept = None
        self.moments = None
        self.shapes = None

    def add(self, out, n: int, ds: xr.Dataset) -> None:
        """Add the next chunk: the first ``n`` trials of the outputs ``out``, labelled as ``ds``."""
        self.take(*reduce_chunk(out, n, ds))

    def take(self, kept: dict, moments: list) -> None:
        """Add the next chunk's :func:`reduce_chunk`, e.g. from a Dask worker."""
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
        # At call time: simulate imports this module (its runs hand their chunks to it).
        from simcore.engine.simulate import _Outputs, build_dataset, load_xarray

        xr = load_xarray()  # loaded while a run's kernel goes (start-up speed)

        shapes = {name: a.shape[1:] for name, a in zip(RAW, _Outputs(self.model, 1).arrays(0, 1))}
        n = self.filled
        mean = {k: m for k, (_, m, _) in self.moments.items()}
        sd = {
            k: np.sqrt(m2 / (c - 1)) if c > 1 else np.full_like(m2, np.nan)
            for k, (c, _, m2) in self.moments.items()
        }
        args = (self.model, self.seed, self.trial_start, self.sampling)
        means = build_dataset(args[0], _Moments(shapes, mean), *args[1:]).isel(trial=0, drop=True)
        sds = build_dataset(args[0], _Moments(shapes, sd), *args[1:]).isel(trial=0, drop=True)
        opportunities = self.kept["opportunities"][:n]
        means["opportunities"] = opportunities.mean()
        sds["opportunities"] = opportunities.std(ddof=1) if n > 1 else np.nan
        data = {}
        for name, value in self.kept.items():
            attrs = means[name].attrs if name in means else attrs_of(name, self.model.scenario.currency)
            data[name] = xr.Variable(("trial", *KEPT_DIMS[name]), value[:n], attrs)
        extra = {}
        if "attainment" in self.kept:
            extra["attainment_group"] = list(self.model.attain_names)
            data["attainment_drawn"] = xr.Variable(
                ("attainment_group",), self.model.attain_kind != 0, attrs_of("attainment_drawn", "")
            )
        cell_dims = list(self.model.scenario.dimensions)
        per_trial = [name for name in means.data_vars if "trial" in dims_of(name, cell_dims)]
        for name in per_trial:
            attrs = means[name].attrs
            long_name = attrs.get("long_name", name)
            data[f"{name}_mean"] = means[name].variable.copy(data=np.asarray(means[name].values, np.float64))
            data[f"{name}_mean"].attrs = {**attrs, "long_name": f"{long_name}, mean over trials"}
            data[f"{name}_sd"] = sds[name].variable.copy(data=np.asarray(sds[name].values, np.float64))
            data[f"{name}_sd"].attrs = {**attrs, "long_name": f"{long_name}, sd over trials"}
        for name, var in means.data_vars.items():
            if name not in per_trial:
                data[name] = var.variable
        trial = np.arange(self.trial_start, self.trial_start + n)
        out = xr.Dataset(data, coords={**means.coords, **extra, "trial": trial})
        out.attrs.update(means.attrs)
        out.attrs.update({"trials": n, "trial_start": self.trial_start, "streamed": 1})
        return out
