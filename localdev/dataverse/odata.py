"""OData pieces of the Dataverse simulator: error type, key predicates, $filter, path splitting."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

# Characters Dataverse refuses inside an alternate-key value (reference section 3.1).
FORBIDDEN_KEY_CHARS = set("/<>*%&:\\?+")
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class DvError(Exception):
    """A Dataverse-shaped error: HTTP status + ``{"error":{"code":..,"message":..}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def is_guid(text: str) -> bool:
    return bool(GUID_RE.match(text))


def split_path(path: str) -> list[str]:
    """Split a raw path on '/' outside quoted literals and parentheses (key values may hold '/')."""
    parts: list[str] = []
    buf: list[str] = []
    in_quote = False
    depth = 0
    for ch in path:
        if ch == "'":
            in_quote = not in_quote  # a doubled quote toggles twice: still correct
        elif not in_quote and ch == "(":
            depth += 1
        elif not in_quote and ch == ")":
            depth = max(0, depth - 1)
        if ch == "/" and not in_quote and depth == 0:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return [p for p in parts if p != ""]


@dataclass
class Segment:
    name: str
    key: str | None  # raw text between the parentheses, None when absent


def parse_segment(raw: str) -> Segment:
    """``accounts(cssync_sourcekey='A')`` -> Segment('accounts', "cssync_sourcekey='A'").

    The segment is percent-decoded once, before parsing (as OData does), so ``%28``/``%27`` work like ``(``/``'``
    and an encoded ``/`` or ``%`` inside a key value arrives as that character.
    """
    text = unquote(raw)
    idx = text.find("(")
    if idx < 0 or not text.endswith(")"):
        return Segment(text, None)
    return Segment(text[:idx], text[idx + 1:-1])


def parse_literal(text: str) -> Any:
    """One OData literal (already percent-decoded): 'str', number, true/false, null, GUID."""
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        inner = text[1:-1]
        if re.search(r"(?<!')'(?!')", inner.replace("''", "")):
            raise ValueError(f"unbalanced quote in literal {text!r}")
        return inner.replace("''", "'")
    low = text.lower()
    if low == "null":
        return None
    if low in ("true", "false"):
        return low == "true"
    if is_guid(text):
        return text.lower()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?\d*\.\d+([eE][-+]?\d+)?", text):
        return float(text)
    raise ValueError(f"unrecognised literal {text!r}")


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quoted literals."""
    out: list[str] = []
    buf: list[str] = []
    in_quote = False
    for ch in text:
        if ch == "'":
            in_quote = not in_quote
        if ch == sep and not in_quote:
            out.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    out.append("".join(buf))
    return out


def parse_key_predicate(text: str) -> tuple[str | None, dict[str, Any]]:
    """Decoded key text -> (guid, {}) or (None, {name: value})."""
    text = text.strip()
    if is_guid(text):
        return text.lower(), {}
    pairs: dict[str, Any] = {}
    for part in _split_top(text, ","):
        if "=" not in part:
            raise ValueError(f"bad key segment {part!r}")
        name, _, literal = part.partition("=")
        literal = literal.strip()
        if literal.startswith("@"):
            raise ValueError("parameter aliases are not supported in key predicates")
        pairs[name.strip()] = parse_literal(literal)
    return None, pairs


def format_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and is_guid(value):
        return value
    return "'" + str(value).replace("'", "''") + "'"


def format_key(pairs: dict[str, Any]) -> str:
    return ",".join(f"{name}={format_literal(value)}" for name, value in pairs.items())


# ---- $filter -------------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    column: str
    op: str  # eq | ne | gt | ge | lt | le
    value: Any


_COMPARISON_RE = re.compile(r"^\s*([A-Za-z_][\w/]*)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$", re.IGNORECASE)


def parse_filter(text: str, aliases: dict[str, str] | None = None) -> list[Comparison]:
    """A conjunction of comparisons: ``a eq 'x' and b eq 1`` (the subset the writer and SDK use)."""
    aliases = aliases or {}
    out: list[Comparison] = []
    # split on ' and ' outside quotes
    chunks: list[str] = []
    buf = ""
    in_quote = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            in_quote = not in_quote
        if not in_quote and text[i:i + 5].lower() == " and ":
            chunks.append(buf)
            buf = ""
            i += 5
            continue
        buf += ch
        i += 1
    chunks.append(buf)
    for chunk in chunks:
        chunk = chunk.strip()
        while chunk.startswith("(") and chunk.endswith(")"):
            chunk = chunk[1:-1].strip()
        if re.search(r"\s(or)\s", chunk, re.IGNORECASE) and "'" not in chunk:
            raise ValueError("'or' is not supported by the simulator")
        match = _COMPARISON_RE.match(chunk)
        if not match:
            raise ValueError(f"unsupported $filter clause {chunk!r}")
        column, op, literal = match.group(1), match.group(2).lower(), match.group(3)
        if literal.startswith("@"):
            if literal not in aliases:
                raise ValueError(f"parameter alias {literal} has no value")
            literal = aliases[literal]
        out.append(Comparison(column, op, parse_literal(literal)))
    return out


def norm(value: Any) -> Any:
    """SQL-collation-like comparison value: strings compare case-insensitively, trailing blanks ignored."""
    if isinstance(value, str):
        return value.rstrip(" ").casefold()
    return value


def compare(actual: Any, op: str, expected: Any) -> bool:
    a, b = norm(actual), norm(expected)
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if a is None or b is None:
        return False
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


def new_guid() -> str:
    return str(uuid.uuid4())
