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
