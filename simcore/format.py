"""Numbers as finance reads them: ``$1.2M``, ``$850k``, ``87.8%``, ``+2.3 pts``, ``1,153``.

The one place where simcore turns a number into text (the CLI's tables, the report's HTML and
charts) or picks how a spreadsheet shows it (the xlsx number formats, the CSV's digits). Every
function takes the scenario's ``currency`` where money is involved (``USD`` -> ``$``, ``EUR`` ->
``€``, ``GBP`` -> ``£``, any other code written after the number: ``2.5M JPY``).

Three rules, the ones a finance reader checks first:

- **A column gets one precision**, chosen from its values (:func:`column`, :func:`money_column`):
  ``$1.04M`` beside ``$1.10M``, never ``$1.038M`` beside ``$1.1M``.
- **A figure that decides is shown with the digits it needs to decide** (:func:`money_pair`): a
  P10 of $8.634M beside a target of $8.65M reads ``$8.63M`` vs ``$8.65M``, not ``$8.6M`` vs
  ``$8.7M``.
- **Differences of probabilities are percentage points** (:func:`points`): 78% -> 80.3% is
  ``+2.3 pts``, not ``+2.3%``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable


def _numpy(*names) -> tuple:
    """The numpy types of these names, or none when numpy is not loaded: then no value can be of
    one (``simcore validate`` formats its messages without importing numpy).
    """
    np = sys.modules.get("numpy")
    return () if np is None else tuple(getattr(np, name) for name in names)


SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}

# Column kinds a table can hold: how a value is shown (text, HTML) and formatted (xlsx).
# money in the currency, percent a fraction (0.25 = 25%), points a difference of fractions
# (0.023 = +2.3 pts), multiple a ratio (3.0 = 3.00x), count a whole number of things, days a
# duration, decimal a small number shown to three places, number a plain number.
KINDS = ("text", "money", "percent", "points", "multiple", "count", "days", "decimal", "number")

# (scale, suffix) from the largest: 12_345_678 is 12.3 of "M".
_UNITS = ((1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def symbol(currency: str = "USD") -> str:
    """The sign written before an amount: ``"$"`` for ``USD``, ``""`` for a code without one."""
    return SYMBOLS.get(currency, "")


def _with_currency(text: str, negative: bool, currency: str) -> str:
    sign = "-" if negative else ""
    sym = symbol(currency)
    return f"{sign}{sym}{text}" if sym else f"{sign}{text} {currency}"


def _unit_of(value: float) -> int:
    """Index into ``_UNITS`` of the unit ``value`` (dollars, >= 0) is written in."""
    return next((i for i, (scale, _) in enumerate(_UNITS) if value >= scale), len(_UNITS) - 1)


def _in_unit(value: float, unit: int, digits: int, currency: str) -> str:
    scale, suffix = _UNITS[unit]
    v = float(value)
    text = f"{abs(v) / scale:,.{digits}f}{suffix}"
    negative = v < 0 and float(text.rstrip("BMk").replace(",", "")) != 0
    return _with_currency(text, negative, currency)


def money(value, currency: str = "USD", digits: int = 1) -> str:
    """An amount as finance writes it, in its own unit.

    Parameters
    ----------
    value : float or None
        Amount in the currency's units (dollars for ``USD``).
    currency : str
        ISO code of the scenario's currency.
    digits : int
        Decimals of millions and billions (thousands and units are shown whole).

    Returns
    -------
    str
        ``"-"`` for a missing value (None, NaN, an infinity).

    Examples
    --------
    >>> money(12_345_678), money(850_000), money(999_500), money(2.5e6, "EUR"), money(2.5e6, "JPY")
    ('$12.3M', '$850k', '$1.0M', '€2.5M', '2.5M JPY')
    """
    if _missing(value):
        return "-"
    v = abs(float(value))
    i = _unit_of(v)
    d = digits if _UNITS[i][1] in ("B", "M") else 0
    if i > 0 and round(v / _UNITS[i][0], d) >= 1000:
        # 999,600 rounds to "1000k": say "1.0M" instead.
        i -= 1
        d = digits if _UNITS[i][1] in ("B", "M") else 0
    return _in_unit(value, i, d, currency)


def exact_money(value, currency: str = "USD") -> str:
    """``money`` with the digits a planned figure needs: 8_650_000 -> ``$8.65M`` (not ``$8.7M``).

    For an input (a target, a budget) that is round to one, two or three decimals of its unit; any
    other figure keeps :func:`money`'s one decimal.

    Examples
    --------
    >>> exact_money(8_650_000), exact_money(12_000_000), exact_money(850_000)
    ('$8.65M', '$12.0M', '$850k')
    """
    if _missing(value):
        return "-"
    v = float(value)
    scale = 1e9 if abs(v) >= 1e9 else 1e6 if abs(v) >= 1e6 else None
    if scale is None:
        return money(v, currency)
    for digits in (1, 2, 3):
        if abs(round(v / scale, digits) * scale - v) < 1e-6 * scale:
            return money(v, currency, digits)
    return money(v, currency)


def money_pair(a, b, currency: str = "USD") -> tuple:
    """Two amounts shown in one unit with the fewest decimals that still tell them apart.

    For figures that decide: a P10 against a target, a plan against its need. ``a`` and ``b`` are
    written in the unit of the larger one and decimals are added until the two texts differ (up to
    whole dollars); equal amounts get the decimals :func:`exact_money` would give.

    Parameters
    ----------
    a, b : float
        Amounts in the currency's units.
    currency : str

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> money_pair(8_634_417, 8_650_000)
    ('$8.63M', '$8.65M')
    >>> money_pair(8_649_400, 8_650_000)
    ('$8.6494M', '$8.6500M')
    >>> money_pair(5_213_417, 8_650_000)
    ('$5.21M', '$8.65M')
    >>> money_pair(5_213_417, 9_100_000)
    ('$5.2M', '$9.1M')
    """
    if _missing(a) or _missing(b):
        return money(a, currency), money(b, currency)
    a, b = float(a), float(b)
    unit = _unit_of(max(abs(a), abs(b)))
    scale = _UNITS[unit][0]
    if a == b:
        text = exact_money(a, currency)
        return text, text
    # Enough decimals for the gap to show as at least one unit of the last digit, and for a round
    # input (a target of $8.65M) to be shown as written.
    gap = abs(a - b) / scale
    start = max(
        1 if scale > 1e3 else 0,
        -math.floor(math.log10(gap)),
        _round_decimals(a, scale),
        _round_decimals(b, scale),
    )
    for digits in range(start, int(round(math.log10(scale))) + 1):
        pair = _in_unit(a, unit, digits, currency), _in_unit(b, unit, digits, currency)
        if pair[0] != pair[1]:
            return pair
    return _in_unit(a, 3, 0, currency), _in_unit(b, 3, 0, currency)


def _round_decimals(value: float, scale: float) -> int:
    """Decimals (of ``scale``) that write ``value`` exactly, if it is round to three; else 0."""
    for digits in (0, 1, 2, 3):
        if abs(round(value / scale, digits) * scale - value) < 1e-6 * scale:
            return digits
    return 0


def _decimals_for(values, scale: float, significant: int = 2, most: int = 3) -> int:
    """Decimals (in ``scale`` units) that give every value within 1% of the largest ``significant``
    figures; values smaller than that are shown to the same decimals (they round towards zero).
    """
    big = max(values)
    wanted = 0
    for v in values:
        if v == 0 or v < 0.01 * big:
            continue
        x = v / scale
        wanted = max(wanted, significant - 1 - math.floor(math.log10(x)))
    return int(min(most, max(0, wanted)))


def money_column(values: Iterable, currency: str = "USD") -> list:
    """A column of amounts in one unit (that of its largest value) and one precision.

    Examples
    --------
    >>> money_column([1_038_000, 1_100_000, 11_600_000])
    ['$1.0M', '$1.1M', '$11.6M']
    >>> money_column([850_000, 12_345_678, None])
    ['$0.85M', '$12.35M', '-']
    >>> money_column([850_000, 420_000])
    ['$850k', '$420k']
    """
    values = list(values)
    finite = [abs(float(v)) for v in values if not _missing(v)]
    if not finite:
        return ["-"] * len(values)
    big = max(finite)
    unit = _unit_of(big)
    if unit > 0 and round(big / _UNITS[unit][0]) >= 1000:
        unit -= 1
    digits = 0
    if _UNITS[unit][1] in ("M", "B"):
        # "$12M" reads as a guess and "$12.0M" as a figure; thousands and units are shown whole.
        digits = max(1, _decimals_for(finite, _UNITS[unit][0]))
    return ["-" if _missing(v) else _in_unit(v, unit, digits, currency) for v in values]


def percent(value, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.8789`` -> ``87.9%``; missing -> ``-``.

    Examples
    --------
    >>> percent(0.8789), percent(0.8789, 0), percent(None)
    ('87.9%', '88%', '-')
    """
    if _missing(value):
        return "-"
    return f"{100.0 * float(value):.{digits}f}%"


