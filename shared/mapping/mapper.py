"""Map one raw CloudSuite record to its Dataverse account row and contact rows (pure, no I/O, hot path).

All decisions that do not depend on the record were made when the ``MappingConfig`` was compiled; this module only
reads values, checks them and builds rows. A bad record raises ``RecordError`` with a code from ``CODES``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import ConfigError, RecordError
from shared.mapping.config import Column, ContactPlan, EntityPlan, MappingConfig, Source, Status
from shared.mapping.keys import SEPARATOR, escape_part, join_parts, key_ref
from shared.mapping.names import split_full_name

BAD_RECORD = "bad_record"  # the record is not an object
BAD_VALUE = "bad_value"  # a mapped field holds an object or list where text is expected
MISSING_ID = "missing_id"  # a record-id field is empty
MISSING_NAME = "missing_name"  # the account name is empty
KEY_TOO_LONG = "key_too_long"  # the alternate key would exceed the key column (keys are never cut)
TOO_LONG = "too_long"  # a value exceeds its column and on_too_long is "reject"
INVALID_EMAIL = "invalid_email"  # an e-mail address is invalid and on_invalid_email is "reject"
CODES = (BAD_RECORD, BAD_VALUE, MISSING_ID, MISSING_NAME, KEY_TOO_LONG, TOO_LONG, INVALID_EMAIL)

BIND = "parentcustomerid_account@odata.bind"


def _canonical_encoder() -> Callable[[Any], str]:
    """Canonical JSON for hashing: sorted keys, no spaces, non-ASCII kept as is."""
    encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    if json.encoder.c_make_encoder is None:
        return encode
    # The same encoder (a test compares it with json.dumps), built once: JSONEncoder.encode builds it on every
    # call, which costs a sixth of the time of mapping a whole account row.
    fast = json.encoder.c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":",
                                       ",", True, False, True)
    return lambda value: "".join(fast(value, 0))


_canonical = _canonical_encoder()
_EMAIL = re.compile(r"[^@\s;,<>()\[\]\"]+@(?:[^@\s;,<>()\[\]\".]+\.)+[^@\s;,<>()\[\]\".]{2,}")  # local@domain.tld
_EMAIL_LIST = re.compile(r"[;,\s]+")


@dataclass(frozen=True, slots=True)
class Row:
    """One Dataverse upsert: ``ref`` is ``accounts(cssync_sourcekey='...')`` (quotes doubled, not %-encoded).

    ``payload`` never contains the key column (Dataverse rejects a key repeated in the body on create) and is to
    be treated as read-only. ``hash`` is the sha256 of the canonical JSON of ``{"key": key, "payload": payload}``.
    """

    table: str  # "account" | "contact"
    entity_set: str  # "accounts" | "contacts"
    key: dict[str, str]
    payload: dict[str, Any]
    hash: str
    ref: str
    parent_key: dict[str, str] | None = None  # contacts: the account's key


@dataclass(frozen=True, slots=True)
class MappedRecord:
    """The rows of one CloudSuite record; write ``account`` before its ``contacts`` (they bind to it)."""

    entity: str
    source_key: str
    account: Row
    contacts: tuple[Row, ...]
    notes: tuple[str, ...]

    @property
    def rows(self) -> tuple[Row, ...]:
        return (self.account, *self.contacts)


def map_record(config: MappingConfig, entity: str, raw: Mapping[str, Any]) -> MappedRecord:
    """Map one raw record of ``entity`` ("supplier" | "customer"); raise ``RecordError`` for a bad record."""
    plan = config.plans.get(entity)
    if plan is None:
        raise ConfigError(f"connection '{config.connection}': unknown entity {entity!r}")
    if not isinstance(raw, Mapping):
        raise RecordError(f"{entity} record is a {type(raw).__name__}, expected an object", BAD_RECORD)
    if config.both is not None and _is_both(raw, config):
        plan = config.both_plan  # same map and type code from either listing: the second write is a no-op
    key = _record_key(config, plan, raw)
    notes: list[str] = []
    payload: dict[str, Any] = {}
    _fill(payload, raw, plan.columns, config, key, notes, "account")
    if payload.get("name") is None:
        raise RecordError(f"{entity} record {key} has no name (source {_name_source(plan)})", MISSING_NAME, key)
    if plan.typecode is not None:
        payload["customertypecode"] = plan.typecode
    if plan.status is not None:
        _set_state(payload, raw, plan.status, key)
    account = _row(config, "account", "accounts", key, payload, None)
    contacts = _contacts(config, plan, raw, account, notes)
    return MappedRecord(entity=entity, source_key=key, account=account, contacts=contacts, notes=tuple(notes))


def content_hash(key: Mapping[str, str], payload: Mapping[str, Any]) -> str:
    """sha256 (hex) of canonical JSON (sorted keys, compact, UTF-8) of ``{"key": key, "payload": payload}``."""
    return hashlib.sha256(_canonical({"key": key, "payload": payload}).encode()).hexdigest()


def _row(config: MappingConfig, table: str, entity_set: str, key: str, payload: dict[str, Any],
         parent_key: dict[str, str] | None) -> Row:
    column = config.key_columns[table]
    key_dict = {column: key}
    return Row(table, entity_set, key_dict, payload, content_hash(key_dict, payload),
               key_ref(entity_set, column, key), parent_key)


class _Absent:
    """The type of ``ABSENT``: a field the record does not carry at all (the client did not read it)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def _get(raw: Mapping[str, Any], field: str) -> Any:
    """A field's raw value or ``ABSENT``. A dotted name reads the flattened key (``AddressRef.City``) first, then
    walks nested objects and, by number, lists (``_addresses.0.ADR1``; an item missing from a list read is empty).
    """
    value = raw.get(field, ABSENT)
    if value is not ABSENT or "." not in field:
        return value
    node: Any = raw
    for part in field.split("."):
        if isinstance(node, Mapping):
            node = node.get(part, ABSENT)
        elif isinstance(node, list | tuple) and part.isdigit():
            node = node[int(part)] if int(part) < len(node) else None
        else:
            return None if node is None else ABSENT
    return node


