"""The charts draw the numbers they claim to draw, title them in a CFO's words, and save as PNG.

Each check reads the data back from the artists (line y values, bar heights, band edges) and
compares it with the quantiles / means computed independently from the Dataset, and where there is
a closed form (the starting bank, stage-4 creation of a funnel with no losses before stage 4) with
that, within 4 Monte-Carlo standard errors.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
from helpers import assert_close_se, build, run, se_mean, small_raw
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import simcore
import simcore.format
from simcore.errors import SimcoreError
from simcore.report import plots

TRIALS = 400
TARGET = 8_650_000.0


@pytest.fixture(scope="module")
def ds():
    sc = simcore.load_scenario("scenarios/fy2026.toml")
    return simcore.simulate(sc, trials=TRIALS, seed=0, progress=False)


def _year(ds):
    return ds["bookings_amount"].sum(["period", "source", "product"]).values


def _per_period(ds):
    return ds["bookings_amount"].sum(["source", "product"]).transpose("trial", "period").values


def _line(ax, label):
    lines = [ln for ln in ax.get_lines() if ln.get_label() == label or ln.get_gid() == label]
    assert len(lines) == 1, f"expected one line {label!r}, found {[ln.get_label() for ln in ax.get_lines()]}"
    return lines[0]


def _bars(ax, label):
    containers = [c for c in ax.containers if c.get_label() == label]
    assert len(containers) == 1, f"expected one bar container {label!r}"
    return list(containers[0])


def _band(ax, label):
    """(x, lower, upper) of a fill_between band, read back from its polygon."""
    coll = [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_label() == label]
    assert len(coll) == 1, f"expected one band {label!r}"
    verts = coll[0].get_paths()[0].vertices
    xs = np.unique(np.round(verts[:, 0], 9))
    lower = np.array([verts[np.isclose(verts[:, 0], x), 1].min() for x in xs])
    upper = np.array([verts[np.isclose(verts[:, 0], x), 1].max() for x in xs])
    return xs, lower, upper


def test_exact_money_keeps_the_digits_the_target_needs():
    assert simcore.format.exact_money(8_650_000) == "$8.65M"
    assert simcore.format.exact_money(12_000_000) == "$12.0M"
    assert simcore.format.exact_money(43_500_000) == "$43.5M"
    assert simcore.format.exact_money(850_000) == "$850k"


def test_fan_chart_draws_the_quantiles_of_cumulative_bookings(ds):
    fig = plots.fan_chart(ds)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    cumulative = np.cumsum(_per_period(ds), axis=1)
    p10, p25, p50, p75, p90 = np.quantile(cumulative, [0.1, 0.25, 0.5, 0.75, 0.9], axis=0)
    np.testing.assert_allclose(_line(ax, "Median").get_ydata(), p50)
    _, lo, hi = _band(ax, "P10-P90")
    np.testing.assert_allclose(lo, p10)
    np.testing.assert_allclose(hi, p90)
    _, lo, hi = _band(ax, "P25-P75")
    np.testing.assert_allclose(lo, p25)
    np.testing.assert_allclose(hi, p75)
    np.testing.assert_allclose(_line(ax, "target").get_ydata(), [TARGET, TARGET])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    title = ax.get_title()
    assert title.startswith("FY2026 bookings to date by quarter: median ")
    assert f"median {simcore.format.money(p50[-1])} by 2026-Q4" in title
    # Axes read in dollars, not in scientific notation.
    assert ax.yaxis.get_major_formatter()(2_500_000, 0) == "$2.5M"


def test_fan_chart_per_period_and_period_targets(ds):
    planned = np.array([1.5e6, 2.0e6, 2.3e6, 2.85e6])
    with_targets = ds.assign(period_target=("period", planned))
    ax = plots.fan_chart(with_targets, cumulative=False).axes[0]
    np.testing.assert_allclose(_line(ax, "Median").get_ydata(), np.median(_per_period(ds), axis=0))
    np.testing.assert_allclose(_line(ax, "Period targets").get_ydata(), planned)
    # An annual target is not a per-period figure: not drawn on the per-period chart.
    assert not [ln for ln in ax.get_lines() if ln.get_gid() == "target"]
    ax = plots.fan_chart(with_targets, cumulative=True).axes[0]
    np.testing.assert_allclose(_line(ax, "Period targets").get_ydata(), np.cumsum(planned))


def test_distribution_title_states_p_hit_and_draws_target_and_quantiles(ds):
    fig = plots.bookings_distribution(ds)
    year = _year(ds)
    p_hit = float((year >= TARGET).mean())
    assert fig.get_suptitle() == f"FY2026 bookings: {p_hit:.0%} chance of hitting $8.65M"
    hist_ax, cdf_ax = fig.axes
    heights = [p.get_height() for p in hist_ax.patches]
    assert sum(heights) == TRIALS
    cdf = _line(cdf_ax, "CDF")
    np.testing.assert_allclose(cdf.get_xdata(), np.sort(year))
    assert cdf.get_ydata()[-1] == 1.0
    for ax in (hist_ax, cdf_ax):
        np.testing.assert_allclose(_line(ax, "target").get_xdata(), [TARGET, TARGET])
        for key, q in zip(("P10", "P50", "P90"), np.quantile(year, [0.1, 0.5, 0.9])):
            np.testing.assert_allclose(_line(ax, key).get_xdata(), [q, q])
    assert cdf_ax.get_title() == f"P(bookings >= target) = {100 * p_hit:.1f}%"
    # The CDF at the target is 1 - P(hit) up to the ties at the target (none for continuous amounts).
    below = np.searchsorted(np.sort(year), TARGET) / TRIALS
    assert math.isclose(1.0 - below, p_hit)


def test_distribution_without_target_says_the_median(ds):
    no_target = ds.copy()
    no_target.attrs = {k: v for k, v in ds.attrs.items() if k != "target"}
    fig = plots.bookings_distribution(no_target)
    assert fig.get_suptitle() == f"FY2026 bookings: median {simcore.format.money(np.median(_year(ds)))}"
    assert not [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "target"]


def test_assumption_labels_speak_the_planners_words():
    assert plots.assumption_label("to_decision") == "conversion to the decision stage"
    assert plots.assumption_label("win [expansion]") == "decision-stage win rate [expansion]"
    assert plots.assumption_label("dwell_mean[Stage 2]") == "days in Stage 2"
    assert plots.assumption_label("growth[Stage 1] [inbound]") == "amount growth, Stage 1 [inbound]"
    assert plots.assumption_label("something new") == "something new"


def test_tornado_orders_swings_widest_on_top():
    swings = [
        ("win rate", 9.0e6, 14.0e6),
        {"name": "Stage 1 -> 4", "low": 10.0e6, "high": 13.0e6},
        ("median deal size", 11.0e6, 12.5e6),
    ]
    fig = plots.tornado(swings, base=11.8e6)
    ax = fig.axes[0]
    # barh draws bottom-up, so the widest swing is the last label.
    assert [t.get_text() for t in ax.get_yticklabels()] == ["median deal size", "Stage 1 -> 4", "win rate"]
    low = _bars(ax, "Assumption at its low")
    high = _bars(ax, "Assumption at its high")
    np.testing.assert_allclose([b.get_x() for b in low], [11.8e6] * 3)
    np.testing.assert_allclose(
        [b.get_width() for b in low], [11.0e6 - 11.8e6, 10.0e6 - 11.8e6, 9.0e6 - 11.8e6]
    )
    np.testing.assert_allclose(
        [b.get_width() for b in high], [12.5e6 - 11.8e6, 13.0e6 - 11.8e6, 14.0e6 - 11.8e6]
    )
    assert "P50 annual bookings" in ax.get_title()
    with pytest.raises(SimcoreError, match="no assumptions"):
        plots.tornado([], base=1.0)


def test_waterfall_chains_expected_creation_and_shows_the_gap(ds):
    needed = 43_500_000.0
    fig = plots.creation_waterfall(ds, needed)
    ax = fig.axes[0]
    created = (
        ds["created_amount"].sel(stage="Stage 4").sum(["source", "product"]).transpose("trial", "period")
    )
    mean = created.mean("trial").values
    bars = _bars(ax, "Created")
    np.testing.assert_allclose([b.get_height() for b in bars], mean)
    np.testing.assert_allclose([b.get_y() for b in bars], np.concatenate([[0], np.cumsum(mean)[:-1]]))
    (total,) = _bars(ax, "Total")
    assert math.isclose(total.get_height(), mean.sum())
    (gap,) = _bars(ax, "Gap")
    assert math.isclose(gap.get_y(), mean.sum())
    assert math.isclose(gap.get_height(), needed - mean.sum())
    np.testing.assert_allclose(_line(ax, "needed").get_ydata(), [needed, needed])
    assert ax.get_title() == (
        f"FY2026 Stage 4 creation: {simcore.format.money(mean.sum())} expected vs $43.5M the plan needs"
    )
    per_period = [12e6, 11e6, 10e6, 10.5e6]
    ax = plots.creation_waterfall(ds, per_period).axes[0]
    np.testing.assert_allclose(_line(ax, "needed").get_ydata(), [sum(per_period)] * 2)
    with pytest.raises(SimcoreError, match="one per period"):
        plots.creation_waterfall(ds, [1.0, 2.0])


def test_waterfall_total_matches_the_closed_form_stage4_creation():
    # Every deal reaches Stage 4 (advance 1, 30 days of dwell) well inside the two-year horizon, so
    # expected Stage-4 dollars = expected count x lognormal mean = 500 x $100k x exp(sigma^2 / 2).
    sc = build(small_raw())
    result = run(sc, 300, seed=0)
    expected = 500 * 100_000.0 * math.exp(0.5**2 / 2)
    (total,) = _bars(plots.creation_waterfall(result, expected).axes[0], "Total")
    per_trial = result["created_amount"].sel(stage="Stage 4").sum(["period", "source"]).values
    assert_close_se(total.get_height(), expected, se_mean(per_trial), what="expected stage-4 creation")


def test_bank_by_category_stacks_the_expected_bank(ds):
    fig = plots.bank_by_category(ds)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["Start", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert ax.get_xlabel() == "at the start of the plan and at the end of each quarter"
    commit = _bars(ax, "Commit")
    pipeline = _bars(ax, "Pipeline")
    # fy2026's starting bank is $7.4M of Stage 4 (commit) and nothing earlier.
    assert math.isclose(commit[0].get_height(), 7_400_000.0)
    assert pipeline[0].get_height() == 0.0
    ends = ds["bank_amount"].sum(["source", "product"]).mean("trial")
    np.testing.assert_allclose([b.get_height() for b in commit[1:]], ends.sel(category="commit").values)
    np.testing.assert_allclose([b.get_height() for b in pipeline[1:]], ends.sel(category="pipeline").values)
    assert "7.4M at the start" in ax.get_title()
    counts = plots.bank_by_category(ds, measure="count").axes[0]
    assert _bars(counts, "Commit")[0].get_height() == 52  # 15 + 7 + 10 + 8 + 4 + 4 + 4 deals
    with pytest.raises(SimcoreError, match="measure"):
        plots.bank_by_category(ds, measure="euros")


def test_scenario_comparison_draws_each_scenarios_quantiles(ds):
    rng = np.random.default_rng(0)
    other = rng.normal(7e6, 1e6, size=1000)
    fig = plots.scenario_comparison({"Base": ds, "Conservative": other}, target=TARGET)
    ax = fig.axes[0]
    year = _year(ds)
    for key, q in zip(("P10", "P50", "P90"), (0.1, 0.5, 0.9)):
        heights = [b.get_height() for b in _bars(ax, key)]
        np.testing.assert_allclose(heights, [np.quantile(year, q), np.quantile(other, q)])
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] == f"Base\nP(hit) {100 * (year >= TARGET).mean():.0f}%"
    assert ticks[1].startswith("Conservative\nP(hit) ")
    assert "(Conservative)" in ax.get_title() and "(Base)" in ax.get_title()
    np.testing.assert_allclose(_line(ax, "target").get_ydata(), [TARGET, TARGET])


def test_accessor_methods_return_figures(ds):
    assert isinstance(ds.simcore.plot_fan(), Figure)
    assert isinstance(ds.simcore.plot_distribution(), Figure)
    assert isinstance(ds.simcore.plot_bank(), Figure)
    assert isinstance(ds.simcore.plot_waterfall(40e6), Figure)


def test_figures_save_as_png_headless_without_touching_pyplot(ds, tmp_path):
    backend = matplotlib.get_backend()
    figures = {
        "fan": plots.fan_chart(ds),
        "distribution": plots.bookings_distribution(ds),
        "tornado": plots.tornado([("a", 1e6, 2e6)], 1.5e6),
        "waterfall": plots.creation_waterfall(ds, 40e6),
        "bank": plots.bank_by_category(ds),
        "scenarios": plots.scenario_comparison({"Base": ds}, target=TARGET),
    }
    for name, fig in figures.items():
        path = tmp_path / f"{name}.png"
        plots.save_png(fig, path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # Two dollar amounts in one title must not be read as mathtext ($...$).
        for text in fig.findobj(matplotlib.text.Text):
            assert not text.get_parse_math()
    assert matplotlib.get_backend() == backend
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.png" for n in figures)


def test_whiskers_span_p10_to_p90_even_when_the_mean_lies_outside(ds):
    # One huge trial pulls the mean above the P90: the whiskers must still run from P10 to P90.
    skewed = ds.copy(deep=True)
    skewed["bank_amount"][0] = skewed["bank_amount"][0] * 1000
    skewed["created_amount"][0] = skewed["created_amount"][0] * 1000
    for fig, totals in (
        (
            plots.bank_by_category(skewed),
            skewed["bank_amount"].sum(["source", "product", "category"]).values[:, -1],
        ),
        (
            plots.creation_waterfall(skewed, 40e6),
            skewed["created_amount"].sel(stage="Stage 4").sum(["period", "source", "product"]).values,
        ),
    ):
        ax = fig.axes[0]
        assert totals.mean() > np.quantile(totals, 0.9)
        (whiskers,) = [c for c in ax.containers if c.get_label() == "Total P10-P90"]
        segments = whiskers.lines[2][0].get_segments()
        lo, hi = segments[-1][:, 1]
        np.testing.assert_allclose([lo, hi], np.quantile(totals, [0.1, 0.9]))


def test_plan_title_names_the_variant_once():
    import xarray as xr

    ds = xr.Dataset(attrs={"scenario": "fy2026 [Conservative]", "variant": "Conservative"})
    assert plots.plan_title(ds) == "FY2026 (Conservative)"
    assert (
        plots.plan_title(xr.Dataset(attrs={"scenario": "smb_inside_sales", "variant": ""}))
        == "smb_inside_sales"
    )
