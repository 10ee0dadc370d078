"""``ds.simcore``: the headline figures of a simulation, as the CLI prints them.

Quantiles are of the simulated distribution across trials (numpy's default linear
interpolation). ``year`` is the whole horizon.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

QUANTILES = {"p10": 0.10, "p50": 0.50, "p90": 0.90}


def distribution(values) -> dict:
    """``{"mean", "p10", "p50", "p90"}`` of a 1-D array of per-trial values."""
    v = np.asarray(values, dtype=np.float64)
    q = np.quantile(v, list(QUANTILES.values()))
    return {"mean": float(v.mean()), **{k: float(x) for k, x in zip(QUANTILES, q)}}


@xr.register_dataset_accessor("simcore")
class SimcoreAccessor:
    """Summary helpers on a Dataset returned by :func:`simcore.simulate`."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    @property
    def dimensions(self) -> list:
        """The scenario's dimensions, e.g. ``["source", "product"]``."""
        return json.loads(self._ds.attrs["dimensions"])

    @property
    def target(self):
        return self._ds.attrs.get("target")

    def total(self, name: str, keep=("trial",)) -> xr.DataArray:
        """Variable ``name`` summed over every dim except ``keep``."""
        da = self._ds[name]
        return da.sum([d for d in da.dims if d not in keep])

    def year_bookings(self) -> xr.DataArray:
        """Bookings (dollars) over the whole horizon, per trial."""
        return self.total("bookings_amount")

    def p_hit(self, target=None):
        """P(bookings over the horizon >= target), or None without a target."""
        target = self.target if target is None else target
        if target is None:
            return None
        return float((self.year_bookings() >= target).mean())

    def stage_created(self, stage) -> xr.DataArray:
        """Dollars created in ``stage`` (a name or an index) per trial and period."""
        da = self._ds["created_amount"]
        da = da.isel(stage=stage) if isinstance(stage, int) else da.sel(stage=stage)
        return da.sum([d for d in da.dims if d not in ("trial", "period")])

    def _shape(self, per_period: xr.DataArray) -> dict:
        return {
            "year": distribution(per_period.sum("period").values),
            "by_period": {str(p): distribution(per_period.sel(period=p).values)
                          for p in per_period.period.values},
        }

    def summary(self, target=None) -> dict:
        """The headline figures, in the shape of ``simcore run --json``.

        Returns
        -------
        dict
            ``scenario, trials, seed, version, target, p_hit, deals_per_trial, bookings,
            stage1_created, stage4_created`` (the last decision stage is "stage 4").
        """
        ds = self._ds
        target = self.target if target is None else target
        bookings = self.total("bookings_amount", ("trial", "period"))
        return {
            "scenario": ds.attrs["scenario"],
            "scenario_hash": ds.attrs["scenario_hash"],
            "trials": int(ds.sizes["trial"]),
            "seed": int(ds.attrs["seed"]),
            "version": ds.attrs["simcore_version"],
            "period": ds.attrs["period"],
            "currency": ds.attrs["currency"],
            "target": float(target) if target is not None else None,
            "p_hit": self.p_hit(target),
            "deals_per_trial": float(ds["opportunities"].mean()),
            "bookings": self._shape(bookings),
            "stage1_created": self._shape(self.stage_created(0)),
            "stage4_created": self._shape(self.stage_created(-1)),
        }

    # Charts live in simcore.plots; importing it here, lazily, keeps matplotlib out of
    # `import simcore` for users who never draw.
    def plot_fan(self, **kwargs):
        """Bookings fan chart: :func:`simcore.plots.fan_chart` (returns a Figure)."""
        from .plots import fan_chart

        return fan_chart(self._ds, **kwargs)

    def plot_distribution(self, **kwargs):
        """Histogram and CDF of annual bookings: :func:`simcore.plots.bookings_distribution`."""
        from .plots import bookings_distribution

        return bookings_distribution(self._ds, **kwargs)

    def plot_bank(self, **kwargs):
        """Bank by forecast category over time: :func:`simcore.plots.bank_by_category`."""
        from .plots import bank_by_category

        return bank_by_category(self._ds, **kwargs)

    def plot_waterfall(self, needed, **kwargs):
        """Stage-4 creation by period against ``needed`` dollars: :func:`simcore.plots.creation_waterfall`."""
        from .plots import creation_waterfall

        return creation_waterfall(self._ds, needed, **kwargs)