def _text(raw: Mapping[str, Any], field: str, key: str) -> str | _Absent | None:
    """The trimmed text of a field: None when empty or null, ``ABSENT`` when the record does not carry it."""
    value = _get(raw, field)
    if value is None or value is ABSENT:
        return value
    if value.__class__ is str:
        return value.strip() or None
    if isinstance(value, bool | int | float):
        return str(value)
    raise RecordError(f"field {field} holds a {type(value).__name__}, expected text", BAD_VALUE, key)


def _value(raw: Mapping[str, Any], field: str, key: str) -> str | None:
    """``_text`` where absent and empty mean the same (ids, names, roles)."""
    value = _text(raw, field, key)
    return None if value is ABSENT else value


def _read(raw: Mapping[str, Any], source: Source, key: str) -> str | _Absent | None:
    """A source's text; ``ABSENT`` only when none of its fields is in the record."""
    if source.mode == "one":
        return _text(raw, source.fields[0], key)
    values = [_text(raw, f, key) for f in source.fields]
    present = [v for v in values if v is not ABSENT]
    if not present:
        return ABSENT
    texts = [v for v in present if v is not None]
    if source.mode == "first":
        return texts[0] if texts else None
    return source.sep.join(texts) if texts else None


def _read_value(raw: Mapping[str, Any], source: Source, key: str) -> str | None:
    value = _read(raw, source, key)
    return None if value is ABSENT else value


def _is_both(raw: Mapping[str, Any], config: MappingConfig) -> bool:
    value = _value(raw, config.both.field, "")
    return value is not None and value.casefold() in config.both.values


