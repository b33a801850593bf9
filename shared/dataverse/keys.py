"""Alternate-key addressing: validate key values and build OData key predicates that survive the trip.

Dataverse refuses ``/ < > * % & : \\ ? +`` inside key values in a URL (GET/PATCH fail), so such records are
rejected before sending with a clear reason. Everything else is escaped: apostrophes are doubled (OData string
literal) and the value is percent-encoded as UTF-8 (spaces, quotes, non-ASCII and 4-byte emoji included).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from shared import defaults

FORBIDDEN_KEY_CHARACTERS = "/<>*%&:\\?+"
_FORBIDDEN = re.compile("[" + re.escape(FORBIDDEN_KEY_CHARACTERS) + "]")
_COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,99}$")  # Dataverse logical names are lower-case


class KeyValueError(ValueError):
    """A key value that cannot be addressed through the Web API (the message is the record's reason)."""


def check_column(name: str) -> str:
    """Return ``name`` if it is a plausible logical column name, else raise ValueError."""
    if not isinstance(name, str) or not _COLUMN.match(name):
        raise ValueError(f"{name!r} is not a Dataverse logical column name (lower-case letters, digits, '_')")
    return name


def check_key_value(column: str, value: object) -> str:
    """Return ``value`` as a string if Dataverse can address it in a key URL, else raise KeyValueError."""
    if not isinstance(value, str):
        raise KeyValueError(f"key column '{column}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise KeyValueError(f"key column '{column}' is empty")
    length = len(value.encode("utf-16-le")) // 2  # Dataverse counts UTF-16 code units (an emoji is two)
    if length > defaults.DATAVERSE_KEY_MAX_LENGTH:
        raise KeyValueError(f"key column '{column}' is {length} characters long; the key column holds at most "
                            f"{defaults.DATAVERSE_KEY_MAX_LENGTH}")
    bad = sorted(set(_FORBIDDEN.findall(value)))
    if bad:
        raise KeyValueError(f"key column '{column}' contains {' '.join(repr(c) for c in bad)}, which Dataverse does "
                            f"not accept in alternate-key values ({' '.join(FORBIDDEN_KEY_CHARACTERS)})")
    if any(ord(c) < 0x20 for c in value):
        raise KeyValueError(f"key column '{column}' contains control characters")
    return value


def literal(value: str) -> str:
    """The OData string literal for ``value``, percent-encoded for use in a URL: ``'O''Neil%20%26'``."""
    return "'" + quote(value.replace("'", "''"), safe="'") + "'"


def predicate(key: Mapping[str, str]) -> str:
    """The key predicate inside the parentheses: ``col='v'`` or ``a='1',b='2'`` (columns in sorted order)."""
    return ",".join(f"{column}={literal(key[column])}" for column in sorted(key))


def key_path(entity_set: str, key: Mapping[str, str]) -> str:
    """Relative key URL: ``accounts(cssync_sourcekey='SUP-1')``."""
    return f"{entity_set}({predicate(key)})"
