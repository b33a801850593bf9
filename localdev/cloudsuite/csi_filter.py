"""The SQL WHERE subset a Mongoose IDO ``filter`` accepts (reference 3): compiled to a row predicate.

Supported: comparisons (= <> != < <= > >=), LIKE, IN (...), IS [NOT] NULL, AND/OR/NOT, parentheses, single-quoted
literals ('' escapes, N'...'), numbers, GETDATE() and DATEADD(part, n, expr). Double-quoted literals and other
functions raise ``IllegalFilter`` (Mongoose: IllegalFilterException). String comparison is case-insensitive and
ignores trailing blanks, like SQL Server's default collation; leading blanks (padded keys) matter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

Row = list[Any]
Expr = Callable[[Row], Any]


class IllegalFilter(ValueError):
    """Filter uses something Mongoose refuses (message follows IllegalFilterException)."""


class FilterSyntax(ValueError):
    """Filter does not parse (message follows SQL Server's wording)."""


DATE_FORMAT = "%Y%m%d %H:%M:%S.%f"
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>N?'(?:[^']|'')*')
  | (?P<dq>")
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<bad>\S)
)""", re.X)
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IS", "NULL", "IN"}
_DATE_INPUTS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y%m%d %H:%M:%S.%f", "%Y%m%d %H:%M:%S", "%Y-%m-%d",
                "%Y%m%d", "%Y-%m-%dT%H:%M:%S")
_DATEPARTS = {"day": "days", "dd": "days", "d": "days", "hour": "hours", "hh": "hours", "minute": "minutes",
              "mi": "minutes", "n": "minutes", "second": "seconds", "ss": "seconds", "s": "seconds",
              "week": "weeks", "wk": "weeks", "ww": "weeks"}


def format_date(value: datetime) -> str:
    """Mongoose's ``YYYYMMDD HH:MM:SS.fff``."""
    return value.strftime(DATE_FORMAT)[:-3]


def parse_date(text: str) -> datetime:
    for fmt in _DATE_INPUTS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise FilterSyntax("Conversion failed when converting date and/or time from character string.")


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or ""
            value = match.group(kind) if kind else ""
            if kind == "dq":
                raise IllegalFilter(f"IllegalFilterException: double-quoted literals are not allowed in filter: {text}")
            if kind == "bad":
                raise FilterSyntax(f"Incorrect syntax near '{value}'.")
            if kind == "name" and value.upper() in _KEYWORDS:
                kind, value = "kw", value.upper()
            self.items.append((kind, value))
        self.i = 0

    def peek(self, kind: str | None = None, value: str | None = None) -> bool:
        if self.i >= len(self.items):
            return False
        k, v = self.items[self.i]
        return (kind is None or k == kind) and (value is None or v == value)

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        if not self.peek(kind, value):
            near = self.items[self.i][1] if self.i < len(self.items) else "end of filter"
            raise FilterSyntax(f"Incorrect syntax near '{near}'.")
        self.i += 1
        return self.items[self.i - 1][1]


