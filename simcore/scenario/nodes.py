"""The building blocks of the scenario format: field nodes that check a value, describe it in
JSON Schema and in the field reference, and the documented limits every number is held to.

:mod:`simcore.scenario.spec` declares the format with these nodes.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import unicodedata

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
# Largest creation attainment: a team may over-deliver its plan, not by more than this.
MAX_ATTAINMENT = 3.0
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


# Forecast categories, in order from least to most likely to close.
CATEGORIES = ("pipeline", "best_case", "commit")


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
        beta=None,
    ):
        self.doc = doc
        self.minimum = minimum
        self.maximum = maximum
        self.exclusive_minimum = exclusive_minimum
        self.integer = integer
        self.uncertain = uncertain
        self.rate = rate
        # Whether a Beta {mean, strength} is accepted: for rates, and for shares such as an
        # attainment that may also be given above 1 as a PERT.
        self.beta = rate if beta is None else beta

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
            elif keys == set(UNCERTAIN_BETA) and self.beta:
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
                forms = "{low, base, high}" + (" or {mean, strength}" if self.beta else "")
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
        if self.beta:
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


class NumberOrCategories(Node):
    """A number, or a table of numbers by forecast category (``{commit = 5e6}``)."""

    def __init__(self, categories, number, doc=""):
        self.categories = tuple(categories)
        self.number = number
        self.doc = doc

    def check(self, value, path, ctx, out):
        if isinstance(value, dict):
            if not value:
                out.append((path, "the table is empty: give a number, or one per forecast category"))
            for key, item in value.items():
                if key not in self.categories:
                    out.append(
                        (path + [key], f"unknown forecast category {key!r}{expected(key, self.categories)}")
                    )
                    continue
                self.number.check(item, path + [key], ctx, out)
        else:
            self.number.check(value, path, ctx, out)

    def schema(self):
        n = self.number.schema()
        table = {
            "type": "object",
            "properties": dict.fromkeys(self.categories, n),
            "additionalProperties": False,
            "minProperties": 1,
        }
        return {"anyOf": [n, table], "description": self.doc}


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
