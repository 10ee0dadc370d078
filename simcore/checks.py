"""Checks of the Python API's arguments: each raises :class:`SimcoreError` naming the argument.

A notebook user who passes ``period="fortnight"`` should read what to pass instead, not an
``AttributeError`` from three calls down. (Whether a value is a Scenario is checked in the
scenario layer: :func:`simcore.scenario.load.check_scenario`.)
"""

from __future__ import annotations

import math

import numpy as np

from simcore.errors import SimcoreError

REPORTING_PERIODS = ("week", "month", "quarter")


def whole(name: str, value, minimum: int) -> int:
    """``value`` as an int, if it is a whole number (not a bool) >= ``minimum``.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
    minimum : int

    Returns
    -------
    int

    Raises
    ------
    SimcoreError
        Naming the argument, when it is not such a number.

    Examples
    --------
    >>> whole("trials", 2000, 1)
    2000
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SimcoreError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def number(name: str, value, minimum: float | None = None, maximum: float | None = None) -> float:
    """``value`` as a finite float within ``[minimum, maximum]`` (either bound optional).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
    minimum, maximum : float, optional

    Returns
    -------
    float

    Raises
    ------
    SimcoreError
        Naming the argument, when it is not such a number.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SimcoreError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise SimcoreError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and x < minimum or maximum is not None and x > maximum:
        span = (
            f"between {minimum:g} and {maximum:g}"
            if minimum is not None and maximum is not None
            else f">= {minimum:g}"
            if minimum is not None
            else f"<= {maximum:g}"
        )
        raise SimcoreError(f"{name} must be {span}, got {value!r}")
    return x


def fraction(name: str, value, example: str = "") -> float:
    """``value`` as a float strictly between 0 and 1 (a confidence, a level, a precision).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
    example : str, optional
        Appended to the message, e.g. ``", e.g. 0.005 for 0.5%"``.

    Returns
    -------
    float
    """
    x = number(name, value)
    if not 0.0 < x < 1.0:
        raise SimcoreError(f"{name} must be in (0, 1){example}, got {value!r}")
    return x


def reporting_period(period):
    """``period`` if it is None or one of :data:`REPORTING_PERIODS`.

    Parameters
    ----------
    period : str or None

    Returns
    -------
    str or None
    """
    if period is not None and period not in REPORTING_PERIODS:
        raise SimcoreError(f"period must be week, month or quarter, got {period!r}")
    return period


def dataset(value):
    """``value`` if it is a Dataset returned by :func:`simcore.engine.simulate`.

    Parameters
    ----------
    value : object

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr  # here, not at the top: a run's kernel starts before xarray is loaded

    if not isinstance(value, xr.Dataset) or "dimensions" not in value.attrs or "bookings_amount" not in value:
        raise SimcoreError(f"expected a Dataset returned by simcore.simulate, got {type(value).__name__}")
    return value


def stage_index(stages, stage) -> int:
    """The index in ``stages`` of ``stage``: a name, or an index (negative counts from the end).

    Parameters
    ----------
    stages : sequence of str
    stage : str or int

    Returns
    -------
    int

    Examples
    --------
    >>> stage_index(["Discovery", "Trial", "Negotiation"], -1)
    2
    """
    stages = [str(s) for s in stages]
    if isinstance(stage, (int, np.integer)) and not isinstance(stage, (bool, np.bool_)):
        if not -len(stages) <= stage < len(stages):
            raise SimcoreError(
                f"stage index {int(stage)} is out of range: there are {len(stages)} stages "
                f"({', '.join(stages)})"
            )
        return int(stage) % len(stages)
    if stage in stages:
        return stages.index(stage)
    raise SimcoreError(f"unknown stage {stage!r}; the stages are {', '.join(stages)}")
