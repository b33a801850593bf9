"""The OData v4 ``$filter`` subset the LN simulator understands, compiled to a row predicate.

eq ne gt ge lt le, and/or/not, parentheses, 'string' ('' escapes), numbers, true/false/null, qualified enum
literals (``tcapi.comBusinessPartner.BusinessPartnerStatus'Active'``), and contains/startswith/endswith.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Row = list[Any]


class ODataError(ValueError):
    """A 400 with an OData error body."""

    def __init__(self, message: str, code: str = "BadRequest", status: int = 400) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


_TOKEN = re.compile(r"""\s*(?:
    (?P<enum>[A-Za-z_][\w.]*'(?:[^']|'')*')
  | (?P<str>'(?:[^']|'')*')
  | (?P<date>\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][\w/]*)
  | (?P<bad>\S)
)""", re.X)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
_FUNCS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda a, b: b in a, "startswith": lambda a, b: a.startswith(b), "endswith": lambda a, b: a.endswith(b)}


class Compiler:
    """``columns``: property -> row position; ``enums``: property -> (qualified enum type, members)."""

    def __init__(self, type_name: str, columns: dict[str, int], enums: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        self.type_name, self.columns, self.enums = type_name, columns, enums

    def compile(self, text: str) -> Callable[[Row], bool]:
        self.tokens = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or ""
            if kind == "bad":
                raise ODataError(f"Syntax error at position {match.start(kind)} in '{text}'.")
            self.tokens.append((kind, match.group(kind)))
        self.i = 0
        if not self.tokens:
            return lambda row: True
        predicate = self._or()
        if self.i != len(self.tokens):
            raise ODataError(f"Syntax error at position {self.i} in '{text}'.")
        return predicate

    def _peek(self, kind: str, value: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        k, v = self.tokens[self.i]
        return k == kind and (value is None or v == value)

    def _take(self, kind: str, value: str | None = None) -> str:
        if not self._peek(kind, value):
            raise ODataError("Syntax error in $filter.")
        self.i += 1
        return self.tokens[self.i - 1][1]

    def _or(self) -> Callable[[Row], bool]:
        parts = [self._and()]
        while self._peek("name", "or"):
            self._take("name")
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self) -> Callable[[Row], bool]:
        parts = [self._unary()]
        while self._peek("name", "and"):
            self._take("name")
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _unary(self) -> Callable[[Row], bool]:
        if self._peek("name", "not"):
            self._take("name")
            inner = self._unary()
            return lambda row: not inner(row)
        if self._peek("punct", "("):
            self._take("punct")
            inner = self._or()
            self._take("punct", ")")
            return inner
        if self._peek("name") and self.tokens[self.i][1] in _FUNCS and self.i + 1 < len(self.tokens) \
                and self.tokens[self.i + 1] == ("punct", "("):
            return self._function()
        left, prop = self._operand(None)
        op = self._take("name")
        if op not in _OPS:
            raise ODataError(f"Unknown operator '{op}' in $filter.")
        right, _ = self._operand(prop)
        compare = _OPS[op]

        def test(row: Row) -> bool:
            a, b = left(row), right(row)
            if a is None or b is None:
                return (a is None and b is None) if op == "eq" else (a is not b) if op == "ne" else False
            return compare(a, b)

        return test

    def _function(self) -> Callable[[Row], bool]:
        func = _FUNCS[self._take("name")]
        self._take("punct", "(")
        left, prop = self._operand(None)
        self._take("punct", ",")
        right, _ = self._operand(prop)
        self._take("punct", ")")
        return lambda row: (a := left(row)) is not None and (b := right(row)) is not None and func(str(a), str(b))

    def _operand(self, against: str | None) -> tuple[Callable[[Row], Any], str | None]:
        if self._peek("str"):
            value = self._take("str")[1:-1].replace("''", "'")
            if against in self.enums and value not in self.enums[against][1]:
                raise ODataError(f"The string '{value}' is not a valid enumeration type constant.")
            return (lambda row: value), None
        if self._peek("enum"):
            raw = self._take("enum")
            type_name, _, quoted = raw.partition("'")
            member = quoted[:-1]
            if against in self.enums:
                enum_type, members = self.enums[against]
                if type_name != enum_type:
                    raise ODataError(f"Enum type '{type_name}' is not compatible with property '{against}'.")
                if member not in members:
                    raise ODataError(f"The string '{member}' is not a valid enumeration type constant.")
            return (lambda row: member), None
        if self._peek("num"):
            number = float(self._take("num"))
            return (lambda row: number), None
        if self._peek("date"):
            value = self._take("date")
            return (lambda row: value), None
        name = self._take("name")
        if name in ("true", "false"):
            flag = name == "true"
            return (lambda row: flag), None
        if name == "null":
            return (lambda row: None), None
        pos = self.columns.get(name)
        if pos is None:
            raise ODataError(f"Could not find a property named '{name}' on type '{self.type_name}'.")
        return (lambda row: row[pos]), name
