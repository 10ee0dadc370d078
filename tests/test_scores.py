"""Forecast scores against closed forms: CRPS of a normal, uniform PITs, interval coverage."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import retry_test
from scipy import stats

from simcore.errors import SimcoreError
from simcore.forecast.scores import crps, crps_normal, interval_hit, pit, point_scores, uniformity


@pytest.mark.parametrize("y", [-2.0, 0.0, 0.7, 3.0])
def test_crps_of_a_normal_sample_is_the_closed_form(y):
    rng = np.random.default_rng(11)
    n, reps = 2000, 200
    x = rng.normal(1.0, 2.0, size=(reps, n))
    got = crps(x, y)
    # The sample estimate is biased by E|X - X'| / (2n) (the V-statistic); allow for it and 4 SE.
    bias = (2 * 2.0 / np.sqrt(np.pi)) / (2 * n)  # E|X - X'| = 2 sigma / sqrt(pi)
    se = got.std(ddof=1) / np.sqrt(reps)
    assert abs(got.mean() - crps_normal(1.0, 2.0, y) - bias) < 4 * se


def test_crps_sorted_form_equals_the_pairwise_definition():
    rng = np.random.default_rng(2)
    x = rng.gamma(2.0, 3.0, size=(5, 300))
    y = rng.gamma(2.0, 3.0, size=5)
    pairwise = np.abs(x - y[:, None]).mean(1) - 0.5 * np.abs(x[:, :, None] - x[:, None, :]).mean((1, 2))
    np.testing.assert_allclose(crps(x, y), pairwise, rtol=1e-12, atol=1e-9)


def test_crps_of_a_point_is_the_absolute_error():
    assert crps(np.full(50, 7.0), 10.0)[0] == pytest.approx(3.0)
    assert point_scores(7.0, 10.0) == {"crps": 3.0, "error": 3.0, "side": "above"}
    assert point_scores(7.0, 7.0)["side"] == "equal"
    assert point_scores(9.0, 7.0)["side"] == "below"


def test_pit_of_a_right_forecast_is_uniform_even_with_atoms():
    def check(seed):
        rng = np.random.default_rng(seed)
        # A forecast with an atom at 0 (a quarter with nothing booked), the actual from the same law.
        draws = rng.binomial(1, 0.6, size=(3000, 200)) * rng.gamma(2.0, 1.0, size=(3000, 200))
        actual = rng.binomial(1, 0.6, size=3000) * rng.gamma(2.0, 1.0, size=3000)
        return stats.kstest(pit(draws, actual, rng=seed), "uniform").pvalue

    retry_test(check, seeds=(0, 1))


def test_pit_of_a_too_narrow_forecast_is_not_uniform():
    rng = np.random.default_rng(4)
    draws = rng.normal(0, 0.5, size=(2000, 100))
    actual = rng.normal(0, 1.0, size=2000)
    u = pit(draws, actual, rng=1)
    assert uniformity(u)["p_value"] < 1e-6
    assert np.mean((u < 0.1) | (u > 0.9)) > 0.35  # the U shape


def test_interval_hit_covers_80_percent_of_right_forecasts():
    rng = np.random.default_rng(9)
    n = 4000
    draws = rng.lognormal(0, 1, size=(n, 500))
    actual = rng.lognormal(0, 1, size=n)
    share = interval_hit(draws, actual).mean()
    assert abs(share - 0.8) < 4 * np.sqrt(0.8 * 0.2 / n) + 0.01  # + the quantiles' own sampling error


def test_bad_input():
    with pytest.raises(SimcoreError):
        crps([], 1.0)
    with pytest.raises(SimcoreError):
        pit([1.0, np.nan], 1.0)
    with pytest.raises(SimcoreError):
        crps([1.0, 2.0], np.inf)
    assert np.isnan(uniformity([0.5])["p_value"])