def _record_key(config: MappingConfig, plan: EntityPlan, raw: Mapping[str, Any]) -> str:
    if len(plan.id_fields) == 1:
        value = _value(raw, plan.id_fields[0], "")
        if value is not None:
            key = plan.key_prefix + escape_part(value)
            _check_key_length(config, key, key)
            return key
    ids = []
    for field in plan.id_fields:
        value = _value(raw, field, "")
        if value is None:
            raise RecordError(f"{plan.entity} record has no {field} (part of the record id)", MISSING_ID)
        ids.append(value)
    key = plan.key_prefix + join_parts(tuple(ids))
    _check_key_length(config, key, key)
    return key


def _check_key_length(config: MappingConfig, key: str, record_key: str) -> None:
    if len(key) > config.key_max_length:
        raise RecordError(f"alternate key {key} is {len(key)} characters, the key column allows "
                          f"{config.key_max_length}", KEY_TOO_LONG, record_key)


def _name_source(plan: EntityPlan) -> str:
    return next(c.source.describe() for c in plan.columns if c.name == "name")


def _fill(payload: dict[str, Any], raw: Mapping[str, Any], columns: tuple[Column, ...], config: MappingConfig,
          key: str, notes: list[str], where: str) -> None:
    """Add each mapped column the record carries: empty -> null (or left out with ``empty: omit``), checked and
    fitted otherwise. A source field the record does not carry at all leaves the column out: the client did not
    read it, so nothing is known about it (a removal in CloudSuite arrives as an empty or null value)."""
    null_empty = config.empty == "null"
    for column in columns:
        field = column.field
        if field is None:
            value = _read(raw, column.source, key)
        else:  # inlined _text for the common case: a plain field holding a string
            value = raw.get(field, ABSENT)
            if value.__class__ is str:
                value = value.strip() or None
            elif value is not None and value is not ABSENT:
                value = _text(raw, field, key)
        if value is ABSENT:
            continue
        if value is None:
            if null_empty:
                payload[column.name] = None
            continue
        if column.is_country:
            value = config.countries.get(value.upper(), value)
        elif column.is_email:
            value = _email(value, column, config, key, notes, where)
            if value is None:
                continue
        if len(value) > column.fit_above:
            value = _fit(value, column.max_length, f"{where}.{column.name} (source {column.source.describe()})",
                         config, key, notes)
        payload[column.name] = value


def _utf16_len(value: str) -> int:
    """Dataverse counts string length in UTF-16 code units (an emoji counts 2)."""
    return len(value) if value.isascii() else len(value.encode("utf-16-le")) // 2


def _fit(value: str, limit: int, what: str, config: MappingConfig, key: str, notes: list[str]) -> str:
    length = _utf16_len(value)
    if length <= limit:
        return value
    if config.on_too_long == "reject":
        raise RecordError(f"{what} is {length} characters, Dataverse allows {limit}", TOO_LONG, key)
    cut = value[:limit]
    while _utf16_len(cut) > limit:
        cut = cut[:-1]
    notes.append(f"{what} truncated to fit {limit} characters (was {length})")
    return cut.rstrip()


def _email(value: str, column: Column, config: MappingConfig, key: str, notes: list[str], where: str) -> str | None:
    if _EMAIL.fullmatch(value):
        return value
    what = f"{where}.{column.name} (source {column.source.describe()})"
    parts = [p for p in _EMAIL_LIST.split(value) if p]
    if len(parts) > 1 and _EMAIL.fullmatch(parts[0]):
        notes.append(f"{what}: kept the first of {len(parts)} e-mail addresses")
        return parts[0]
    if config.on_invalid_email == "reject":
        raise RecordError(f"{what} is not a valid e-mail address", INVALID_EMAIL, key)
    notes.append(f"{what}: invalid e-mail address left out")
    return None


def _set_state(payload: dict[str, Any], raw: Mapping[str, Any], status: Status, key: str) -> None:
    """Inactive -> statecode 1 / statuscode 2 (deactivated, never deleted); otherwise 0 / 1; not read -> unsent."""
    value = _text(raw, status.field, key)
    if value is ABSENT:
        return
    inactive = value is not None and value.casefold() in status.inactive
    payload["statecode"] = 1 if inactive else 0
    payload["statuscode"] = 2 if inactive else 1


