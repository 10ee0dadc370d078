"""Time: continuous days from the plan's start, and the reporting periods over them.

Day ``d`` is the calendar date ``start + d``. A period is a half-open range of days
``[first, last + 1)`` clipped to the horizon. Labels are the users' words:
``2026-Q1``, ``2026-03``, and the start date of a week. Fiscal quarters of a year
that does not start in January are labelled ``FY2027-Q1``, the fiscal year named by
the calendar year it ends in (the common US convention).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where arrays are made: `simcore validate` needs none
    import numpy as np

from simcore.errors import SimcoreError


@dataclass(frozen=True)
class Periods:
    """Reporting periods over a horizon.

    Attributes
    ----------
    kind : str
        ``week``, ``month``, ``quarter`` or ``year``.
    labels : list of str
        One label per period, e.g. ``2026-Q1``.
    start_day : numpy.ndarray
        ``n + 1`` boundaries in days from the plan start; the last is the horizon.
    full_days : numpy.ndarray
        Calendar length of each period before clipping to the horizon, in days.
    """

    kind: str
    labels: list
    start_day: np.ndarray
    full_days: np.ndarray

    def __len__(self):
        return len(self.labels)

    def of_day(self, horizon_days: int) -> np.ndarray:
        """Period index of every whole day of the horizon (int32, length ``horizon_days``)."""
        import numpy as np  # lazily: `simcore validate` (which makes no arrays) need not load it

        out = np.empty(horizon_days, dtype=np.int32)
        for i in range(len(self.labels)):
            out[int(self.start_day[i]) : int(self.start_day[i + 1])] = i
        return out


def _month_start(d: _dt.date) -> _dt.date:
    return d.replace(day=1)


def _add_months(d: _dt.date, n: int) -> _dt.date:
    m = d.month - 1 + n
    return d.replace(year=d.year + m // 12, month=m % 12 + 1, day=1)


def _period_start(d: _dt.date, kind: str, fy_month: int) -> _dt.date:
    if kind == "month":
        return _month_start(d)
    if kind in ("quarter", "year"):
        months = 3 if kind == "quarter" else 12
        offset = (d.month - fy_month) % months
        return _add_months(_month_start(d), -offset)
    raise ValueError(kind)


def _label(first: _dt.date, kind: str, fy_month: int) -> str:
    if kind == "week":
        return first.isoformat()
    if kind == "month":
        return f"{first.year}-{first.month:02d}"
    fiscal_year = (
        first.year if fy_month == 1 else _add_months(first, 12 - (first.month - fy_month) % 12 - 1).year
    )
    prefix = str(fiscal_year) if fy_month == 1 else f"FY{fiscal_year}"
    if kind == "year":
        return prefix
    quarter = (first.month - fy_month) % 12 // 3 + 1
    return f"{prefix}-Q{quarter}"


def periods(start: _dt.date, horizon_days: int, kind: str, fiscal_year_start_month: int = 1) -> Periods:
    """The reporting periods of ``kind`` covering ``horizon_days`` days from ``start``.

    Weeks run in 7-day steps from ``start``; months, quarters and (fiscal) years
    follow the calendar, so the first and last may be partial.

    Examples
    --------
    >>> import datetime
    >>> p = periods(datetime.date(2026, 1, 1), 365, "quarter")
    >>> p.labels
    ['2026-Q1', '2026-Q2', '2026-Q3', '2026-Q4']
    """
    import numpy as np  # lazily: `simcore validate` counts periods (period_count) but makes none

    labels, bounds, full = _walk(start, horizon_days, kind, fiscal_year_start_month)
    return Periods(kind, labels, np.asarray(bounds, dtype=np.float64), np.asarray(full, dtype=np.float64))


def period_count(start: _dt.date, horizon_days: int, kind: str, fiscal_year_start_month: int = 1) -> int:
    """``len(periods(start, horizon_days, kind, fiscal_year_start_month))``, without its arrays.

    Examples
    --------
    >>> import datetime
    >>> period_count(datetime.date(2026, 1, 1), 365, "month")
    12
    """
    return len(_walk(start, horizon_days, kind, fiscal_year_start_month)[0])


def _walk(start, horizon_days, kind, fiscal_year_start_month) -> tuple:
    """The labels, ``n + 1`` boundaries (days) and calendar lengths of :func:`periods`, as lists."""
    bounds = [0]
    labels = []
    full = []
    day = 0
    while day < horizon_days:
        date = start + _dt.timedelta(days=day)
        if kind == "week":
            first, nxt = date, date + _dt.timedelta(days=7)
        else:
            first = _period_start(date, kind, fiscal_year_start_month)
            step = {"month": 1, "quarter": 3, "year": 12}[kind]
            nxt = _add_months(first, step)
        labels.append(_label(first, kind, fiscal_year_start_month))
        full.append((nxt - first).days)
        day = min((nxt - start).days, horizon_days)
        bounds.append(day)
    return labels, bounds, full


def month_of_day(start: _dt.date, horizon_days: int) -> np.ndarray:
    """Calendar month (0 = January) of every day of the horizon."""
    import numpy as np  # lazily, as above

    out = np.empty(horizon_days, dtype=np.int64)
    for d in range(horizon_days):
        out[d] = (start + _dt.timedelta(days=d)).month - 1
    return out


def as_date(value, what: str = "date") -> _dt.date:
    """A date from a ``date``, a ``datetime`` (a pandas ``Timestamp`` too) or ISO text.

    Parameters
    ----------
    value : date, datetime or str
    what : str
        The argument's name, for the error.

    Returns
    -------
    datetime.date

    Raises
    ------
    SimcoreError
        When ``value`` is not a date.

    Examples
    --------
    >>> as_date("2026-05-15"), as_date(_dt.datetime(2026, 5, 15, 9, 30))
    (datetime.date(2026, 5, 15), datetime.date(2026, 5, 15))
    >>> as_date("15/05/2026", "as_of")
    Traceback (most recent call last):
    ...
    simcore.errors.SimcoreError: as_of '15/05/2026' is not a date (YYYY-MM-DD)
    """
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise SimcoreError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None
