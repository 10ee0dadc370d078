"""Fuzzing the as-of forecast's inputs: an export's rows with hostile values in every column.

Each generated export must either be refused with problems naming the file (and, for a row's
value, its line and column), or forecast (two trials) to finite figures: never a traceback,
never a silent NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simcore
from simcore.forecast.forecast import forecast

HEADER = "Id,CreatedDate,StageName,Amount,CloseDate,IsClosed,IsWon,LeadSource,Product__c"
GOOD = [
    "A,2026-01-10,Discovery,20000,2026-06-01,false,false,inbound,Pro",
    "B,2026-02-03,Negotiation,8000,2026-03-20,false,false,outbound,Starter",
    "C,2026-01-05,Closed Won,9000,2026-02-20,true,true,partner,Starter",
    "D,2025-11-05,Closed Lost,9000,2026-03-02,true,false,partner,Pro",
]
VALUES = {
    0: st.sampled_from(["A", "", "A", "x" * 300, "é", "1"]),
    1: st.sampled_from(["2026-01-10", "", "2027-01-01", "13/13/2026", "1/5/2026", "yesterday", "2026-02-30"]),
    2: st.sampled_from(["Discovery", "Trial", "Closed Won", "Closed Lost", "", "Contracting", "negotiation"]),
    3: st.sampled_from(
        ["20000", "", "-5", "0", "1e400", "nan", "$1,000.50", "9e12", "abc", "1.7e308", "-inf"]
    ),
    4: st.sampled_from(["2026-06-01", "", "2025-01-01", "2026-03-01", "not a date"]),
    5: st.sampled_from(["true", "false", "", "maybe"]),
    6: st.sampled_from(["true", "false", ""]),
    7: st.sampled_from(["inbound", "webinar", ""]),
    8: st.sampled_from(["Pro", "Starter", "Enterprise", ""]),
}


@st.composite
def exports(draw):
    rows = [row.split(",") for row in GOOD]
    for _ in range(draw(st.integers(1, 4))):
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, 8))
        rows[r][c] = draw(VALUES[c])
    return "\n".join([HEADER] + [",".join(r) for r in rows]) + "\n"


@pytest.fixture(scope="module")
def smb():
    return simcore.load_scenario("scenarios/smb.toml")


def _check(tmp_path, smb, text, as_of):
    path = tmp_path / "crm.csv"
    path.write_text(text, encoding="utf-8")
    try:
        f = forecast(smb, path, as_of, trials=2, seed=1, progress=False, baseline=None)
    except simcore.ScenarioError as exc:
        assert exc.problems and all(str(path) in str(p) for p in exc.problems), exc.problems
        return
    except simcore.SimcoreError as exc:
        assert str(exc)
        return
    year = f.dataset.bookings_amount.values
    assert np.isfinite(year).all() and math.isfinite(f.year["actual"])
    assert np.isfinite(f.dataset.created_amount.values).all()


AS_OF = st.sampled_from(["2026-03-05", "2026-01-01", "2026-02-25"])
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MANY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FAST
@given(text=exports(), as_of=AS_OF)
def test_hostile_exports_are_refused_clearly_or_forecast_finite(tmp_path, smb, text, as_of):
    _check(tmp_path, smb, text, as_of)


@pytest.mark.slow
@MANY
@given(text=exports(), as_of=AS_OF)
def test_hostile_exports_many(tmp_path, smb, text, as_of):
    _check(tmp_path, smb, text, as_of)
