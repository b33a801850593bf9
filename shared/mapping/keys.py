"""Alternate-key values and key references: ``<source_id>|<kind>|<record id>[|<contact part>...]``.

Dataverse refuses ``/ < > * % & : \\ ? +`` in key values used in URLs, and real Infor ids contain some of them
(``SUP/2024``). Every id part is therefore escaped: each of those characters, plus ``|`` (our separator), ``~``
(the escape character itself), ``#`` (a URL fragment) and control characters, becomes ``~`` and two upper-case hex
digits of its code point (``SUP/2024`` -> ``SUP~2F2024``). The escape is injective, so two different ids never share
a key, and it is stable, so a key never changes between runs.
"""

from __future__ import annotations

ESCAPE = "~"
SEPARATOR = "|"
FORBIDDEN = "/<>*%&:\\?+"  # Dataverse: not allowed in alternate-key values used in URLs
_ESCAPED = FORBIDDEN + SEPARATOR + ESCAPE + "#" + "".join(chr(c) for c in range(32)) + "\x7f"
_TABLE = str.maketrans({c: f"{ESCAPE}{ord(c):02X}" for c in _ESCAPED})
_NEEDS_ESCAPE = frozenset(_ESCAPED)


def escape_part(value: str) -> str:
    """Escape one id part so it is safe in a Dataverse key URL and cannot contain the separator."""
    if _NEEDS_ESCAPE.isdisjoint(value):
        return value
    return value.translate(_TABLE)


def join_parts(parts: tuple[str, ...]) -> str:
    """Escape each part and join them with the separator (``("ACME", "100/45")`` -> ``ACME|100~2F45``)."""
    if len(parts) == 1:
        return escape_part(parts[0])
    return SEPARATOR.join(escape_part(p) for p in parts)


def odata_string(value: str) -> str:
    """Quote a string for an OData key predicate: apostrophes are doubled (``O'Neil`` -> ``'O''Neil'``)."""
    return "'" + value.replace("'", "''") + "'"


def key_ref(entity_set: str, column: str, value: str) -> str:
    """The relative key reference ``accounts(cssync_sourcekey='...')`` (not percent-encoded: the writer does that)."""
    return f"{entity_set}({column}={odata_string(value)})"
