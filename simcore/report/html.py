"""The report as one self-contained HTML page that prints (or saves as PDF) cleanly.

Page one is the summary: the headline (P50, P10, P90, P(hit), each with its Monte-Carlo error), the
fan chart, what drives the risk and what to do. Then a table of contents and one section per
subject, each starting on a new printed page; charts and tables are never cut across pages.
Every number goes through :mod:`simcore.format`, in the scenario's currency.
"""

from __future__ import annotations

import base64
import html
import math

from simcore.format import column, exact_money, money, money_pair, percent
from simcore.report.content import Report

# (anchor, heading, chart and table names in the order shown). Anything not listed goes last.
SECTIONS = (
    (
        "bookings",
        "Bookings",
        ["bookings_distribution", "headline", "bookings_by_period", "deals_won_by_period", "variants"],
    ),
    (
        "drivers",
        "What drives the result",
        ["tornado", "sensitivity_swings", "sensitivity_drawn", "variance_by_cell"],
    ),
    (
        "pipeline",
        "Pipeline",
        ["stage4_waterfall", "created_by_period", "bank_by_category"],
    ),
    (
        "funnel",
        "The funnel beside the simulation",
        ["funnel", "funnel_vs_simulation", "funnel_difference"],
    ),
    ("mix", "Bookings by source and product", []),
    ("variants", "Variants", ["variants_by_period", "variant_differences"]),
    ("metrics", "Forecast metrics", ["forecast_metrics", "coverage", "cycle_time"]),
)

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 2px solid #08306b; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin: 1.4em 0 0.3em; }
.headline { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0 0.5em; }
.figure-box { background: #f0f5fb; border-radius: 6px; padding: 0.6em 1.1em; min-width: 11em; }
.figure-box .value { font-size: 1.7em; font-weight: 600; color: #08306b; }
.figure-box .label { font-size: 0.9em; color: #444; }
.figure-box .se { font-size: 0.75em; color: #777; }
.sentence { font-size: 1.05em; margin: 0.4em 0; }
.summary img { width: 100%; max-width: 820px; }
.summary h3 { margin-top: 0.8em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #e4e4e4; }
th { text-align: right; background: #f6f6f6; }
th:first-child, td:first-child { text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.text { text-align: left; }
.note, .about { color: #555; font-size: 0.88em; }
nav > ol { columns: 2; column-gap: 2em; font-size: 0.95em; }
nav > ol > li { break-inside: avoid; margin-bottom: 0.4em; }
img { max-width: 100%; height: auto; }
figure { margin: 0.8em 0; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 10pt; }
  section.part { break-before: page; }
  nav { break-before: page; }
  figure, table, .headline, .figure-box { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .summary img { max-height: 85mm; width: auto; }
  .figure-box { min-width: 0; padding: 0.4em 0.8em; }
  .figure-box .value { font-size: 1.4em; }
  figure img { max-height: 120mm; }
  a { color: inherit; text-decoration: none; }
}
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _boxes(h: dict) -> list:
    """The headline figures (label, value, Monte-Carlo error) for the boxes on top."""
    cur, se = h["currency"], h.get("se", {})

    def err(key, fmt):
        value = se.get(key)
        return f"MC s.e. {fmt(value)}" if value is not None and math.isfinite(value) else ""

    dollars = lambda v: money(v, cur, 2)  # noqa: E731 (an error is a few digits of the figure)
    boxes = [("P50 annual bookings", money(h["p50"], cur), err("p50", dollars))]
    if h["p_hit"] is not None:
        label = f"chance of hitting {exact_money(h['target'], cur)}"
        boxes.append((label, percent(h["p_hit"], 0), err("p_hit", lambda v: percent(v, 1))))
    # The P10 beside the target: with the digits it takes to tell which is larger.
    p10 = money_pair(h["p10"], h["target"], cur)[0] if h["p_hit"] is not None else money(h["p10"], cur)
    boxes += [
        ("P10 (a bad year)", p10, err("p10", dollars)),
        ("P90 (a good year)", money(h["p90"], cur), err("p90", dollars)),
    ]
    return boxes


def headline_sentence(h: dict) -> str:
    """The headline in one sentence, the P10 shown with the digits it needs beside the target."""
    cur = h["currency"]
    if h["p_hit"] is None:
        return (
            f"Half of {h['trials']:,} simulated years book {money(h['p50'], cur)} or more; one in ten "
            f"less than {money(h['p10'], cur)}, one in ten more than {money(h['p90'], cur)}."
        )
    p10, target = money_pair(h["p10"], h["target"], cur)
    return (
        f"In {percent(h['p_hit'], 0)} of {h['trials']:,} simulated years the plan books at least "
        f"{target}; half of them book {money(h['p50'], cur)} or more, one in ten less than {p10}."
    )


def _figure(chart, images, heading="h3") -> list:
    data = base64.b64encode(images[chart.name]).decode("ascii")
    parts = [f'<figure id="chart-{_esc(chart.name)}"><{heading}>{_esc(chart.title)}</{heading}>']
    parts.append(f'<img alt="{_esc(chart.title)}" src="data:image/png;base64,{data}">')
    if chart.caption:
        parts.append(f'<figcaption class="note">{_esc(chart.caption)}</figcaption>')
    parts.append("</figure>")
    return parts


def _table(table, currency) -> list:
    parts = [f'<div class="table" id="table-{_esc(table.name)}"><h3>{_esc(table.title)}</h3>', "<table>"]
    parts.append("<tr>" + "".join(f"<th>{_esc(c)}</th>" for c in table.columns) + "</tr>")
    columns = [
        column([r[j] for r in table.rows], table.column_kinds(j), currency) for j in range(len(table.columns))
    ]
    for i in range(len(table.rows)):
        kinds = table.row_kinds(i)
        cells = [
            ('<td class="text">' if kinds[j] == "text" else "<td>") + f"{_esc(columns[j][i])}</td>"
            for j in range(len(table.columns))
        ]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    if table.note:
        parts.append(f'<p class="note">{_esc(table.note)}</p>')
    parts.append("</div>")
    return parts


def _summary(report: Report, images: dict) -> list:
    h = report.headline
    parts = [
        '<section class="summary" id="summary">',
        f"<h1>{_esc(report.title)}</h1>",
        '<div class="headline">',
    ]
    for label, value, error in _boxes(h):
        parts.append(
            f'<div class="figure-box"><div class="value">{_esc(value)}</div>'
            f'<div class="label">{_esc(label)}</div><div class="se">{_esc(error)}</div></div>'
        )
    parts += ["</div>", f'<p class="sentence">{_esc(headline_sentence(h))}</p>']
    fan = [c for c in report.charts if c.name == "bookings_fan"]
    if fan:
        data = base64.b64encode(images[fan[0].name]).decode("ascii")
        parts.append(f'<img alt="{_esc(fan[0].title)}" src="data:image/png;base64,{data}">')
    for key, heading in (("drivers", "What drives the risk"), ("actions", "What to do")):
        sentences = report.summary.get(key) or []
        if sentences:
            parts.append(f"<h3>{heading}</h3>")
            parts += [f'<p class="sentence">{_esc(s)}</p>' for s in sentences]
    parts.append(_about_line(report.about))
    parts.append("</section>")
    return parts


def _about_line(a: dict) -> str:
    variant = f"(variant {_esc(a['variant'])}) " if a.get("variant") else ""
    text = (
        f'<p class="about">Scenario {_esc(a.get("scenario", ""))} {variant}'
        f"hash {_esc(a.get('scenario_hash', ''))}, seed {_esc(a.get('seed', ''))}, "
        f"{a.get('trials', 0):,} trials, simcore {_esc(a.get('simcore_version', ''))}, "
        f"{_esc(a.get('created', ''))}."
    )
    if a.get("overrides") and a["overrides"] != "{}":
        text += f" Overrides: {_esc(a['overrides'])}."
    return text + "</p>"


def sections(report: Report) -> list:
    """``(anchor, heading, items)`` of the report's sections, in order, items charts and tables.

    A chart and a table may share a name (the bank chart and the bank table): both go where the
    name is listed, the chart first.
    """
    items = [(c.name, c) for c in report.charts if c.name != "bookings_fan"]
    items += [(t.name, t) for t in report.tables if t.in_html]
    out, used = [], set()
    for anchor, heading, names in SECTIONS:
        if anchor == "mix":
            names = [
                n
                for n, _ in items
                if n.startswith(("bookings_by_", "funnel_by_", "metrics_by_")) and n != "bookings_by_period"
            ]
        chosen = [item for name in names if name not in used for n, item in items if n == name]
        used.update(names)
        if chosen:
            out.append((anchor, heading, chosen))
    rest = [item for n, item in items if n not in used]
    if rest:
        out.append(("more", "More tables", rest))
    return out


def render_html(report: Report, images: dict) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    report : Report
    images : dict
        Chart name -> PNG bytes (inlined as base64 ``data:`` URIs: no file or network needed).

    Returns
    -------
    str
    """
    cur = report.headline["currency"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_esc(report.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    parts += _summary(report, images)
    parts_of = sections(report)
    parts.append('<nav id="contents"><h2>Contents</h2><ol>')
    for anchor, heading, items in parts_of:
        parts.append(f'<li><a href="#{anchor}">{_esc(heading)}</a><ol>')
        parts += [
            f'<li><a href="#{"chart" if hasattr(i, "figure") else "table"}-{_esc(i.name)}">{_esc(i.title)}</a></li>'
            for i in items
        ]
        parts.append("</ol></li>")
    parts.append("</ol></nav>")
    for anchor, heading, items in parts_of:
        parts.append(f'<section class="part" id="{anchor}"><h2>{_esc(heading)}</h2>')
        for item in items:
            parts += _figure(item, images) if hasattr(item, "figure") else _table(item, cur)
        parts.append("</section>")
    if report.notes:
        parts.append('<section class="part" id="notes"><h2>Notes</h2>')
        parts += [f'<p class="note">{_esc(n)}</p>' for n in report.notes]
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
