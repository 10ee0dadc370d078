"""The fitted scenario as a document (the parsed form of a TOML file), its TOML text with a comment
on every fitted value, and its bank of open deals.

Python reads TOML (``tomllib``) but does not write it; the subset a scenario uses (tables,
arrays of tables, strings, numbers, dates, lists, inline tables) is small and regular, so it is
written here rather than adding a dependency.
"""

from __future__ import annotations

import datetime as _dt
import json
import math

import numpy as np
import pandas as pd

from simcore.format import money, percent

# A PERT on [low, high] with its mode in the middle is Beta(3, 3), whose 5-95% interval covers
# 62.2% of the range: half-width 2.645 standard errors puts the PERT's own 90% interval on the
# fitted 90% interval (1.645 standard errors).
PERT_HALF_WIDTH = 2.645


class Inline(dict):
    """A table written inline: ``{ mean = 0.25, strength = 40 }``."""


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isinf(v):
            return "inf"
        return f"{v:.6g}" if abs(v) < 1e15 else f"{v:.6e}"
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _key(k) -> str:
    k = str(k)
    return k if k and all(c.isalnum() or c in "_-" for c in k) else json.dumps(k)


def to_toml(doc: dict, comments: dict, header=()) -> str:
    """TOML text of ``doc``; ``comments[(path...)]`` is written after the value at that path.

    Examples
    --------
    >>> print(to_toml({"a": 1, "t": {"b": Inline(x=1)}}, {("a",): "one"}), end="")
    a = 1  # one
    <BLANKLINE>
    [t]
    b = { x = 1 }
    """
    out = [f"# {line}" for line in header]
    if out:
        out.append("")
    _table(doc, (), comments, out)
    return "\n".join(out).rstrip("\n") + "\n"


def _table(table, path, comments, out):
    scalars = [(k, v) for k, v in table.items() if not _is_table(v) and not _is_table_list(v)]
    if path and scalars:
        out.append("[" + ".".join(_key(p) for p in path) + "]")
    for k, v in scalars:
        note = comments.get((*path, k))
        out.append(f"{_key(k)} = {_value(v)}" + (f"  # {note}" if note else ""))
    if scalars:
        out.append("")
    for k, v in table.items():
        if _is_table_list(v):
            for item in v:
                out.append(f"[[{'.'.join(_key(p) for p in (*path, k))}]]")
                out.extend(f"{_key(a)} = {_value(b)}" for a, b in item.items())
                out.append("")
        elif _is_table(v):
            _table(v, (*path, k), comments, out)


def _is_table(v):
    return isinstance(v, dict) and not isinstance(v, Inline)


def _is_table_list(v):
    return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)


def _get(evidence, cell, parameter):
    # One lookup table per evidence frame: filtering the frame per value was most of the writing time.
    index = evidence.attrs.get("_by_key")
    if index is None:
        index = {(r["cell"], r["parameter"]): r for r in evidence.to_dict(orient="records")}
        evidence.attrs["_by_key"] = index
    return index.get((cell, parameter))


def _rate(row):
    a = row["estimate"] * _strength(row)
    mean = round(float(row["estimate"]), 6)
    if not 0.0 < mean < 1.0:
        # Nothing of the kind in the history (no push in thousands of decisions): the pooled
        # posterior mean is below a millionth, and a Beta needs a mean inside (0, 1). Write the
        # rate the evidence rounds to, fixed; the comment keeps the counts it rests on.
        return mean, a
    return Inline(mean=mean, strength=round(max(_strength(row), 2.0), 2)), a


def _strength(row):
    note = str(row["note"])
    return float(note.rsplit("strength ", 1)[1]) if "strength " in note else max(float(row["deals"]), 2.0)


def _pert(row, digits=2):
    est, lo, hi = float(row["estimate"]), float(row["low"]), float(row["high"])
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return round(est, digits)
    sd = (math.log(hi) - math.log(lo)) / (2 * 1.6448536269514722)
    return Inline(
        low=round(est * math.exp(-PERT_HALF_WIDTH * sd), digits),
        base=round(est, digits),
        high=round(est * math.exp(PERT_HALF_WIDTH * sd), digits),
    )