def percent_column(values: Iterable) -> list:
    """Fractions as percentages, one precision: one decimal, two when a value is under 1%.

    Examples
    --------
    >>> percent_column([0.25, 0.005, 0.5])
    ['25.00%', '0.50%', '50.00%']
    """
    values = list(values)
    finite = [abs(float(v)) for v in values if not _missing(v)]
    digits = 2 if any(0 < v < 0.01 for v in finite) else 1
    return [percent(v, digits) for v in values]


def points(value, digits: int = 1) -> str:
    """A difference of two probabilities in percentage points: ``0.023`` -> ``+2.3 pts``.

    Examples
    --------
    >>> points(0.023), points(-0.1), points(0.0)
    ('+2.3 pts', '-10.0 pts', '+0.0 pts')
    """
    if _missing(value):
        return "-"
    v = 100.0 * float(value)
    text = f"{abs(v):.{digits}f}"
    return ("-" if v < 0 and float(text) != 0 else "+") + f"{text} pts"


def count(value) -> str:
    """A whole number of things, with thousands separators: ``1153.4`` -> ``1,153``.

    Examples
    --------
    >>> count(1153.4), count(12), count(float("nan"))
    ('1,153', '12', '-')
    """
    if _missing(value):
        return "-"
    return f"{float(value):,.0f}"


