"""The plain-text summary ``simcore run`` prints."""

from __future__ import annotations

from simcore.format import money, percent, table


def _row(label, dist, currency):
    return [
        label,
        money(dist["mean"], currency),
        money(dist["p10"], currency),
        money(dist["p50"], currency),
        money(dist["p90"], currency),
    ]


def summary_table(summary: dict) -> str:
    """Render the dict of :meth:`SimcoreAccessor.summary` as a readable table."""
    cur = summary.get("currency", "USD")
    head = (
        f"{summary['scenario']}: {summary['trials']:,} trials, seed {summary['seed']} "
        f"(simcore {summary['version']}, scenario {summary.get('scenario_hash', '')})"
    )
    header = ["", "mean", "P10", "P50", "P90"]
    blocks = [head, ""]
    for key, title in (
        ("bookings", "Bookings"),
        ("stage1_created", "Stage-1 created"),
        ("stage4_created", "Stage-4 created"),
    ):
        rows = [_row(p, d, cur) for p, d in summary[key]["by_period"].items()]
        rows.append(_row("Year", summary[key]["year"], cur))
        blocks.append(table(rows, [title] + header[1:]))
        blocks.append("")
    if summary.get("target") is not None:
        blocks.append(
            f"Target {money(summary['target'], cur, 2)}: P(year bookings >= target) = "
            f"{percent(summary['p_hit'])}"
        )
    blocks.append(f"Opportunities simulated per trial: {summary['deals_per_trial']:,.0f}")
    return "\n".join(blocks)