def _note(row, fmt=lambda x: f"{x:.3g}"):
    interval = f"90% {fmt(row['low'])}-{fmt(row['high'])}; " if math.isfinite(row["low"]) else ""
    return f"{interval}{row['note']} ({row['method']})"


def _dwell_block(evidence, cell, stage, name, families, dist_key, comments, path):
    mean = _get(evidence, cell, f"{name}_mean" if name == "push_delay" else f"dwell_mean[{stage}]")
    cv = _get(evidence, cell, f"{name}_cv" if name == "push_delay" else f"dwell_cv[{stage}]")
    if mean is None or not math.isfinite(mean["estimate"]):
        comments[(*path, "dist")] = "not fitted: no deal ended this spell yet; the scenario default applies"
        return {"dist": "lognormal"}
    block = {"dist": families.get(dist_key, "lognormal"), "mean": _pert(mean, 1)}
    comments[(*path, "mean")] = "days; " + _note(mean, lambda x: f"{x:.1f}")
    if block["dist"] != "exponential" and cv is not None and math.isfinite(cv["estimate"]):
        block["cv"] = round(min(float(cv["estimate"]), 10.0), 3)
        comments[(*path, "cv")] = _note(cv)
    return block


def _cell_block(evidence, label, smap, families, comments):
    path = ("cell", label)
    block = {"stages": {}, "decision": {}, "amount": {}, "creation": {}}
    for _s, name in enumerate(smap.names[:-1]):
        st = {}
        adv = _get(evidence, label, f"advance[{name}]")
        share = _get(evidence, "*", f"lost_competition_share[{name}]")
        st["advance"], _ = _rate(adv)
        comments[(*path, "stages", name, "advance")] = _note(adv, percent)
        st["lost_competition"] = round((1.0 - float(adv["estimate"])) * float(share["estimate"]), 6)
        comments[(*path, "stages", name, "lost_competition")] = (
            f"losses x {percent(share['estimate'])} to competition; {share['note']}"
        )
        growth = _get(evidence, label, f"growth[{name}]")
        if growth is not None:
            st["growth"] = round(float(growth["estimate"]), 4)
            comments[(*path, "stages", name, "growth")] = _note(growth)
        st["dwell"] = _dwell_block(
            evidence, label, name, "dwell", families, name, comments, (*path, "stages", name, "dwell")
        )
        block["stages"][name] = st
    dname = smap.names[-1]
    win = _get(evidence, label, "win")
    block["decision"]["win"], _ = _rate(win)
    comments[(*path, "decision", "win")] = _note(win, percent)
    push = _get(evidence, label, "push")
    if push is not None:
        block["decision"]["push"], _ = _rate(push)
        if push["estimate"] + win["estimate"] > 0.999:
            block["decision"]["push"] = round(0.999 - win["estimate"], 6)
        comments[(*path, "decision", "push")] = _note(push, percent)
    else:
        block["decision"]["push"] = 0.0
        comments[(*path, "decision", "push")] = "not fitted: without a stage history pushes cannot be seen"
    block["decision"]["dwell"] = _dwell_block(
        evidence, label, dname, "dwell", families, dname, comments, (*path, "decision", "dwell")
    )
    if _get(evidence, label, "push_delay_mean") is not None:
        block["decision"]["push_delay"] = _dwell_block(
            evidence,
            label,
            dname,
            "push_delay",
            families,
            "(push delay)",
            comments,
            (*path, "decision", "push_delay"),
        )
    _amount_block(evidence, label, block["amount"], comments, (*path, "amount"))
    count = _get(evidence, label, "creation_count")
    block["creation"]["count"] = round(float(count["estimate"]), 2)
    comments[(*path, "creation", "count")] = "deals a year; " + _note(count, lambda x: f"{x:.0f}")
    disp = _get(evidence, label, "dispersion")
    if disp is not None:
        block["creation"].update(
            process="negative_binomial", dispersion=round(max(float(disp["estimate"]), 0.01), 3)
        )
        comments[(*path, "creation", "dispersion")] = disp["note"]
    return block