def multiple(value, digits: int = 2) -> str:
    """A ratio: ``3.0`` -> ``3.00x``.

    Examples
    --------
    >>> multiple(3.0), multiple(1.054, 1)
    ('3.00x', '1.1x')
    """
    if _missing(value):
        return "-"
    return f"{float(value):,.{digits}f}x"


def days(value) -> str:
    """A duration: ``45.2`` -> ``45 days``; under ten days keeps a decimal (``4.5 days``)."""
    if _missing(value):
        return "-"
    v = float(value)
    return f"{v:,.0f} days" if abs(v) >= 10 else f"{v:.1f} days"


def number(value, significant: int = 3) -> str:
    """A plain number to ``significant`` figures, with thousands separators, never in e-notation.

    Examples
    --------
    >>> number(170000), number(0.467558), number(1234567.0), number(2.9999999999999996)
    ('170,000', '0.468', '1,234,567', '3')
    """
    if _missing(value):
        return "-"
    v = float(value)
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    decimals = max(0, significant - 1 - magnitude)
    rounded = round(v, decimals)
    text = f"{rounded:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cell(value, kind: str, currency: str = "USD") -> str:
    """One value of a table as text, by its column kind (see :data:`KINDS`)."""
    return column([value], [kind], currency)[0]


def column(values: Iterable, kinds, currency: str = "USD") -> list:
    """A table column as text: values of one kind share one precision.

    Parameters
    ----------
    values : iterable
        The column's raw values (numbers; text passes through).
    kinds : str or sequence of str
        The column's kind, or one kind per value (a "value" column whose rows are of different
        units): values of each kind are formatted together.
    currency : str

    Returns
    -------
    list of str

    Examples
    --------
    >>> column([1_038_000, 1_100_000, 0.25], ["money", "money", "percent"])
    ['$1.0M', '$1.1M', '25.0%']
    """
    values = list(values)
    kinds = [kinds] * len(values) if isinstance(kinds, str) else list(kinds)
    out = [""] * len(values)
    for kind in dict.fromkeys(kinds):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        texts = _column_of_kind([values[i] for i in idx], kind, currency)
        for i, t in zip(idx, texts):
            out[i] = t
    return out


def _column_of_kind(values, kind, currency) -> list:
    if kind == "text":
        return ["-" if v is None else str(v) for v in values]
    types = (int, float, *_numpy("integer", "floating"))  # once per column, not per value
    numeric = [v if isinstance(v, types) else None for v in values]
    if kind == "money":
        texts = money_column(numeric, currency)
    elif kind == "percent":
        texts = percent_column(numeric)
    elif kind == "points":
        texts = [points(v) for v in numeric]
    elif kind == "multiple":
        texts = [multiple(v) for v in numeric]
    elif kind == "count":
        texts = [count(v) for v in numeric]
    elif kind == "days":
        texts = [days(v) for v in numeric]
    elif kind == "decimal":
        texts = ["-" if _missing(v) else f"{float(v):.3f}" for v in numeric]
    elif kind == "number":
        texts = [number(v) for v in numeric]
    else:
        raise ValueError(f"unknown column kind {kind!r}; one of {', '.join(KINDS)}")
    # Text in a number column (a range "0.47 to 0.63") is shown as it is.
    return [t if n is not None or v is None else str(v) for t, n, v in zip(texts, numeric, values)]