def _contacts(config: MappingConfig, plan: EntityPlan, raw: Mapping[str, Any], account: Row,
              notes: list[str]) -> tuple[Row, ...]:
    if not plan.contacts:
        return ()
    key = account.key[config.key_columns["account"]]
    bind = "/" + account.ref
    rows: list[Row] = []
    seen: set[str] = set()
    for contact in plan.contacts:
        for item in _items(raw, contact, key):
            row = _contact(config, contact, item, key, account.key, bind, notes)
            if row is None:
                continue
            contact_key = row.key[config.key_columns["contact"]]
            if contact_key in seen:
                notes.append(f"contact {contact.id}: duplicate key {contact_key}, only the first is written")
                continue
            seen.add(contact_key)
            rows.append(row)
    return tuple(rows)


def _items(raw: Mapping[str, Any], contact: ContactPlan, key: str) -> tuple[Mapping[str, Any], ...] | list[Any]:
    if contact.list is None:
        return (raw,)
    value = _get(raw, contact.list)
    if value is None or value is ABSENT:
        return ()
    if isinstance(value, Mapping):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, Mapping) for v in value):
        return value
    raise RecordError(f"field {contact.list} must hold a list of contact objects", BAD_VALUE, key)


def _contact(config: MappingConfig, contact: ContactPlan, item: Mapping[str, Any], account_key: str,
             parent: dict[str, str], bind: str, notes: list[str]) -> Row | None:
    suffix = contact.id
    if contact.list is not None:
        ids = tuple(_value(item, f, account_key) for f in contact.key)
        if None in ids:
            notes.append(f"contact {suffix}: an item has no {'/'.join(contact.key)}, contact not written")
            return None
        suffix += SEPARATOR + join_parts(ids)
    where = f"contact {suffix}"  # "contact yref", "contact ref|1|AP": what the notes and errors call it
    first, last = _person(contact, item, account_key, notes, where)
    if last is None:
        return None
    key = account_key + SEPARATOR + suffix
    _check_key_length(config, key, account_key)
    payload: dict[str, Any] = {}
    if first is not None and len(first) > contact.firstname_limit >> 1:
        first = _fit(first, contact.firstname_limit, f"{where}.firstname", config, account_key, notes)
    if first is not None or config.empty == "null":
        payload["firstname"] = first
    if len(last) > contact.lastname_limit >> 1:
        last = _fit(last, contact.lastname_limit, f"{where}.lastname", config, account_key, notes)
    payload["lastname"] = last
    _fill(payload, item, contact.columns, config, account_key, notes, where)
    if contact.status is not None:
        _set_state(payload, item, contact.status, account_key)
    payload[BIND] = bind
    return _row(config, "contact", "contacts", key, payload, parent)


def _person(contact: ContactPlan, item: Mapping[str, Any], key: str, notes: list[str],
            where: str) -> tuple[str | None, str | None]:
    """(firstname, lastname): LastName/FirstName fields first, else the split full name; no last name -> skip."""
    last = _read_value(item, contact.lastname, key) if contact.lastname is not None else None
    first = _read_value(item, contact.firstname, key) if contact.firstname is not None else None
    if last is None and contact.fullname is not None:
        full = _read_value(item, contact.fullname, key)
        if full is not None and "@" in full:
            notes.append(f"{where}: the name is an e-mail address, contact not written")
            return None, None
        if full is not None:
            split_first, last = split_full_name(full)
            first = first if first is not None else split_first
    if last is None and first is not None:
        return None, first  # a single name is the last name, as for a one-word full name
    if last is None and any(_read_value(item, c.source, key) is not None for c in contact.columns):
        notes.append(f"{where}: no person name, contact not written")
    return first, last
