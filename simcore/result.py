"""The common base of simcore's result classes.

A result is a dataclass read by attribute (``r.retire_multiple``), like SciPy's
``OptimizeResult``; this base gives every one the same two ways out:

- :meth:`Result.to_dict`: plain, JSON-ready (what ``--json`` prints): every field shown in
  the repr (per-trial arrays kept for plots are not), dataclasses as dicts, dates as ISO
  text, NaN and infinities as ``None``;
- :meth:`Result.to_dataframe`: the result's main table as a :class:`pandas.DataFrame`
  (pandas comes with xarray), one row per record of the field named by ``_table``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt

import pandas as pd

from simcore.format import json_safe


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value


class Result:
    """Base of the result dataclasses: :meth:`to_dict` and :meth:`to_dataframe`.

    Examples
    --------
    >>> @dataclasses.dataclass
    ... class Example(Result):
    ...     _table = "rows"
    ...     total: float
    ...     rows: list
    >>> r = Example(float("inf"), [{"name": "a", "x": 1.0}, {"name": "b", "x": 2.0}])
    >>> r.to_dict()
    {'total': None, 'rows': [{'name': 'a', 'x': 1.0}, {'name': 'b', 'x': 2.0}]}
    >>> r.to_dataframe()
      name    x
    0    a  1.0
    1    b  2.0
    """

    #: Name of the field :meth:`to_dataframe` tabulates (a list of records, or a dict of them).
    _table = ""

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of the fields shown in the repr.

        Returns
        -------
        dict
        """
        return json_safe({f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.repr})

    def _records(self):
        """The records of :meth:`to_dataframe`: a list of dicts, or ``{row name: dict}``."""
        return _plain(getattr(self, self._table))

    def to_dataframe(self) -> pd.DataFrame:
        """The result's main table, one row per record; nested figures become columns
        named ``outer.inner``.

        Returns
        -------
        pandas.DataFrame
        """
        records = self._records()
        if isinstance(records, dict):
            frame = pd.json_normalize(list(records.values()))
            frame.index = pd.Index(list(records), name="name")
            return frame
        return pd.json_normalize(records)