def excel_format(kind: str, currency: str = "USD") -> str | None:
    """The Excel number format of a column kind (the cell holds the number, not text).

    Money is whole units with thousands separators; points are written as points (the cell holds
    the difference times 100, see :func:`excel_value`).
    """
    sym = symbol(currency)
    money_format = f'"{sym}"#,##0;-"{sym}"#,##0' if sym else f'#,##0" {currency}";-#,##0" {currency}"'
    return {
        "money": money_format,
        "percent": "0.0%",
        "points": '+0.0" pts";-0.0" pts";0.0" pts"',
        "multiple": '0.00"x"',
        "count": "#,##0",
        "days": '0" days"',
        "decimal": "0.000",
        "number": "#,##0.###",
    }.get(kind)


def excel_value(value, kind: str):
    """The number an xlsx cell holds: the value itself, points times 100, None for missing."""
    if isinstance(value, _numpy("floating", "integer")):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if kind == "points" and isinstance(value, (int, float)):
        return 100.0 * value
    return value


# Significant digits of a float in the report's CSV tables. The tables are summaries (quantiles,
# means, rates of a Monte-Carlo run) whose own sampling error is around the third or fourth digit:
# twelve digits keep every digit that means anything (and more than the 15 a spreadsheet shows),
# while dropping the last-bit noise of float arithmetic (2.9999999999999996 -> 3.0).
CSV_DIGITS = 12


def csv_value(value):
    """A table value as it goes into a CSV: floats to :data:`CSV_DIGITS` significant figures.

    Examples
    --------
    >>> csv_value(2.9999999999999996), csv_value(0.1 + 0.2), csv_value(float("nan")), csv_value(7)
    (3.0, 0.3, '', 7)
    """
    if isinstance(value, _numpy("floating", "integer", "bool_")):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return float(f"{value:.{CSV_DIGITS}g}")
    if value is None:
        return ""
    return value


# What a spreadsheet reads as a formula at the start of a cell (OWASP, "CSV injection"): a
# dimension value or a stage name comes from a scenario file or a CRM export, which may be
# someone else's, and must reach the reader's spreadsheet as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_text(value):
    """``value``, with a text that a spreadsheet would run as a formula quoted as text.

    Examples
    --------
    >>> inert_text("=1+2"), inert_text("inbound"), inert_text(-3.5)
    ("'=1+2", 'inbound', -3.5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def table(rows, header, align=None) -> str:
    """A plain-text table: first column left-aligned, the rest right-aligned.

    Examples
    --------
    >>> print(table([["Q1", "$1.0M"]], ["Period", "P50"]))
    Period    P50
    ------  -----
    Q1      $1.0M
    """
    cols = len(header)
    align = align or ["<"] + [">"] * (cols - 1)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(cols)]
    lines = []
    for r in [header, *rows]:
        lines.append("  ".join(f"{str(x):{a}{w}}" for x, a, w in zip(r, align, widths)).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def text_table(rows, header, kinds, currency: str = "USD") -> str:
    """A plain-text table of raw values: each column formatted by :func:`column` (one precision).

    Examples
    --------
    >>> print(text_table([["Q1", 1_038_000], ["Q2", 1_100_000]], ["Period", "P50"], ["text", "money"]))
    Period    P50
    ------  -----
    Q1      $1.0M
    Q2      $1.1M
    """
    cols = [column([r[j] for r in rows], kinds[j], currency) for j in range(len(header))]
    return table([list(r) for r in zip(*cols)] if rows else [], header)


def json_safe(x):
    """``x`` ready for JSON, recursively: NaN and infinities become None (JSON has neither),
    numpy scalars and arrays become Python numbers and lists, dict keys become text.
    """
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, _numpy("ndarray")):
        return json_safe(x.tolist())
    if isinstance(x, (float, *_numpy("floating"))):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, _numpy("bool_")):
        return bool(x)
    if isinstance(x, _numpy("integer")):
        return int(x)
    return x
