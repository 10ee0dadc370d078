"""Numbers as finance reads them: ``$1.2M``, ``$850k``, ``87.8%``."""

from __future__ import annotations

import math

import numpy as np

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(value, currency: str = "USD", digits: int = 1) -> str:
    """``12_345_678`` -> ``$12.3M``; ``850_000`` -> ``$850k``; NaN -> ``-``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    sym = _SYMBOLS.get(currency, "")
    sign = "-" if value < 0 else ""
    v = abs(float(value))
    units = [(1e9, "B", digits), (1e6, "M", digits), (1e3, "k", 0), (1.0, "", 0)]
    i = next((i for i, (scale, _, _) in enumerate(units) if v >= scale), len(units) - 1)
    scale, suffix, d = units[i]
    if i > 0 and round(v / scale, d) >= 1000:
        # 999,600 rounds to "1000k": say "1.0M" instead.
        scale, suffix, d = units[i - 1]
    text = f"{v / scale:.{d}f}{suffix}"
    return f"{sign}{sym}{text}" if sym else f"{sign}{text} {currency}"


def percent(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100.0 * value:.{digits}f}%"


def table(rows, header, align=None) -> str:
    """A plain-text table: first column left-aligned, the rest right-aligned."""
    cols = len(header)
    align = align or ["<"] + [">"] * (cols - 1)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(cols)]
    lines = []
    for r in [header, *rows]:
        lines.append("  ".join(f"{str(x):{a}{w}}" for x, a, w in zip(r, align, widths)).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def json_safe(x):
    """``x`` ready for JSON, recursively: NaN and infinities become None (JSON has neither),
    numpy scalars and arrays become Python numbers and lists, dict keys become text.
    """
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return json_safe(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    return x
