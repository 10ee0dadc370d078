"""The scenario format, declared once.

The same declaration checks scenario files (:func:`check`), generates the published
JSON Schema (:func:`json_schema`, written to ``simcore/scenario.schema.json``) and
guides the merge of parameter blocks (``defaults`` -> ``by.<dimension>.<value>`` ->
``cell."<a>/<b>"``). Field docs here are the reference docs of the format.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import unicodedata
from dataclasses import dataclass

# Longest plan accepted (20 years): the calendar, creation tables and outputs grow with it.
# Largest quarter-over-quarter creation ratio an optimizer ramp limit may name.
MAX_RAMP = 1000.0
MAX_HORIZON_WEEKS = 1040
# Most opportunities one cell may plan to create over the horizon: far beyond any B2B plan,
# so a plan above it is a units mistake (dollars typed as cents, a count per year as per week).
MAX_OPPORTUNITIES_PER_CELL = 2_000_000
# Largest single deal size, in dollars: a trillion is a units mistake, and keeps sums finite.
MAX_DOLLARS = 1e12
# Smallest single deal size, in dollars (one cent): below it a deal is a units mistake, and
# dollars divided among many deals would underflow towards $0.
MIN_DOLLARS = 0.01
# Largest total in dollars (a target, a plan per period, a bank, a budget): a thousand times the
# largest deal. Every sum the engine makes of such numbers stays far inside float range.
MAX_TOTAL_DOLLARS = 1e15
# Longest mean dwell or push delay, in days (100 years): a deal that waits longer never
# decides within any horizon, and a bound keeps the PERT and gamma draws finite.
MAX_DWELL_DAYS = 36_500
# Smallest coefficient of variation of a gamma dwell: its shape is 1 / cv^2, and above a shape
# of a million the draw is a constant to any precision a plan needs (give dist = "fixed").
MIN_GAMMA_CV = 0.001
# Most cells (combinations of dimension values): every cell is resolved, compiled and
# simulated separately, and the outputs grow with cells x periods x trials.
MAX_CELLS = 2_000
# Most dimensions, open stages and values of one dimension.
MAX_DIMENSIONS = 8
MAX_STAGES = 20
# Most entries of one empirical deal-size list, and of all cells' lists together.
MAX_EMPIRICAL = 100_000
# Largest multiplier (share, uplift, a ratio of win_loss_push, cost per dollar).
MAX_MULTIPLIER = 1000.0
MAX_RATIO = 1e12
# Largest negative binomial dispersion: above it the count is Poisson to double precision
# (give process = "poisson"), and scipy's CDF loses its digits.
MAX_DISPERSION = 1e6
# Smallest dispersion: the count tables reach 40 standard deviations, and below 0.1 the
# negative binomial's tail beyond them holds more than a millionth of the mean (at 0.01, 0.3%).
MIN_DISPERSION = 0.1
# Earliest plan start: an earlier year is a typo, and the calendar's fiscal periods need room.
EARLIEST_START = _dt.date(1900, 1, 1)
# Longest name (dimension, value, stage, variant), in characters.
MAX_NAME_LENGTH = 200
UNCERTAIN_PERT = ("low", "base", "high")
UNCERTAIN_BETA = ("mean", "strength")
# A Beta's strength (a + b) is like a number of past deals observed; a million is certainty.
MAX_STRENGTH = 1e6
# Below one deal's worth of evidence the Beta is two spikes at 0 and 1, and its gamma draws
# underflow (0 / 0): a strength under 1 is refused.
MIN_STRENGTH = 1.0


_FLOAT_MAX = 1.7976931348623157e308


class Node:
    doc = ""

    def check(self, value, path, ctx, out):  # pragma: no cover - interface
        raise NotImplementedError

    def schema(self):  # pragma: no cover - interface
        raise NotImplementedError


class Anything(Node):
    """Any value (checked later, where it lands)."""

    def check(self, value, path, ctx, out):
        return

    def schema(self):
        return {}


def _type_name(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int) and abs(value) > _FLOAT_MAX:
        return "a number of over 308 digits"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {_short(value)!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, _dt.datetime):
        return "a date-time"
    if isinstance(value, _dt.date):
        return "a date"
    return type(value).__name__


def _short(text, n=60):
    return text if len(text) <= n else text[: n - 3] + "..."


def text_problem(value, name=False):
    """What is wrong with a text value, or None: control characters (a NUL cannot be stored in
    the results file) and, for a ``name`` (dimension, value, stage, variant), an empty text,
    a ``/`` (it joins a cell's values, and netCDF refuses it in names) or over
    :data:`MAX_NAME_LENGTH` characters.
    """
    allowed = "" if name else "\t\n\r"
    bad = next((ch for ch in value if unicodedata.category(ch) == "Cc" and ch not in allowed), None)
    if bad is not None:
        return f"contains the control character U+{ord(bad):04X}: names and text must be printable"
    if name:
        if not value.strip():
            return "a name must not be empty or blank"
        if "/" in value:
            return f"a name must not contain '/' (it joins a cell's values, as in \"inbound/CMP\"), got {_short(value)!r}"
        if len(value) > MAX_NAME_LENGTH:
            return f"a name must be at most {MAX_NAME_LENGTH} characters, got {len(value)}"
    return None


def _number_text(x):
    """``1000000000000.0`` -> ``1,000,000,000,000``; ``0.5`` -> ``0.5``."""
    if x is None:
        return None
    return f"{int(x):,}" if float(x).is_integer() and abs(x) >= 1e4 else f"{x:g}"


class Number(Node):
    """A number with bounds; ``uncertain`` allows a PERT (and, for rates, a Beta) table."""

    def __init__(
        self,
        doc="",
        minimum=None,
        maximum=None,
        exclusive_minimum=False,
        integer=False,
        uncertain=False,
        rate=False,
    ):
        self.doc = doc
        self.minimum = minimum
        self.maximum = maximum
        self.exclusive_minimum = exclusive_minimum
        self.integer = integer
        self.uncertain = uncertain
        self.rate = rate

    def bounds_text(self):
        lo = _number_text(self.minimum)
        hi = _number_text(self.maximum)
        if lo is not None and hi is not None:
            left = "(" if self.exclusive_minimum else "["
            return f"in {left}{lo}, {hi}]"
        if lo is not None:
            return f"{'>' if self.exclusive_minimum else '>='} {lo}"
        return f"<= {hi}"

    def _check_number(self, value, path, out, what="must be"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a whole number" if self.integer else "a number"
            out.append((path, f"{what} {kind}, got {_type_name(value)}"))
            return False
        if self.integer and not isinstance(value, int):
            out.append((path, f"{what} a whole number, got {value!r}"))
            return False
        if isinstance(value, float) and not math.isfinite(value):
            out.append((path, f"{what} a finite number, got {value!r}"))
            return False
        if isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
            digits = int(value.bit_length() * math.log10(2)) + 1  # str() of a huge int may raise
            out.append((path, f"{what} a number of at most 308 digits, got one of about {digits} digits"))
            return False
        lo, hi = self.minimum, self.maximum
        bad = (lo is not None and (value <= lo if self.exclusive_minimum else value < lo)) or (
            hi is not None and value > hi
        )
        if bad:
            label = "probability" if self.rate else "value"
            out.append((path, f"{label} {value!r} is out of range: must be {self.bounds_text()}"))
            return False
        return True

    def check(self, value, path, ctx, out):
        if isinstance(value, dict):
            if not self.uncertain:
                out.append((path, "must be a number, got a table (this field cannot be uncertain)"))
                return
            keys = set(value)
            if keys == set(UNCERTAIN_PERT):
                # Each bound is checked (and reported) on its own, not only up to the first bad one.
                checked = [self._check_number(value[k], path + [k], out) for k in UNCERTAIN_PERT]
                ok = all(checked)
                if ok and not value["low"] <= value["base"] <= value["high"]:
                    out.append(
                        (
                            path,
                            "uncertain value needs low <= base <= high, got "
                            f"low={value['low']!r}, base={value['base']!r}, high={value['high']!r}",
                        )
                    )
            elif keys == set(UNCERTAIN_BETA) and self.rate:
                m, k = value["mean"], value["strength"]
                if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m < 1:
                    out.append((path + ["mean"], f"Beta mean must be a number in (0, 1), got {m!r}"))
                if (
                    isinstance(k, bool)
                    or not isinstance(k, (int, float))
                    or not MIN_STRENGTH <= k <= MAX_STRENGTH
                ):
                    out.append(
                        (
                            path + ["strength"],
                            f"Beta strength must be a number in [{MIN_STRENGTH:g}, {MAX_STRENGTH:,.0f}] "
                            f"(a + b, like a count of past deals), got {k!r}",
                        )
                    )
            else:
                forms = "{low, base, high}" + (" or {mean, strength}" if self.rate else "")
                out.append((path, f"an uncertain value is a table {forms}, got keys {sorted(keys)}"))
            return
        self._check_number(value, path, out)

    def schema(self):
        number = {"type": "integer" if self.integer else "number"}
        if self.minimum is not None:
            number["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            number["maximum"] = self.maximum
        if not self.uncertain:
            return {**number, "description": self.doc}
        forms = [
            number,
            {
                "type": "object",
                "description": "PERT: drawn once per trial and cell",
                "properties": dict.fromkeys(UNCERTAIN_PERT, number),
                "required": list(UNCERTAIN_PERT),
                "additionalProperties": False,
            },
        ]
        if self.rate:
            forms.append(
                {
                    "type": "object",
                    "description": "Beta by mean and strength (a + b)",
                    "properties": {
                        "mean": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                        "strength": {"type": "number", "minimum": MIN_STRENGTH, "maximum": MAX_STRENGTH},
                    },
                    "required": list(UNCERTAIN_BETA),
                    "additionalProperties": False,
                }
            )
        return {"anyOf": forms, "description": self.doc}


def Rate(doc, uncertain=True):
    return Number(doc, 0.0, 1.0, uncertain=uncertain, rate=True)


class Text(Node):
    def __init__(self, doc="", choices=None, context_choices=None, name=False, max_len=None):
        self.doc = doc
        self.choices = choices
        self.context_choices = context_choices  # name of a list in ctx
        self.name = name  # a dimension, value, stage or variant name: see text_problem
        self.max_len = max_len

    def check(self, value, path, ctx, out):
        if not isinstance(value, str):
            out.append((path, f"must be text, got {_type_name(value)}"))
            return
        problem = text_problem(value, self.name)
        if problem is None and self.max_len is not None and len(value) > self.max_len:
            problem = f"must be at most {self.max_len:,} characters, got {len(value):,}"
        if problem is not None:
            out.append((path, problem))
            return
        choices = self.choices or (ctx.get(self.context_choices) if self.context_choices else None)
        if choices is not None and value not in choices:
            out.append((path, f"unknown value {value!r}{expected(value, choices)}"))

    def schema(self):
        out = {"type": "string", "description": self.doc}
        if self.choices:
            out["enum"] = list(self.choices)
        elif self.name:
            out.update(minLength=1, maxLength=MAX_NAME_LENGTH, pattern=NAME_PATTERN)
        elif self.max_len is not None:
            out["maxLength"] = self.max_len
        return out


# JSON Schema form of text_problem(name=True): no "/" and no control character, not blank.
NAME_PATTERN = "^[^/\\u0000-\\u001f\\u007f-\\u009f]*[^/\\s\\u0000-\\u001f\\u007f-\\u009f][^/\\u0000-\\u001f\\u007f-\\u009f]*$"


class Boolean(Node):
    def __init__(self, doc=""):
        self.doc = doc

    def check(self, value, path, ctx, out):
        if not isinstance(value, bool):
            out.append((path, f"must be true or false, got {_type_name(value)}"))

    def schema(self):
        return {"type": "boolean", "description": self.doc}


class Date(Node):
    def __init__(self, doc=""):
        self.doc = doc

    def check(self, value, path, ctx, out):
        if isinstance(value, _dt.datetime) or not isinstance(value, _dt.date):
            out.append((path, f"must be a date like 2026-01-01 (no quotes), got {_type_name(value)}"))

    def schema(self):
        return {"type": "string", "format": "date", "description": self.doc}


class ListOf(Node):
    def __init__(self, item, doc="", min_len=0, length=None, unique=False, max_len=None):
        self.item = item
        self.doc = doc
        self.min_len = min_len
        self.length = length
        self.unique = unique
        self.max_len = max_len

    def check(self, value, path, ctx, out):
        if not isinstance(value, list):
            out.append((path, f"must be a list, got {_type_name(value)}"))
            return
        if self.length is not None and len(value) != self.length:
            out.append((path, f"must have exactly {self.length} entries, got {len(value)}"))
        elif self.max_len is not None and len(value) > self.max_len:
            out.append((path, f"must have at most {self.max_len:,} entries, got {len(value):,}"))
            return  # its entries are not checked one by one: there may be millions
        elif len(value) < self.min_len:
            out.append(
                (
                    path,
                    f"must have at least {self.min_len} entr{'y' if self.min_len == 1 else 'ies'}, "
                    f"got {len(value)}",
                )
            )
        for i, item in enumerate(value):
            self.item.check(item, path + [i], ctx, out)
        if self.unique:
            seen = set()
            for item in value:
                if isinstance(item, str) and item in seen:
                    out.append((path, f"{item!r} appears more than once"))
                seen.add(item) if isinstance(item, str) else None

    def schema(self):
        out = {"type": "array", "items": self.item.schema(), "description": self.doc}
        if self.length is not None:
            out["minItems"] = out["maxItems"] = self.length
        elif self.min_len:
            out["minItems"] = self.min_len
        if self.max_len is not None and self.length is None:
            out["maxItems"] = self.max_len
        return out


class NumberOrList(Node):
    """A number, or a list of numbers (one per period of ``per``)."""

    def __init__(self, number, doc="", max_len=None):
        self.number = number
        self.doc = doc
        self.max_len = max_len

    def check(self, value, path, ctx, out):
        if isinstance(value, list):
            if not value:
                out.append((path, "the plan is empty: give a number, or one number per period"))
            if self.max_len is not None and len(value) > self.max_len:
                out.append((path, f"must have at most {self.max_len:,} entries, got {len(value):,}"))
                return
            for i, item in enumerate(value):
                self.number.check(item, path + [i], ctx, out)
        else:
            self.number.check(value, path, ctx, out)

    def schema(self):
        n = self.number.schema()
        array = {"type": "array", "items": n, "minItems": 1}
        if self.max_len is not None:
            array["maxItems"] = self.max_len
        return {"anyOf": [n, array], "description": self.doc}


class Table(Node):
    """Named fields. ``two_forms``: pairs of key groups that say the same thing two ways
    (``win_loss_push`` or ``win``/``push``/...); one table may use only one form of each.
    """

    def __init__(self, fields, doc="", required=(), two_forms=()):
        self.fields = fields
        self.doc = doc
        self.required = tuple(required)
        self.two_forms = tuple(two_forms)

    def check(self, value, path, ctx, out):
        if not isinstance(value, dict):
            out.append((path, f"must be a table, got {_type_name(value)}"))
            return
        for one, other in self.two_forms:
            a = [k for k in one if k in value]
            b = [k for k in other if k in value]
            if a and b:
                out.append(
                    (
                        path,
                        f"gives both {' and '.join(a)} and {' and '.join(b)}: they are two "
                        f"forms of the same thing, give one",
                    )
                )
        for key, item in value.items():
            node = self.fields.get(key)
            if node is None:
                out.append((path + [key], f"unknown key {key!r}{did_you_mean(key, self.fields)}"))
                continue
            node.check(item, path + [key], ctx, out)
        for key in self.required:
            if key not in value:
                out.append((path + [key], "is required but missing"))

    def schema(self):
        out = {
            "type": "object",
            "description": self.doc,
            "additionalProperties": False,
            "properties": {k: v.schema() for k, v in self.fields.items()},
            **({"required": list(self.required)} if self.required else {}),
        }
        if self.two_forms:
            out["allOf"] = [
                {
                    "not": {
                        "allOf": [
                            {"anyOf": [{"required": [k]} for k in one]},
                            {"anyOf": [{"required": [k]} for k in other]},
                        ]
                    }
                }
                for one, other in self.two_forms
            ]
        return out


class MapOf(Node):
    """A table whose keys come from the scenario (stage names, dimension values)."""

    def __init__(self, value, doc="", keys=None, key_doc="name", names=False, max_len=None):
        self.value = value
        self.doc = doc
        self.keys = keys  # name of a list in ctx, or None for any key
        self.key_doc = key_doc
        self.names = names  # the keys are names the results store: see text_problem
        self.max_len = max_len

    def check(self, value, path, ctx, out):
        if not isinstance(value, dict):
            out.append((path, f"must be a table, got {_type_name(value)}"))
            return
        if self.max_len is not None and len(value) > self.max_len:
            out.append((path, f"must have at most {self.max_len:,} entries, got {len(value):,}"))
            return
        allowed = ctx.get(self.keys) if self.keys else None
        for key, item in value.items():
            if not self.names:
                problem = None
            elif isinstance(key, str):
                problem = text_problem(key, name=True)
            else:  # only from Python: TOML keys are always text
                problem, key = f"a name must be text, got {_type_name(key)}", str(key)
            if problem is not None:
                out.append((path + [key], f"{self.key_doc} {_short(key)!r}: {problem}"))
                continue
            if allowed is not None and key not in allowed:
                stages = ctx.get("stages") or []
                if self.keys == "open_stages" and stages and key == stages[-1]:
                    out.append(
                        (
                            path + [key],
                            f"{key!r} is the decision stage: its parameters go in "
                            f"[decision], not under stages",
                        )
                    )
                elif self.keys == "open_stages" and not allowed:
                    out.append(
                        (
                            path + [key],
                            f"unknown stage {key!r}: the scenario's only stage is the "
                            f"decision stage, set under [decision]",
                        )
                    )
                else:
                    out.append((path + [key], f"unknown {self.key_doc} {key!r}{expected(key, allowed)}"))
                continue
            self.value.check(item, path + [key], ctx, out)

    def schema(self):
        out = {"type": "object", "description": self.doc, "additionalProperties": self.value.schema()}
        if self.names:
            out["propertyNames"] = {"minLength": 1, "maxLength": MAX_NAME_LENGTH, "pattern": NAME_PATTERN}
        if self.max_len is not None:
            out["maxProperties"] = self.max_len
        return out


def did_you_mean(word, choices):
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def expected(word, choices):
    """`` (did you mean 'x'?); expected one of 'x', 'y'`` for an unknown name."""
    if not choices:
        return "; the scenario declares none here"
    return f"{did_you_mean(word, choices)}; expected one of {', '.join(map(repr, choices))}"


# ---------------------------------------------------------------------------------------
# The parameter block: every docs/model.md quantity, settable per cell with inheritance.

DWELL_FAMILIES = ("lognormal", "gamma", "exponential", "fixed")


def Distribution(doc):
    return Table(
        {
            "dist": Text("family: lognormal (default), gamma, exponential or fixed", DWELL_FAMILIES),
            "mean": Number(
                "mean, in days; may be uncertain (a dwell scale)",
                0.0,
                MAX_DWELL_DAYS,
                exclusive_minimum=True,
                uncertain=True,
            ),
            "cv": Number(
                "coefficient of variation (sd / mean); ignored by exponential and fixed; "
                f"gamma needs at least {MIN_GAMMA_CV:g}",
                0.0,
                10.0,
            ),
        },
        doc,
    )


STAGE = Table(
    {
        "advance": Rate("probability of advancing to the next stage at the end of the dwell"),
        "lost_competition": Rate("probability of a loss to competition at this stage", uncertain=False),
        "lost_no_decision": Rate(
            "probability of a loss to no decision at this stage (default: the rest)", uncertain=False
        ),
        "dwell": Distribution("time spent in the stage before the outcome, in days"),
        "growth": Number(
            "amount multiplier applied on advancing out of this stage",
            0.0,
            10.0,
            exclusive_minimum=True,
            uncertain=True,
        ),
    },
    "one open stage before the decision stage",
)

DECISION = Table(
    {
        "win": Rate("probability the decision is a win"),
        "lost_competition": Rate("probability the decision is a loss to competition", uncertain=False),
        "lost_no_decision": Rate(
            "probability the decision is a loss to no decision (default: the rest)", uncertain=False
        ),
        "push": Rate("probability the buyer defers: the deal stays open and decides again later"),
        "win_loss_push": ListOf(
            Number("", 0.0, MAX_RATIO), "ratio form, e.g. [1, 2, 1]: win : loss : push", length=3
        ),
        "lost_competition_share": Rate(
            "share of losses that go to competition when losses are not split", uncertain=False
        ),
        "dwell": Distribution("time in the decision stage before the first decision, in days"),
        "push_delay": Distribution("delay to the next decision after a push, in days"),
        "win_decay": Number(
            "win probability multiplier per push already taken (lost mass goes to no decision)",
            0.0,
            1.0,
            uncertain=True,
        ),
        "max_pushes": Number(
            "pushes allowed; the next push becomes lost to no decision", 0, 1000, integer=True
        ),
    },
    "the decision stage (the last open stage)",
    two_forms=[(("win_loss_push",), ("win", "lost_competition", "lost_no_decision", "push"))],
)

AMOUNT = Table(
    {
        "median": Number(
            "median deal size at creation, in dollars",
            MIN_DOLLARS,
            MAX_DOLLARS,
            uncertain=True,
        ),
        "p90_ratio": Number("spread: 90th percentile / median of the lognormal", 1.0, 100.0),
        "sigma": Number("spread: sigma of log amount", 0.0, 3.6),
        "empirical": ListOf(
            Number("", MIN_DOLLARS, MAX_DOLLARS),
            "historical deal sizes in dollars, resampled instead of the lognormal",
            min_len=1,
            max_len=MAX_EMPIRICAL,
        ),
        "whale_probability": Rate("probability a deal is a whale"),
        "whale_factor": Number(
            "whale amount multiplier (fixed, or the low end with whale_factor_max)",
            1.0,
            1000.0,
            uncertain=True,
        ),
        "whale_factor_max": Number(
            "if given, each whale's factor is uniform in [whale_factor, this]", 1.0, 1000.0
        ),
        "floor": Number("smallest deal size, in dollars", 0.0, MAX_DOLLARS),
        "cap": Number("largest deal size, in dollars", 0.0, MAX_DOLLARS, exclusive_minimum=True),
    },
    "deal size at creation: lognormal by median and spread, or empirical; whale overlay; floor and cap",
    two_forms=[(("empirical",), ("median",)), (("p90_ratio",), ("sigma",))],
)

PERIODS = ("week", "month", "quarter", "year")

CREATION = Table(
    {
        "per": Text("the period a plan number is for: week, month, quarter or year", PERIODS),
        "dollars": NumberOrList(
            Number("", 0.0, MAX_TOTAL_DOLLARS),
            "planned pipeline dollars per period (a number, or one per period of the horizon)",
            max_len=MAX_HORIZON_WEEKS + 1,
        ),
        "count": NumberOrList(
            Number("", 0.0, MAX_OPPORTUNITIES_PER_CELL),
            "planned opportunity count per period (instead of dollars)",
            max_len=MAX_HORIZON_WEEKS + 1,
        ),
        "share": Number(
            "multiplier on dollars/count, e.g. a product's share of its source's plan", 0.0, MAX_MULTIPLIER
        ),
        "process": Text(
            "poisson (default) or negative_binomial for lumpy sources", ("poisson", "negative_binomial")
        ),
        "dispersion": Number(
            "negative binomial size (smaller is lumpier): variance = mean + mean^2 / dispersion; "
            "above the maximum it is Poisson (use poisson)",
            MIN_DISPERSION,
            MAX_DISPERSION,
        ),
        "seasonality": ListOf(
            Number("", 0.0, 1000.0),
            "12 monthly indices, Jan..Dec, relative (normalised to mean 1)",
            length=12,
        ),
        "uplift": Number("program uplift multiplier on the expected count", 0.0, MAX_MULTIPLIER),
    },
    "pipeline creation in the cell's entry stage",
    two_forms=[(("dollars",), ("count",))],
)

CONVERSION = Table(
    {
        "to_decision": Rate(
            "cumulative rate from the entry stage to the decision stage (e.g. stage 1->4 = "
            "50%); split geometrically over stages without an advance rate of their own"
        ),
        "lost_competition_share": Rate(
            "share of pre-decision losses that go to competition (default 0.5)", uncertain=False
        ),
    },
    "conversion as planners state it",
)

BLOCK = Table(
    {
        "entry_stage": Text("stage new opportunities enter (default: the first)", context_choices="stages"),
        "market_loading": Number(
            "loading of the cell's win rate on the market factor (log-odds per sd)", -10.0, 10.0
        ),
        "conversion": CONVERSION,
        "stages": MapOf(
            STAGE,
            "per-stage parameters, by stage name (not the decision stage)",
            keys="open_stages",
            key_doc="stage",
        ),
        "decision": DECISION,
        "amount": AMOUNT,
        "creation": CREATION,
        "cost_per_dollar": Number(
            "cost of one planned pipeline dollar (for the optimizer)", 0.0, MAX_MULTIPLIER
        ),
    },
    "parameters of a cell; the most specific level wins",
)

CATEGORIES = ("pipeline", "best_case", "commit")

AGGREGATE_BANK = Table(
    {
        "stage": Text("stage the deals are in", context_choices="stages"),
        "dollars": Number("open dollars", 0.0, MAX_TOTAL_DOLLARS, exclusive_minimum=True),
        "count": Number("number of open deals", 1, MAX_OPPORTUNITIES_PER_CELL, integer=True),
    },
    "open pipeline of one cell and stage at start; add one key per dimension",
    required=("stage", "dollars", "count"),
)

SCENARIO = Table(
    {
        "name": Text("scenario name", max_len=MAX_NAME_LENGTH),
        "description": Text("what the scenario is", max_len=10_000),
        "start": Date("first day of the plan"),
        "horizon_weeks": Number(
            "length of the plan in weeks (default 52)", 1, MAX_HORIZON_WEEKS, integer=True
        ),
        "end": Date("last day of the plan (instead of horizon_weeks)"),
        "fiscal_year_start_month": Number("first month of the fiscal year", 1, 12, integer=True),
        "period": Text("reporting period of the results", PERIODS[:3]),
        "target": Number(
            "bookings target for the whole horizon, in dollars",
            0.0,
            MAX_TOTAL_DOLLARS,
            exclusive_minimum=True,
        ),
        "period_targets": ListOf(
            Number("", 0.0, MAX_TOTAL_DOLLARS),
            "bookings target per reporting period, in dollars",
            max_len=MAX_HORIZON_WEEKS + 1,
        ),
        "currency": Text("currency code of every amount", max_len=16),
        "sampling": Text(
            "how each trial's assumptions and market factor are drawn: random (plain Monte Carlo), "
            "lhs (replicated Latin hypercube) or sobol (scrambled Sobol')",
            ("random", "lhs", "sobol"),
        ),
        "dimensions": MapOf(
            ListOf(Text(name=True), min_len=1, unique=True, max_len=MAX_CELLS),
            'dimension name -> its values, e.g. source = ["inbound", ...]',
            key_doc="dimension",
            names=True,
            max_len=MAX_DIMENSIONS,
        ),
        "stage": ListOf(
            Table(
                {"name": Text("stage name", name=True), "category": Text("forecast category", CATEGORIES)},
                required=("name", "category"),
            ),
            "ordered open stages; the last is the decision stage",
            min_len=1,
            max_len=MAX_STAGES,
        ),
        "defaults": BLOCK,
        "by": MapOf(
            MapOf(BLOCK, keys=None),
            "overrides per dimension value: by.<dimension>.<value>",
            keys="dimension_names",
            key_doc="dimension",
        ),
        "cell": MapOf(BLOCK, 'overrides per cell: cell."inbound/CMP"', keys="cell_names", key_doc="cell"),
        "bank": Table(
            {
                "csv": Text(
                    "CSV of open deals (dimension columns, stage, amount, created, expected_close), "
                    "relative to the scenario's folder and inside it",
                    max_len=4096,
                ),
                "aggregate": ListOf(Anything(), "aggregate open pipeline by cell and stage"),
            },
            "the starting pipeline (the bank at start)",
        ),
        "funnel": Table(
            {
                "bookings": Number(
                    "bookings the funnel backsolves from, in dollars (default: target)",
                    0.0,
                    MAX_TOTAL_DOLLARS,
                    exclusive_minimum=True,
                ),
                "starting_bank": Number(
                    "stage-4 bank the plan needs at start, in dollars (default: the "
                    "decision-stage dollars of [bank])",
                    0.0,
                    MAX_TOTAL_DOLLARS,
                ),
                "ending_bank": Number(
                    "stage-4 bank wanted at the end of the horizon, in dollars", 0.0, MAX_TOTAL_DOLLARS
                ),
                "current_bank": Number(
                    "today's stage-4 bank, in dollars (for the bank gap)", 0.0, MAX_TOTAL_DOLLARS
                ),
                "current_bank_date": Date("the date of current_bank (before start)"),
            },
            "plan inputs of the deterministic funnel (simcore funnel), not used by the simulation",
        ),
        "optimize": Table(
            {
                "confidence": Number(
                    "P(bookings over the horizon >= target) the plan must reach (default 0.9)", 0.0, 1.0
                ),
                "objective": Text(
                    "creation (least stage-1 dollars, default), cost (least cost_per_dollar x dollars) "
                    "or p_hit (highest confidence within budget)",
                    ("creation", "cost", "p_hit"),
                ),
                "budget": Number(
                    "total cost in dollars, for objective p_hit",
                    0.0,
                    MAX_TOTAL_DOLLARS,
                    exclusive_minimum=True,
                ),
                "bank_build_weeks": Number(
                    "weeks left to build the required starting bank (default: from "
                    "[funnel] current_bank_date)",
                    0.0,
                    MAX_HORIZON_WEEKS,
                    exclusive_minimum=True,
                ),
                "ramp": Number(
                    "largest quarter-over-quarter ratio of a source's weekly creation, both ways "
                    "(default 1.5; 0 lifts it)",
                    0.0,
                    MAX_RAMP,
                ),
                "ending_bank": Number(
                    "decision-stage bank the horizon must end with, in dollars (default, when [funnel] "
                    "plans an ending bank: what the spreadsheet plan, simulated, ends with; 0 lifts it)",
                    0.0,
                    MAX_TOTAL_DOLLARS,
                ),
                "ending_bank_confidence": Number(
                    "P(ending decision-stage bank >= ending_bank) required (default 0.5)", 0.0, 1.0
                ),
                "source": MapOf(
                    Table(
                        {
                            "ramp": Number("this source's ramp limit (see optimize.ramp)", 0.0, MAX_RAMP),
                            "min": Number(
                                "least stage-1 pipeline over the horizon, in dollars", 0.0, MAX_TOTAL_DOLLARS
                            ),
                            "max": Number(
                                "most stage-1 pipeline over the horizon (a credible ceiling), in dollars",
                                0.0,
                                MAX_TOTAL_DOLLARS,
                            ),
                            "min_per_quarter": Number(
                                "least stage-1 pipeline per quarter, in dollars", 0.0, MAX_TOTAL_DOLLARS
                            ),
                            "max_per_quarter": Number(
                                "most stage-1 pipeline per quarter, in dollars", 0.0, MAX_TOTAL_DOLLARS
                            ),
                            "capacity_per_week": Number(
                                "opportunities the team can create per week (headcount x "
                                "meetings per week x conversion)",
                                0.0,
                                MAX_OPPORTUNITIES_PER_CELL,
                            ),
                            "capacity_dollars_per_week": Number(
                                "stage-1 pipeline dollars the team can create per week",
                                0.0,
                                MAX_TOTAL_DOLLARS,
                            ),
                        },
                        "limits on one source's planned creation",
                    ),
                    "limits per source (optimizer dimension value)",
                ),
                "mix": ListOf(
                    Table(
                        {
                            "sources": ListOf(
                                Text(), "the sources whose share is bounded", min_len=1, unique=True
                            ),
                            "min_share": Number(
                                "least share of expected stage-4 creation from those sources", 0.0, 1.0
                            ),
                        },
                        "a mix rule, e.g. >= 40% of stage 4 from expansion + outbound",
                        required=("sources", "min_share"),
                    ),
                    "mix rules on expected decision-stage creation",
                ),
                "period_target": ListOf(
                    Table(
                        {
                            "period": Text("the quarter, e.g. 2026-Q2"),
                            "target": Number(
                                "bookings target of that quarter, in dollars",
                                0.0,
                                MAX_TOTAL_DOLLARS,
                                exclusive_minimum=True,
                            ),
                            "confidence": Number("P(quarter bookings >= target) required", 0.0, 1.0),
                            "cumulative": Boolean("true: the target is year to date (default false)"),
                        },
                        "a per-quarter bookings target with its own confidence (cumulative = true: year to date)",
                        required=("period", "target"),
                    ),
                    "per-quarter targets",
                ),
            },
            "limits and settings of simcore optimize, not used by the simulation",
        ),
        "variants": MapOf(
            Table(
                {
                    "description": Text("what the variant changes"),
                    "set": MapOf(Anything(), "field path -> value"),
                }
            ),
            "named overrides, e.g. Conservative / Base / Stretch",
            key_doc="variant",
            names=True,
        ),
    },
    "a simcore scenario",
    required=("name", "start", "dimensions", "stage", "defaults"),
)


def check(raw, ctx):
    """Check ``raw`` against the format; return ``[(path_parts, message), ...]``."""
    out = []
    SCENARIO.check(raw, [], ctx, out)
    return out


def json_schema():
    """The JSON Schema (draft 2020-12) of scenario files, generated from this module."""
    schema = SCENARIO.schema()
    bank_row = {
        "type": "object",
        "properties": {k: v.schema() for k, v in AGGREGATE_BANK.fields.items()},
        "required": list(AGGREGATE_BANK.required),
        "additionalProperties": {"type": "string"},
        "description": AGGREGATE_BANK.doc,
    }
    schema["properties"]["bank"]["properties"]["aggregate"]["items"] = bank_row
    schema["properties"]["variants"]["additionalProperties"]["properties"]["set"]["additionalProperties"] = {}
    # The parameter block is declared once and referenced at each level of inheritance.
    block = {"$ref": "#/$defs/block"}
    schema["properties"]["defaults"] = block
    schema["properties"]["by"]["additionalProperties"] = {"type": "object", "additionalProperties": block}
    schema["properties"]["cell"]["additionalProperties"] = block
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://simcore.dev/scenario.schema.json",
        "title": "simcore scenario",
        **schema,
        "$defs": {"block": BLOCK.schema()},
    }


# ---------------------------------------------------------------------------------------
# The field reference of docs/scenario-format.md, generated from the declarations above
# (tests/test_schema.py holds the doc to it).

# The default of every field that has one, declared once: resolution reads the value
# (:func:`default`), the field reference prints it (:func:`default_text`). A field missing
# here has no default (the doc says what happens without it).


@dataclass(frozen=True)
class Default:
    """A default the reference states in words: ``value`` is what resolution uses
    (``None`` where it follows from other fields), ``text`` what the reference says.
    """

    value: object
    text: str


DEFAULTS = {
    "horizon_weeks": 52,
    "fiscal_year_start_month": 1,
    "period": "quarter",
    "currency": "USD",
    "sampling": "random",
    "entry_stage": Default(None, "the first stage"),
    "market_loading": 0.0,
    "conversion.lost_competition_share": 0.5,
    "stages.<stage>.lost_no_decision": Default(None, "the rest"),
    "stages.<stage>.growth": 1.0,
    "stages.<stage>.dwell.dist": "lognormal",
    "stages.<stage>.dwell.mean": 30.0,
    "stages.<stage>.dwell.cv": 0.5,
    "decision.push": 0.0,
    "decision.lost_no_decision": Default(None, "the rest"),
    "decision.lost_competition_share": Default(None, "conversion.lost_competition_share"),
    "decision.dwell.dist": "lognormal",
    "decision.dwell.mean": 30.0,
    "decision.dwell.cv": 0.5,
    "decision.push_delay.dist": "lognormal",
    "decision.push_delay.mean": 30.0,
    "decision.push_delay.cv": 0.5,
    "decision.win_decay": 1.0,
    "decision.max_pushes": 3,
    "amount.sigma": 0.0,
    "amount.whale_probability": 0.0,
    "amount.whale_factor": 1.0,
    "amount.floor": 0.0,
    "amount.cap": Default(math.inf, "none"),
    "creation.per": "year",
    "creation.share": 1.0,
    "creation.process": "poisson",
    "creation.seasonality": Default((1.0,) * 12, "all 1"),
    "creation.uplift": 1.0,
    "cost_per_dollar": 1.0,
    "optimize.confidence": 0.9,
    "optimize.objective": "creation",
}


def default(path: str):
    """The value a field takes when no level sets it.

    Parameters
    ----------
    path : str
        The field's path as the reference writes it, e.g. ``"decision.max_pushes"`` or
        ``"stages.<stage>.dwell.mean"``.

    Returns
    -------
    object
        The default value (``None`` where it follows from other fields).

    Raises
    ------
    KeyError
        When the field has no default.

    Examples
    --------
    >>> default("decision.max_pushes"), default("amount.cap")
    (3, inf)
    """
    value = DEFAULTS[path]
    return value.value if isinstance(value, Default) else value


def default_text(path: str) -> str:
    """How the field reference states a field's default (``""`` when it has none).

    Parameters
    ----------
    path : str
        The field's path as the reference writes it.

    Returns
    -------
    str

    Examples
    --------
    >>> default_text("stages.<stage>.dwell.mean"), default_text("creation.seasonality")
    ('30', 'all 1')
    """
    if path not in DEFAULTS:
        return ""
    value = DEFAULTS[path]
    if isinstance(value, Default):
        return value.text
    return value if isinstance(value, str) else f"{value:g}"


def _kind(node):
    if isinstance(node, Number):
        kind = "probability" if node.rate else "whole number" if node.integer else "number"
        if node.uncertain:
            kind += " or {low, base, high}" + (" or {mean, strength}" if node.rate else "")
        return kind
    if isinstance(node, NumberOrList):
        return "number, or a list with one per period"
    if isinstance(node, Text):
        return (
            "one of " + ", ".join(node.choices)
            if node.choices
            else (f"a name from {node.context_choices}" if node.context_choices else "text")
        )
    if isinstance(node, Date):
        return "date (YYYY-MM-DD, unquoted)"
    if isinstance(node, ListOf):
        size = f"{node.length} " if node.length else ""
        return f"list of {size}{_kind(node.item) if not isinstance(node.item, Table) else 'tables'}"
    if isinstance(node, (Table, MapOf)):
        return "table"
    return "any"


def _range(node):
    if isinstance(node, NumberOrList):
        node = node.number
    if isinstance(node, ListOf) and isinstance(node.item, Number):
        node = node.item
    if isinstance(node, Number) and (node.minimum is not None or node.maximum is not None):
        return node.bounds_text()
    return ""


_KEY_NAMES = {"open_stages": "<stage>", "dimension_names": "<dimension>", "cell_names": '"<cell>"'}


def reference_rows(node=None, prefix=""):
    """``(path, node)`` of every field, depth first (``<stage>`` etc. stand for names)."""
    node = SCENARIO if node is None else node
    if isinstance(node, Table):
        for key, child in node.fields.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path, child
            if child is not BLOCK or node is BLOCK:  # the block is listed once, under its own heading
                yield from reference_rows(child, path)
    elif isinstance(node, MapOf) and node.value is not BLOCK and not isinstance(node.value, MapOf):
        yield from reference_rows(node.value, f"{prefix}.{_KEY_NAMES.get(node.keys, '<name>')}")
    elif isinstance(node, ListOf) and isinstance(node.item, Table):
        yield from reference_rows(node.item, f"{prefix}[]")


def _table(rows):
    out = ["| field | type | range | default | meaning |", "|---|---|---|---|---|"]
    for path, node in rows:
        default = default_text(path)
        doc = (node.doc or "").replace("|", "\\|")
        out.append(f"| `{path}` | {_kind(node)} | {_range(node)} | {default} | {doc} |")
    return "\n".join(out)


def reference_markdown():
    """The field reference of docs/scenario-format.md (Markdown tables)."""
    own_sections = ("bank", "funnel", "optimize", "variants")
    top = [(p, n) for p, n in reference_rows() if not p.startswith(own_sections)]
    sections = [
        ("Top level", top),
        (
            'Parameter block (`defaults`, `by.<dimension>.<value>`, `cell."<cell>"`)',
            list(reference_rows(BLOCK)),
        ),
        (
            "Aggregate bank rows (`[[bank.aggregate]]`, plus one key per dimension)",
            list(reference_rows(AGGREGATE_BANK, "bank.aggregate[]")),
        ),
    ]
    rest = [(p, n) for p, n in reference_rows() if p.startswith(("bank", "funnel", "optimize", "variants"))]
    for name in ("bank", "funnel", "optimize", "variants"):
        rows = [(p, n) for p, n in rest if p.split(".")[0] == name]
        if rows:
            sections.append((f"`{name}`", rows))
    return "\n\n".join(f"### {title}\n\n{_table(rows)}" for title, rows in sections) + "\n"