def _amount_block(evidence, label, block, comments, path):
    median = _get(evidence, label, "median_amount")
    sigma = _get(evidence, label, "sigma")
    block["median"] = _pert(median, 0)
    comments[(*path, "median")] = _note(median, money)
    block["sigma"] = round(min(float(sigma["estimate"]), 3.6), 4)
    comments[(*path, "sigma")] = _note(sigma)
    whale = _get(evidence, label, "whale_probability")
    if whale is not None:
        block["whale_probability"] = round(float(whale["estimate"]), 4)
        block["whale_factor"] = round(
            min(max(float(_get(evidence, label, "whale_factor")["estimate"]), 1.0), 1000.0), 3
        )
        comments[(*path, "whale_probability")] = _note(whale, percent)


def scenario_document(name, as_of, horizon_weeks, values, smap, evidence, labels, diag, events):
    """The fitted scenario as a dict (what ``tomllib`` would parse) and the comments of its values."""
    comments = {}
    families = diag["dwell_family"]
    doc = {
        "name": name,
        "description": f"Fitted to CRM history as of {as_of.date()}",
        "start": as_of.date(),
        "horizon_weeks": int(horizon_weeks),
        "period": "quarter",
        "currency": "USD",
        "dimensions": {d: list(v) for d, v in values.items()},
        "stage": [{"name": n, "category": c} for n, c in zip(smap.names, smap.categories)],
        "defaults": {
            "market_loading": 0.0,
            "decision": {"max_pushes": 0, "win_decay": 1.0, "lost_competition_share": 0.5},
            "creation": {"per": "year", "seasonality": [round(x, 4) for x in diag["seasonality"]]},
        },
        "cell": {},
    }
    comments[("defaults", "market_loading")] = "not fitted: one history is one market; set it from judgement"
    comments[("defaults", "creation", "seasonality")] = diag["seasonality_note"]
    for parameter in ("max_pushes", "win_decay"):
        row = _get(evidence, "*", parameter)
        if row is not None:
            value = int(row["estimate"]) if parameter == "max_pushes" else round(float(row["estimate"]), 4)
            doc["defaults"]["decision"][parameter] = value
            comments[("defaults", "decision", parameter)] = _note(row)
    share = _get(evidence, "*", "lost_competition_share[decision]")
    doc["defaults"]["decision"]["lost_competition_share"] = round(float(share["estimate"]), 4)
    comments[("defaults", "decision", "lost_competition_share")] = _note(share, percent)
    for label in labels:
        doc["cell"][label] = _cell_block(evidence, label, smap, families, comments)
    doc["bank"] = {"csv": "__BANK_CSV__"}
    comments[("bank", "csv")] = (
        f"{int((events.deals['status'] == 'open').sum()):,} deals open on {as_of.date()}"
    )
    return doc, comments


def bank_frame(deals, smap, dims, evidence, labels, as_of):
    """The deals open at ``as_of`` as the bank CSV takes them; returns ``(frame, warnings)``."""
    open_ = deals[deals["status"] == "open"]
    warnings = []
    amount = open_["amount"].to_numpy(dtype=float)
    blank = ~(np.isfinite(amount) & (amount > 0))
    if blank.any():
        medians = evidence[evidence["parameter"] == "median_amount"].set_index("cell")["estimate"]
        amount = np.where(blank, medians.reindex([labels[c] for c in open_["cell"]]).to_numpy(), amount)
        warnings.append(
            f"{int(blank.sum())} open deals have no amount: in the bank at their cell's fitted median deal size"
        )
    created = (as_of + pd.to_timedelta(open_["created"].to_numpy(), unit="D")).normalize()
    close = as_of + pd.to_timedelta(np.nan_to_num(open_["close_date"].to_numpy(), nan=-1e6), unit="D")
    close = pd.Series(close).where(
        (open_["close_date"].to_numpy() >= 0) & np.isfinite(open_["close_date"].to_numpy())
    )
    frame = pd.DataFrame(
        {d: open_[d].to_numpy() for d in dims} if dims != ["segment"] else {"segment": "all"},
        index=range(len(open_)),
    )
    frame["stage"] = (
        np.array(smap.names, dtype=object)[open_["stage"].to_numpy(dtype=np.int64)] if len(open_) else []
    )
    frame["amount"] = np.round(amount, 2)
    frame["created"] = pd.Series(created).dt.strftime("%Y-%m-%d").to_numpy()
    frame["expected_close"] = close.dt.strftime("%Y-%m-%d").fillna("").to_numpy()
    return frame, warnings
