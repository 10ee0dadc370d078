"""The headline figures of a run, as ``simcore run`` prints them, from its figures per trial.

One computation for every way a run gets here. ``ds.simcore.summary()`` and
:func:`simcore.analysis.convergence.headline_errors` start from a Dataset's figures per trial
(:func:`simcore.engine.stream.headline`); ``simcore run`` without ``--out`` starts from the
kernel's outputs (:func:`simcore.engine.simulate.simulate_headline`) and never builds a
Dataset, so it does not import xarray and pandas (~0.4 s of one core). The same trials give
the same bits either way.

Quantiles are of the simulated distribution across trials (numpy's default linear
interpolation); ``year`` is the whole horizon.
"""

from __future__ import annotations

import numpy as np

from simcore.analysis.mcerror import distribution, figures_of

_ATTAINMENT_SUFFIX = ".creation.attainment"


def _shape(per_period: np.ndarray, periods) -> dict:
    return {
        "year": distribution(per_period.sum(axis=1)),
        "by_period": {str(p): distribution(per_period[:, i]) for i, p in enumerate(periods)},
    }


def summary(figures: dict, run: dict, target=None) -> dict:
    """The headline figures of a run, in the shape of ``simcore run --json``.

    Parameters
    ----------
    figures : dict
        Per trial: ``bookings_amount`` (trial, period) and ``created_amount`` (trial,
        period, stage) in dollars summed over cells, ``opportunities`` (trial,), and
        ``attainment`` (trial, group) when the scenario declares creation attainment: as
        :func:`simcore.engine.stream.headline` or
        :func:`simcore.engine.simulate.simulate_headline` give them.
    run : dict
        ``scenario, scenario_hash, trials, seed, version, period, currency`` (said as they
        are), ``periods`` (labels) and, with attainment, ``attainment_groups``.
    target : float, optional
        Bookings target over the horizon, in dollars.

    Returns
    -------
    dict
        As :meth:`simcore.accessor.SimcoreAccessor.summary` (without ``capacity``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> figures = {"bookings_amount": rng.random((100, 2)), "created_amount": rng.random((100, 2, 3)),
    ...            "opportunities": np.full(100, 40)}
    >>> run = {"scenario": "s", "scenario_hash": "h", "trials": 100, "seed": 0, "version": "1",
    ...        "period": "quarter", "currency": "USD", "periods": ["Q1", "Q2"]}
    >>> s = summary(figures, run, target=1.0)
    >>> s["deals_per_trial"], sorted(s["bookings"]["by_period"])
    (40.0, ['Q1', 'Q2'])
    """
    bookings = figures["bookings_amount"]
    created = figures["created_amount"]
    periods = run["periods"]
    out = {
        key: run[key]
        for key in ("scenario", "scenario_hash", "trials", "seed", "version", "period", "currency")
    }
    out["target"] = float(target) if target is not None else None
    out["p_hit"] = float((bookings.sum(axis=1) >= target).mean()) if target is not None else None
    out["deals_per_trial"] = float(np.mean(figures["opportunities"]))
    out["bookings"] = _shape(bookings, periods)
    # A stage's column, made contiguous: the same sums whatever the stride it came with.
    out["stage1_created"] = _shape(np.ascontiguousarray(created[:, :, 0]), periods)
    out["stage4_created"] = _shape(np.ascontiguousarray(created[:, :, -1]), periods)
    if "attainment" in figures:
        out["attainment"] = {
            str(g).removesuffix(_ATTAINMENT_SUFFIX): distribution(figures["attainment"][:, i])
            for i, g in enumerate(run["attainment_groups"])
        }
    return out


def errors(
    bookings: np.ndarray, periods, target=None, sampling: str = "random", trial=None, level=0.95
) -> dict:
    """Every headline figure of bookings with its Monte-Carlo error: the year and each period.

    Parameters
    ----------
    bookings : numpy.ndarray
        Bookings per trial and period (trial, period), in dollars summed over cells.
    periods : sequence of str
        The periods' labels.
    target : float, optional
        With a target, the year's ``p_hit`` too.
    sampling : {"random", "lhs", "sobol"}, default "random"
        How the run drew its trials: under ``lhs`` and ``sobol`` the errors come from the
        independent replicates of ``trial`` (:func:`simcore.analysis.mcerror.replicate_errors`).
    trial : array_like of int, optional
        The trials' indices (needed for ``lhs`` and ``sobol``).
    level : float, default 0.95
        Confidence level of the quantiles' intervals.

    Returns
    -------
    dict
        ``{"year": figures, "by_period": {period: figures}}``, each ``figures`` as
        :func:`simcore.analysis.mcerror.with_errors` returns them.

    Examples
    --------
    >>> import numpy as np
    >>> e = errors(np.ones((50, 2)) * [1.0, 2.0], ["Q1", "Q2"], target=3.0)
    >>> e["year"]["p_hit"]["value"], e["by_period"]["Q2"]["mean"]["value"]
    (1.0, 2.0)
    """
    figures = figures_of(sampling, trial, level)
    return {
        "year": figures(bookings.sum(axis=1), target),
        "by_period": {str(p): figures(bookings[:, i], None) for i, p in enumerate(periods)},
    }
