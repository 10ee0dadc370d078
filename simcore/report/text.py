"""The plain-text summary ``simcore run`` prints."""

from __future__ import annotations

from simcore.format import exact_money, percent, text_table


def _row(label, dist):
    return [label, dist["mean"], dist["p10"], dist["p50"], dist["p90"]]


def summary_table(summary: dict, stages=None) -> str:
    """Render the dict of :meth:`SimcoreAccessor.summary` as a readable table.

    Parameters
    ----------
    summary : dict
    stages : tuple of str, optional
        The first stage and the decision stage as the scenario names them (for the creation
        tables' headings); default ``summary["stage_names"]`` if it is there, else the words of
        the four-stage plans (``Stage-1``, ``Stage-4``): callers that have the scenario pass them.
    """
    cur = summary.get("currency", "USD")
    first, decision = stages or summary.get("stage_names") or ("Stage-1", "Stage-4")
    head = (
        f"{summary['scenario']}: {summary['trials']:,} trials, seed {summary['seed']} "
        f"(simcore {summary['version']}, scenario {summary.get('scenario_hash', '')})"
    )
    header = ["", "mean", "P10", "P50", "P90"]
    blocks = [head, ""]
    for key, title in (
        ("bookings", "Bookings"),
        ("stage1_created", f"{first} created"),
        ("stage4_created", f"{decision} created"),
    ):
        rows = [_row(p, d) for p, d in summary[key]["by_period"].items()]
        rows.append(_row("Year", summary[key]["year"]))
        blocks.append(text_table(rows, [title] + header[1:], ["text"] + ["money"] * 4, cur))
        blocks.append("")
    if summary.get("target") is not None:
        blocks.append(
            f"Target {exact_money(summary['target'], cur)}: P(year bookings >= target) = "
            f"{percent(summary['p_hit'])}"
        )
    blocks.append(f"Opportunities simulated per trial: {summary['deals_per_trial']:,.0f}")
    if summary.get("attainment"):
        rows = [
            [level] + [percent(d[k]) for k in ("mean", "p10", "p50", "p90")]
            for level, d in summary["attainment"].items()
        ]
        blocks.append("")
        blocks.append(
            text_table(
                rows, ["Creation attainment (share of plan delivered)"] + header[1:], ["text"] * 5, cur
            )
        )
    if summary.get("capacity"):
        blocks.extend(["", capacity_text(summary["capacity"])])
    return "\n".join(blocks)


def capacity_text(report: dict) -> str:
    """The capacity report of :meth:`SimcoreAccessor.summary` as plain text: creation needed
    against available by period and role, and the open deals against what the carrying roles carry.
    """
    limited = [r for r in report["creation"] if r["binding"]]
    if limited:
        where = ", ".join(f"{r['role']} in {r['period']}" for r in limited)
        head = f"CAPACITY-LIMITED: the plan asks more than the team can create ({where}); that creation is not created."
    else:
        head = "Capacity: the team can create the whole plan."
    blocks = [head]
    if report["creation"]:
        rows = [
            [
                r["period"],
                r["role"],
                r["needed"],
                r["available"],
                r["heads"],
                r["heads_needed"],
                "yes" if r["binding"] else "",
            ]
            for r in report["creation"]
        ]
        header = [
            "Creation capacity",
            "role",
            "opps needed",
            "opps available",
            "heads",
            "heads needed",
            "binds",
        ]
        blocks.append(
            text_table(rows, header, ["text", "text", "number", "number", "number", "number", "text"])
        )
    if report["carrying"]:
        rows = [
            [
                r["period"],
                r["role"],
                r.get("needed_p50"),
                r.get("needed_p90"),
                r["available"],
                "yes" if r.get("binding") else "",
            ]
            for r in report["carrying"]
        ]
        header = ["Open deals at period end", "role", "P50", "P90", "can carry", "over"]
        blocks.append(text_table(rows, header, ["text", "text", "number", "number", "number", "text"]))
    return "\n\n".join(blocks)
