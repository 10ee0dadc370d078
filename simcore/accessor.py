"""``ds.simcore``: the headline figures of a simulation, as the CLI prints them.

Quantiles are of the simulated distribution across trials (numpy's default linear
interpolation). ``year`` is the whole horizon.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

import simcore.lazydask  # noqa: F401  (before any Dataset: xarray need not import dask.array)
from simcore import checks
from simcore.analysis import headline
from simcore.engine import stream
from simcore.errors import SimcoreError


@xr.register_dataset_accessor("simcore")
class SimcoreAccessor:
    """Summary helpers on a Dataset returned by :func:`simcore.engine.simulate`."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    @property
    def dimensions(self) -> list:
        """The scenario's dimensions, e.g. ``["source", "product"]``."""
        return json.loads(self._ds.attrs["dimensions"])

    @property
    def seed(self) -> int:
        """The run's seed, as an int (the Dataset's ``seed`` attribute is text, since a netCDF
        attribute cannot hold every seed in [0, 2**64) as an integer).
        """
        return int(self._ds.attrs["seed"])

    @property
    def target(self):
        """The scenario's bookings target over the whole horizon, in dollars (the Dataset's
        ``target`` attribute), or None when the scenario has none.
        """
        return self._ds.attrs.get("target")

    def total(self, name: str, keep=("trial",)) -> xr.DataArray:
        """Variable ``name`` summed over every dim except ``keep``.

        Parameters
        ----------
        name : str
            A variable of the Dataset, e.g. ``"bookings_amount"``.
        keep : sequence of str, default ("trial",)
            Dims not summed over.

        Returns
        -------
        xarray.DataArray
            Over the ``keep`` dims that ``name`` has.

        Raises
        ------
        SimcoreError
            When the Dataset has no variable ``name``.
        """
        if name not in self._ds.data_vars:
            raise SimcoreError(
                f"no variable {name!r} in this Dataset; it has {', '.join(self._ds.data_vars)}"
            )
        da = self._ds[name]
        return da.sum([d for d in da.dims if d not in keep])

    def year_bookings(self) -> xr.DataArray:
        """Bookings (dollars) over the whole horizon, per trial.

        Returns
        -------
        xarray.DataArray
            ``bookings_amount`` summed over periods and cells, over ``trial``.
        """
        return self.total("bookings_amount")

    def p_hit(self, target=None):
        """P(bookings over the horizon >= target), or None without a target.

        Parameters
        ----------
        target : float, optional
            Bookings target in dollars (default: the scenario's, :attr:`target`).

        Returns
        -------
        float or None
            The share of trials whose bookings reach ``target``; None when there is neither
            a ``target`` argument nor a scenario target.

        Raises
        ------
        SimcoreError
            When ``target`` is not a finite number.
        """
        target = self.target if target is None else checks.number("target", target)
        if target is None:
            return None
        return float((self.year_bookings() >= target).mean())

    def stage_created(self, stage) -> xr.DataArray:
        """Dollars created in ``stage`` (a name or an index) per trial and period.

        Parameters
        ----------
        stage : str or int
            A stage name, or its index (negative counts from the end: ``-1`` is the decision
            stage).

        Returns
        -------
        xarray.DataArray
            ``created_amount`` of that stage summed over cells, over ``trial, period``.

        Raises
        ------
        SimcoreError
            When ``stage`` is not a stage name or is out of range.
        """
        da = self._ds["created_amount"]
        da = da.isel(stage=checks.stage_index(da.stage.values, stage))
        return da.sum([d for d in da.dims if d not in ("trial", "period")])

    def summary(self, target=None) -> dict:
        """The headline figures, in the shape of ``simcore run --json``.

        Parameters
        ----------
        target : float, optional
            Bookings target in dollars for ``target`` and ``p_hit`` (default: the scenario's,
            :attr:`target`).

        Returns
        -------
        dict
            ``scenario, scenario_hash, trials, seed, version, period, currency, target, p_hit,
            deals_per_trial, bookings, stage1_created, stage4_created`` (the last stage, the
            decision stage, is "stage 4"). ``bookings`` and the ``*_created`` entries are
            ``{"year": dist, "by_period": {period: dist}}`` with ``dist`` =
            ``{"mean", "p10", "p50", "p90"}`` in dollars; ``target`` and ``p_hit`` are None
            without a target. When the scenario declares ``creation.attainment``, also
            ``attainment``: ``{declaring level: dist}`` of the share of the plan delivered.

        Raises
        ------
        SimcoreError
            When ``target`` is not a finite number.
        """
        target = self.target if target is None else checks.number("target", target)
        return {**headline.summary(self.figures(), self._run(), target), **self._capacity_summary()}

    def figures(self) -> dict:
        """The headline figures per trial: what :meth:`summary` and the Monte-Carlo errors of
        ``simcore run`` are made of (:func:`simcore.engine.stream.headline`).

        Returns
        -------
        dict
            ``bookings_amount`` (trial, period) and ``created_amount`` (trial, period, stage)
            in dollars summed over cells, ``opportunities`` (trial,), and ``attainment``
            (trial, group) when the scenario declares creation attainment: numpy arrays.
        """
        return stream.headline(self._ds, ("bookings_amount", "created_amount", "opportunities"))

    def _run(self) -> dict:
        """What the summary says of the run, from the Dataset's attrs and coords."""
        ds = self._ds
        return {
            "scenario": ds.attrs["scenario"],
            "scenario_hash": ds.attrs["scenario_hash"],
            "trials": int(ds.sizes["trial"]),
            "seed": self.seed,
            "version": ds.attrs["simcore_version"],
            "period": ds.attrs["period"],
            "currency": ds.attrs["currency"],
            "periods": [str(p) for p in ds["period"].values],
            "trial": ds["trial"].values,
            "sampling": ds.attrs.get("sampling", "random"),
            "attainment_groups": [str(g) for g in ds["attainment_group"].values]
            if "attainment" in ds
            else [],
        }

    def _capacity_summary(self) -> dict:
        """``{"capacity": ...}`` when the scenario has ``[capacity]``: creation needed against
        available by period and role, and the open deals simulated against what the carrying
        roles can carry (P50 and P90 of the trials).
        """
        ds = self._ds
        if "capacity" not in ds.attrs:
            return {}
        report = json.loads(ds.attrs["capacity"])
        if report["carrying"] and "bank_count" in ds:
            open_deals = ds["bank_count"].sum(
                [d for d in ds["bank_count"].dims if d not in ("trial", "period")]
            )
            for row in report["carrying"]:
                n = open_deals.sel(period=row["period"]).values
                row["needed_p50"], row["needed_p90"] = (float(q) for q in np.quantile(n, [0.5, 0.9]))
                row["binding"] = row["needed_p90"] > row["available"]
        return {"capacity": report}

    # Charts live in simcore.plots; importing it here, lazily, keeps matplotlib out of
    # `import simcore` for users who never draw.
    def plot_fan(self, **kwargs):
        """Bookings fan chart: :func:`simcore.report.plots.fan_chart` (returns a Figure).

        Parameters
        ----------
        **kwargs
            Passed to :func:`simcore.report.plots.fan_chart`: ``cumulative`` (bool, default True:
            bookings to date rather than per period) and ``target`` (float, optional: dollars,
            default the scenario's).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from simcore.report.plots import fan_chart

        return fan_chart(self._ds, **kwargs)

    def plot_distribution(self, **kwargs):
        """Histogram and CDF of annual bookings: :func:`simcore.report.plots.bookings_distribution`.

        Parameters
        ----------
        **kwargs
            Passed to :func:`simcore.report.plots.bookings_distribution`: ``target`` (float,
            optional: dollars, default the scenario's) and ``bins`` (int, default 50).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from simcore.report.plots import bookings_distribution

        return bookings_distribution(self._ds, **kwargs)

    def plot_bank(self, **kwargs):
        """Bank by forecast category over time: :func:`simcore.report.plots.bank_by_category`.

        Parameters
        ----------
        **kwargs
            Passed to :func:`simcore.report.plots.bank_by_category`: ``measure`` (``"amount"``, the
            default, or ``"count"``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from simcore.report.plots import bank_by_category

        return bank_by_category(self._ds, **kwargs)

    def plot_waterfall(self, needed, **kwargs):
        """Stage-4 creation by period against ``needed`` dollars: :func:`simcore.report.plots.creation_waterfall`.

        Parameters
        ----------
        needed : float or sequence of float
            Dollars the plan needs created over the horizon, or one figure per period.
        **kwargs
            Passed to :func:`simcore.report.plots.creation_waterfall`: ``stage`` (str or int,
            optional: default the decision stage, "stage 4") and ``target_label`` (str,
            default ``"Plan needs"``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from simcore.report.plots import creation_waterfall

        return creation_waterfall(self._ds, needed, **kwargs)
