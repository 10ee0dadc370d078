"""Numbers as finance reads them."""

import pytest

from simcore.format import money, percent


@pytest.mark.parametrize(
    "value, text",
    [
        (12_345_678, "$12.3M"),
        (850_000, "$850k"),
        (999_400, "$999k"),
        (999_500, "$1.0M"),  # not "$1000k"
        (999.6, "$1k"),  # not "$1000"
        (999_960_000, "$1.0B"),
        (-999_700, "-$1.0M"),
        (5, "$5"),
        (0, "$0"),
        (float("nan"), "-"),
        (None, "-"),
    ],
)
def test_money_never_shows_a_thousand_of_a_unit(value, text):
    assert money(value) == text


def test_money_in_other_currencies():
    assert money(2.5e6, "EUR") == "€2.5M" and money(2.5e6, "JPY") == "2.5M JPY"
    assert percent(0.8789) == "87.9%"


def test_a_column_gets_one_precision_chosen_from_its_values():
    from simcore.format import money_column

    # Not "$1.038M" beside "$1.1M": one unit, one number of decimals for the whole column.
    assert money_column([1_038_000, 1_100_000, 11_600_000]) == ["$1.0M", "$1.1M", "$11.6M"]
    texts = money_column([850_000, 12_345_678, 401_234])
    assert texts == ["$0.85M", "$12.35M", "$0.40M"]
    assert len({t.split(".")[1].rstrip("M").__len__() for t in texts}) == 1
    assert money_column([850_000, 420_000]) == ["$850k", "$420k"]
    assert money_column([None, float("nan")]) == ["-", "-"]
    assert money_column([2.5e6, -1.2e6], "EUR") == ["€2.5M", "-€1.2M"]


def test_a_figure_that_decides_keeps_the_digits_that_decide():
    from simcore.format import money_pair

    # The optimizer's case: a P10 of $8.634M under a $8.65M target must not read "$8.6M" vs "$8.7M".
    p10, target = money_pair(8_634_417, 8_650_000)
    assert (p10, target) == ("$8.63M", "$8.65M")
    for a, b in [(8_634_417, 8_650_000), (8_649_999, 8_650_000), (1_234, 1_235), (12e6, 11.95e6)]:
        ta, tb = money_pair(a, b)
        assert ta != tb
        # The texts order the figures as the figures are ordered.
        va, vb = (float(t.strip("$MkB").replace(",", "")) for t in (ta, tb))
        assert (va < vb) == (a < b)
    assert money_pair(8_650_000, 8_650_000) == ("$8.65M", "$8.65M")


def test_differences_of_probabilities_are_points_and_counts_are_counts():
    from simcore.format import count, number, points

    assert points(0.023) == "+2.3 pts" and points(-0.0004) == "+0.0 pts" and points(-0.12) == "-12.0 pts"
    assert count(1153) == "1,153"  # not "1k"
    assert number(170000) == "170,000" and number(0.467558) == "0.468"
    assert "e" not in number(1.7e5) and "e" not in number(2.3e-5)


def test_csv_values_drop_float_noise_but_keep_twelve_digits():
    from simcore.format import CSV_DIGITS, csv_value

    assert csv_value(2.9999999999999996) == 3.0
    assert csv_value(11693456.789012345) == float(f"{11693456.789012345:.{CSV_DIGITS}g}")
    assert abs(csv_value(11693456.789012345) / 11693456.789012345 - 1) < 1e-11
    assert csv_value(float("inf")) == "" and csv_value(None) == "" and csv_value("text") == "text"