class Compiler:
    """Compile a filter for one IDO: ``columns`` maps property name (any case) -> (canonical name, row position)."""

    def __init__(self, columns: dict[str, tuple[str, int]], date_props: set[str], numeric_props: set[str],
                 now: Callable[[], datetime]) -> None:
        self.columns = columns
        self.date_props = date_props
        self.numeric_props = numeric_props
        self.now = now

    def compile(self, text: str) -> Callable[[Row], bool]:
        tokens = _Tokens(text)
        if not tokens.items:
            return lambda row: True
        predicate = self._or(tokens)
        if tokens.i != len(tokens.items):
            raise FilterSyntax(f"Incorrect syntax near '{tokens.items[tokens.i][1]}'.")
        return predicate

    def _or(self, t: _Tokens) -> Callable[[Row], bool]:
        parts = [self._and(t)]
        while t.peek("kw", "OR"):
            t.take()
            parts.append(self._and(t))
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self, t: _Tokens) -> Callable[[Row], bool]:
        parts = [self._not(t)]
        while t.peek("kw", "AND"):
            t.take()
            parts.append(self._not(t))
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _not(self, t: _Tokens) -> Callable[[Row], bool]:
        if t.peek("kw", "NOT"):
            t.take()
            inner = self._not(t)
            return lambda row: not inner(row)
        if t.peek("punct", "("):
            save = t.i
            t.take()
            try:
                inner = self._or(t)
                t.take("punct", ")")
                return inner
            except FilterSyntax:
                t.i = save  # a parenthesised value, not a condition
        return self._condition(t)

    def _condition(self, t: _Tokens) -> Callable[[Row], bool]:
        left, prop = self._operand(t)
        if t.peek("kw", "IS"):
            t.take()
            negate = t.peek("kw", "NOT") and bool(t.take())
            t.take("kw", "NULL")
            return (lambda row: left(row) is not None) if negate else (lambda row: left(row) is None)
        negate = t.peek("kw", "NOT") and bool(t.take())
        if t.peek("kw", "LIKE"):
            t.take()
            right, _ = self._operand(t)
            regex = _like(str(right([])))
            test = lambda row: (v := left(row)) is not None and regex.match(str(v)) is not None  # noqa: E731
            return (lambda row: not test(row)) if negate else test
        if t.peek("kw", "IN"):
            t.take()
            t.take("punct", "(")
            values = [self._operand(t)[0]]
            while t.peek("punct", ","):
                t.take()
                values.append(self._operand(t)[0])
            t.take("punct", ")")
            tests = [self._comparison(left, "=", v, prop) for v in values]
            test = lambda row: any(x(row) for x in tests)  # noqa: E731
            return (lambda row: not test(row)) if negate else test
        if negate:
            raise FilterSyntax("Incorrect syntax near 'NOT'.")
        op = t.take("op")
        right, right_prop = self._operand(t)
        return self._comparison(left, op, right, prop or right_prop)

    def _comparison(self, left: Expr, op: str, right: Expr, prop: str | None) -> Callable[[Row], bool]:
        if prop in self.date_props:
            norm: Callable[[Any], Any] = _date_key
        elif prop in self.numeric_props:
            norm = _number
        else:
            norm = _text
        compare = _OPS[op]

        def test(row: Row) -> bool:
            a, b = left(row), right(row)
            if a is None or b is None:
                return False
            return compare(norm(a), norm(b))

        return test

    def _operand(self, t: _Tokens) -> tuple[Expr, str | None]:
        if t.peek("str"):
            raw = t.take()
            text = raw[2:-1] if raw.startswith("N") else raw[1:-1]
            value = text.replace("''", "'")
            return (lambda row: value), None
        if t.peek("num"):
            number = t.take()
            return (lambda row: number), None
        if t.peek("kw", "NULL"):
            t.take()
            return (lambda row: None), None
        if t.peek("punct", "("):
            t.take()
            inner = self._operand(t)
            t.take("punct", ")")
            return inner
        name = t.take("name")
        if t.peek("punct", "("):
            return self._function(name, t), None
        column = self.columns.get(name.lower())
        if column is None:
            raise FilterSyntax(f"Invalid column name '{name}'.")
        canonical, pos = column
        return (lambda row: row[pos]), canonical

    def _function(self, name: str, t: _Tokens) -> Expr:
        upper = name.upper()
        t.take("punct", "(")
        if upper == "GETDATE":
            t.take("punct", ")")
            return lambda row: format_date(self.now())
        if upper == "DATEADD":
            part = t.take("name").lower()
            if part not in _DATEPARTS:
                raise FilterSyntax(f"'{part}' is not a recognized dateadd option.")
            t.take("punct", ",")
            amount, _ = self._operand(t)
            t.take("punct", ",")
            base, _ = self._operand(t)
            t.take("punct", ")")
            unit = _DATEPARTS[part]

            def dateadd(row: Row) -> Any:
                start = base(row)
                if start is None:
                    return None
                return format_date(parse_date(str(start)) + timedelta(**{unit: float(amount(row))}))

            return dateadd
        raise IllegalFilter(f"IllegalFilterException: function '{name}' is not allowed in a filter")


def _date_key(value: Any) -> str:
    text = str(value)
    if len(text) == 21 and text[8] == " " and text[:8].isdigit():
        return text  # already canonical (stored values): plain string order is time order
    return format_date(parse_date(text))


def _number(value: Any) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise FilterSyntax(f"Error converting data type nvarchar to numeric: '{value}'.") from exc


def _text(value: Any) -> str:
    return str(value).rstrip().casefold()


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out) + r"\s*$", re.I | re.S)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
