"""Parse a connection's ``mapping`` section over the product's defaults into a compiled, immutable ``MappingConfig``.

Everything the hot path needs (key prefixes, column plans, limits, country table) is worked out here once, so
``map_record`` does no parsing. Errors are ``ConfigError`` naming the connection and the exact key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from shared import defaults
from shared.errors import ConfigError
from shared.mapping.countries import EXTRA_COUNTRIES, ISO_COUNTRIES
from shared.mapping.profiles import PROFILES

ENTITIES = ("supplier", "customer")
PRODUCTS = tuple(PROFILES)
ON_TOO_LONG = ("reject", "truncate")
ON_INVALID_EMAIL = ("drop", "reject")
EMPTY = ("null", "omit")

# Dataverse column max lengths (reference/dataverse.md §7); other columns are checked only if max_lengths names them.
COLUMN_LIMITS: Mapping[str, Mapping[str, int]] = MappingProxyType({
    "account": MappingProxyType({
        "name": 160, "accountnumber": 20, "address1_line1": 250, "address1_line2": 250, "address1_line3": 250,
        "address1_city": 80, "address1_country": 80, "address1_county": 50, "address1_stateorprovince": 50,
        "address1_postalcode": 20, "telephone1": 50, "telephone2": 50, "emailaddress1": 100, "emailaddress2": 100,
        "emailaddress3": 100, "websiteurl": 200, "description": 2000,
    }),
    "contact": MappingProxyType({
        "firstname": 50, "lastname": 50, "emailaddress1": 100, "emailaddress2": 100, "emailaddress3": 100,
        "telephone1": 50, "telephone2": 50, "mobilephone": 50, "jobtitle": 100, "description": 2000,
    }),
})
EMAIL_COLUMNS = frozenset({"emailaddress1", "emailaddress2", "emailaddress3"})
NAME_COLUMNS = ("firstname", "lastname", "fullname")  # contact name sources; fullname is split, never sent
_RESERVED = frozenset({"statecode", "statuscode", "customertypecode", "parentcustomerid", "parentcustomerid_account",
                       "accountid", "contactid"})
_SECTION_KEYS = frozenset({"source_id", "customertypecode", "on_too_long", "on_invalid_email", "empty",
                           "countries", "default_countries", "max_lengths", "kinds", "both", *ENTITIES})
_ENTITY_KEYS = frozenset({"id", "fields", "status", "contacts"})
_CONTACT_KEYS = frozenset({"id", "list", "key", "fields", "status"})
_COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_KIND = re.compile(r"^[A-Z0-9]{1,8}$")
_CONTACT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,19}$")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a column's value comes from: one field, several joined with ``sep``, or the first non-empty."""

    fields: tuple[str, ...]
    mode: str = "one"  # "one" | "join" | "first"
    sep: str = " "

    def describe(self) -> str:
        return self.fields[0] if self.mode == "one" else ("+" if self.mode == "join" else "|").join(self.fields)


@dataclass(frozen=True, slots=True)
class Column:
    """One mapped column: target name, source, max length (None = unchecked) and the value check it gets."""

    name: str
    source: Source
    max_length: int | None
    is_email: bool = False
    is_country: bool = False
    field: str | None = None  # set for a plain single field: the hot path reads it without the general reader
    fit_above: int = 1 << 62  # values longer than this get the exact (UTF-16) length check; half of max_length

    def __post_init__(self) -> None:
        if self.max_length is not None:
            object.__setattr__(self, "fit_above", self.max_length >> 1)


@dataclass(frozen=True, slots=True)
class Status:
    """Inactive when ``field`` (compared trimmed and case-insensitively) is one of ``inactive``."""

    field: str
    inactive: frozenset[str]


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """One contact source: a slot on the record itself (``list`` None) or each item of a list field."""

    id: str
    list: str | None
    key: tuple[str, ...]
    firstname: Source | None
    lastname: Source | None
    fullname: Source | None
    firstname_limit: int | None
    lastname_limit: int | None
    columns: tuple[Column, ...]
    status: Status | None


@dataclass(frozen=True, slots=True)
class EntityPlan:
    """Everything needed to map one entity's records of one connection."""

    entity: str
    key_prefix: str  # "<source_id>|<kind>|"
    id_fields: tuple[str, ...]
    columns: tuple[Column, ...]
    status: Status | None
    typecode: int | None
    contacts: tuple[ContactPlan, ...]


@dataclass(frozen=True, slots=True)
class BothRule:
    """How a record that is customer and supplier at once is recognised (only when both kinds share a key)."""

    field: str
    values: frozenset[str]
    use: str


@dataclass(frozen=True)
class MappingConfig:
    """The compiled mapping of one connection (build once per connection, reuse for every record)."""

    connection: str
    product: str
    source_id: str
    key_columns: Mapping[str, str]  # {"account": ..., "contact": ...}: the dataverse section's key columns
    key_max_length: int
    on_too_long: str
    on_invalid_email: str
    empty: str
    countries: Mapping[str, str]
    plans: Mapping[str, EntityPlan]
    both: BothRule | None
    both_plan: EntityPlan | None

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, *, connection: str, product: str,
                     key_columns: Mapping[str, str] | None = None) -> MappingConfig:
        """Lay ``section`` (a connection's ``mapping``, may be empty) over the product defaults and compile it.

        ``key_columns`` ({"account": ..., "contact": ...}) are the alternate-key columns the ``dataverse`` section
        names (``DataverseConfig.key_column(table)``); they live there only, so writer and mapping cannot disagree.
        Default: ``cssync_sourcekey`` on both tables.
        """
        return _build(section or {}, connection, product, key_columns or {})

    @property
    def shared_key(self) -> bool:
        """True when suppliers and customers share one key space (LN business partners)."""
        return self.both is not None


def merge_section(product: str, section: Mapping[str, Any]) -> dict[str, Any]:
    """The effective mapping: product defaults with ``section`` laid over them (the merge rules of docs/mapping.md)."""
    profile = PROFILES[product]
    merged: dict[str, Any] = {k: v for k, v in section.items() if k not in ("kinds", "both", *ENTITIES)}
    merged["kinds"] = {**profile["kinds"], **_as_dict(section.get("kinds", {}))}
    merged["both"] = section["both"] if "both" in section else profile["both"]
    for entity in ENTITIES:
        base, over = profile[entity], _as_dict(section.get(entity, {}))
        fields = {**base.get("fields", {}), **_as_dict(over.get("fields", {}))}
        merged[entity] = {
            "id": over.get("id", base.get("id")),
            "fields": {k: v for k, v in fields.items() if v is not None},
            "status": over["status"] if "status" in over else base.get("status"),
            "contacts": over["contacts"] if "contacts" in over else base.get("contacts", []),
        }
    return merged


def _as_dict(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


class _Ctx:
    """Builds error messages that name the connection and the key path."""

    def __init__(self, connection: str) -> None:
        self.connection = connection

    def fail(self, path: str, problem: str) -> ConfigError:
        return ConfigError(f"connection '{self.connection}': mapping.{path} {problem}")


def _build(section: Mapping[str, Any], connection: str, product: str, key_columns: Mapping[str, str]) -> MappingConfig:
    ctx = _Ctx(connection)
    if product not in PRODUCTS:
        raise ConfigError(f"connection '{connection}': mapping needs the product line resolved to one of "
                          f"{list(PRODUCTS)}, got {product!r}")
    if not isinstance(section, Mapping):
        raise ConfigError(f"connection '{connection}': 'mapping' must be an object")
    _check_keys(ctx, "", section, _SECTION_KEYS)
    _mapping(ctx, "kinds", section.get("kinds", {}))
    for entity in ENTITIES:
        if entity in section:
            _check_keys(ctx, f"{entity}.", _mapping(ctx, entity, section[entity]), _ENTITY_KEYS)
            _mapping(ctx, f"{entity}.fields", section[entity].get("fields", {}))
    merged = merge_section(product, section)
    source_id = _source_id(ctx, merged.get("source_id", connection))
    columns = _key_columns(connection, key_columns)
    limits = _limits(ctx, merged.get("max_lengths", {}))
    codes = _typecodes(ctx, merged.get("customertypecode", {}))
    kinds = _kinds(ctx, merged["kinds"])
    both = _both(ctx, merged["both"], kinds)
    plans = {
        entity: _entity_plan(ctx, entity, merged[entity], f"{source_id}|{kinds[entity]}|", codes[entity],
                             columns, limits)
        for entity in ENTITIES
    }
    both_plan = replace(plans[both.use], typecode=codes["both"]) if both else None
    return MappingConfig(
        connection=connection, product=product, source_id=source_id, key_columns=MappingProxyType(columns),
        key_max_length=defaults.DATAVERSE_KEY_MAX_LENGTH,
        on_too_long=_choice(ctx, "on_too_long", merged.get("on_too_long", defaults.MAPPING_ON_TOO_LONG), ON_TOO_LONG),
        on_invalid_email=_choice(ctx, "on_invalid_email",
                                 merged.get("on_invalid_email", defaults.MAPPING_ON_INVALID_EMAIL), ON_INVALID_EMAIL),
        empty=_choice(ctx, "empty", merged.get("empty", defaults.MAPPING_EMPTY), EMPTY),
        countries=_countries(ctx, merged.get("countries", {}), merged.get("default_countries", True)),
        plans=MappingProxyType(plans), both=both, both_plan=both_plan,
    )


def _check_keys(ctx: _Ctx, path: str, value: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ctx.fail(f"{path}{unknown[0]}", f"is not a mapping setting (allowed here: {sorted(allowed)})")


def _mapping(ctx: _Ctx, path: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ctx.fail(path, "must be an object")
    return value


def _strings(ctx: _Ctx, path: str, value: Any, *, min_items: int = 1) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) < min_items:
        raise ctx.fail(path, f"must be a list of at least {min_items} field name(s)")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise ctx.fail(path, "must contain only non-empty strings")
    return tuple(v.strip() for v in value)


def _choice(ctx: _Ctx, path: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ctx.fail(path, f"must be one of {list(allowed)}, got {value!r}")
    return value


def _source_id(ctx: _Ctx, value: Any) -> str:
    limit = defaults.MAPPING_SOURCE_ID_MAX_LENGTH
    if not isinstance(value, str) or not _SOURCE_ID.match(value) or len(value) > limit:
        raise ctx.fail("source_id", f"must be 1-{limit} characters of A-Z, a-z, 0-9, '.', '_' and '-', "
                                    "starting with a letter or digit (it starts every alternate-key value)")
    return value


def _column_name(ctx: _Ctx, path: str, value: Any) -> str:
    if not isinstance(value, str) or not _COLUMN.match(value):
        raise ctx.fail(path, f"must be a Dataverse column logical name (lower-case a-z, 0-9, _), got {value!r}")
    return value


def _limits(ctx: _Ctx, value: Any) -> dict[str, int]:
    for column, limit in _mapping(ctx, "max_lengths", value).items():
        _column_name(ctx, f"max_lengths.{column}", column)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ctx.fail(f"max_lengths.{column}", "must be a positive integer")
    return dict(value)


def _typecodes(ctx: _Ctx, value: Any) -> dict[str, int | None]:
    given = _mapping(ctx, "customertypecode", value)
    _check_keys(ctx, "customertypecode.", given, frozenset({*ENTITIES, "both"}))
    codes: dict[str, int | None] = {
        "supplier": given.get("supplier", defaults.MAPPING_CUSTOMERTYPECODE_SUPPLIER),
        "customer": given.get("customer", defaults.MAPPING_CUSTOMERTYPECODE_CUSTOMER),
    }
    codes["both"] = given.get("both", codes["customer"] if "customer" in given
                              else defaults.MAPPING_CUSTOMERTYPECODE_BOTH)
    for name, code in codes.items():
        if code is not None and (isinstance(code, bool) or not isinstance(code, int) or code < 1):
            raise ctx.fail(f"customertypecode.{name}", "must be a positive option value (e.g. 3 Customer, "
                                                       "10 Supplier, 11 Vendor) or null to leave it unmanaged")
    return codes


def _kinds(ctx: _Ctx, value: Any) -> dict[str, str]:
    given = _mapping(ctx, "kinds", value)
    _check_keys(ctx, "kinds.", given, frozenset(ENTITIES))
    for entity in ENTITIES:
        if not isinstance(given.get(entity), str) or not _KIND.match(given[entity]):
            raise ctx.fail(f"kinds.{entity}", "must be 1-8 characters of A-Z and 0-9")
    return dict(given)


def _both(ctx: _Ctx, value: Any, kinds: Mapping[str, str]) -> BothRule | None:
    shared = kinds["supplier"] == kinds["customer"]
    if value is None:
        if shared:
            raise ctx.fail("both", "is required when kinds.supplier equals kinds.customer (one account per "
                                   "partner): say which field marks a partner that is customer and supplier")
        return None
    if not shared:
        raise ctx.fail("both", "applies only when kinds.supplier equals kinds.customer; set it to null")
    rule = _mapping(ctx, "both", value)
    _check_keys(ctx, "both.", rule, frozenset({"field", "values", "use"}))
    field = rule.get("field")
    if not isinstance(field, str) or not field.strip():
        raise ctx.fail("both.field", "must name the role field (e.g. BusinessPartnerRole)")
    values = frozenset(v.casefold() for v in _strings(ctx, "both.values", rule.get("values")))
    use = _choice(ctx, "both.use", rule.get("use", "customer"), ENTITIES)
    return BothRule(field=field.strip(), values=values, use=use)


def _status(ctx: _Ctx, path: str, value: Any) -> Status | None:
    if value is None:
        return None
    rule = _mapping(ctx, path, value)
    _check_keys(ctx, f"{path}.", rule, frozenset({"field", "inactive"}))
    if not isinstance(rule.get("field"), str) or not rule["field"].strip():
        raise ctx.fail(f"{path}.field", "must name the status field")
    inactive = _strings(ctx, f"{path}.inactive", rule.get("inactive"))
    return Status(field=rule["field"].strip(), inactive=frozenset(v.casefold() for v in inactive))


def _source(ctx: _Ctx, path: str, value: Any) -> Source:
    if isinstance(value, str):
        return Source(_strings(ctx, path, [value]))
    if isinstance(value, Sequence):
        return Source(_strings(ctx, path, value), mode="join", sep=" ")
    spec = _mapping(ctx, path, value)
    if "join" in spec:
        _check_keys(ctx, f"{path}.", spec, frozenset({"join", "sep"}))
        sep = spec.get("sep", " ")
        if not isinstance(sep, str):
            raise ctx.fail(f"{path}.sep", "must be a string")
        return Source(_strings(ctx, f"{path}.join", spec["join"]), mode="join", sep=sep)
    if "first" in spec:
        _check_keys(ctx, f"{path}.", spec, frozenset({"first"}))
        return Source(_strings(ctx, f"{path}.first", spec["first"]), mode="first")
    raise ctx.fail(path, "must be a field name, a list of field names (joined with a space), "
                         "{\"join\": [...], \"sep\": \", \"} or {\"first\": [...]}")


def _column(ctx: _Ctx, path: str, table: str, name: str, source: Any, limits: Mapping[str, int]) -> Column:
    parsed = _source(ctx, path, source)
    plain = parsed.mode == "one" and "." not in parsed.fields[0]
    return Column(
        name=name, source=parsed,
        max_length=limits.get(name, COLUMN_LIMITS[table].get(name)),
        is_email=name in EMAIL_COLUMNS,
        is_country=name.startswith("address") and name.endswith("_country"),
        field=parsed.fields[0] if plain else None,
    )


def _key_columns(connection: str, given: Mapping[str, str]) -> dict[str, str]:
    columns = {table: given.get(table, defaults.DATAVERSE_KEY_COLUMN) for table in ("account", "contact")}
    for table, column in columns.items():
        if not isinstance(column, str) or not _COLUMN.match(column):
            raise ConfigError(f"connection '{connection}': key column of {table} must be a Dataverse column logical "
                              f"name (lower-case a-z, 0-9, _), got {column!r}")
    return columns


def _target(ctx: _Ctx, path: str, name: str, key_columns: Mapping[str, str]) -> str:
    _column_name(ctx, path, name)
    if name in _RESERVED or name in key_columns.values():
        raise ctx.fail(path, "is set by the mapping itself and cannot be mapped from a source field")
    return name


def _entity_plan(ctx: _Ctx, entity: str, spec: Mapping[str, Any], key_prefix: str, typecode: int | None,
                 key_columns: Mapping[str, str], limits: Mapping[str, int]) -> EntityPlan:
    fields = _mapping(ctx, f"{entity}.fields", spec["fields"])
    if "name" not in fields:
        raise ctx.fail(f"{entity}.fields.name", "is required: every account needs a name")
    columns = tuple(
        _column(ctx, f"{entity}.fields.{name}", "account", _target(ctx, f"{entity}.fields.{name}", name, key_columns),
                source, limits)
        for name, source in fields.items()
    )
    contacts = _mapping_list(ctx, f"{entity}.contacts", spec["contacts"])
    plans = tuple(_contact_plan(ctx, f"{entity}.contacts[{i}]", c, key_columns, limits)
                  for i, c in enumerate(contacts))
    ids = [p.id for p in plans]
    if len(set(ids)) != len(ids):
        raise ctx.fail(f"{entity}.contacts", f"ids must be unique, got {ids}")
    return EntityPlan(
        entity=entity, key_prefix=key_prefix, id_fields=_strings(ctx, f"{entity}.id", spec["id"]),
        columns=columns, status=_status(ctx, f"{entity}.status", spec["status"]), typecode=typecode,
        contacts=plans,
    )


def _mapping_list(ctx: _Ctx, path: str, value: Any) -> Sequence[Mapping[str, Any]]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ctx.fail(path, "must be a list of contact objects ([] for none)")
    return [_mapping(ctx, f"{path}[{i}]", v) for i, v in enumerate(value)]


def _contact_plan(ctx: _Ctx, path: str, spec: Mapping[str, Any], key_columns: Mapping[str, str],
                  limits: Mapping[str, int]) -> ContactPlan:
    _check_keys(ctx, f"{path}.", spec, _CONTACT_KEYS)
    contact_id = spec.get("id")
    if not isinstance(contact_id, str) or not _CONTACT_ID.match(contact_id):
        raise ctx.fail(f"{path}.id", "must be 1-20 characters of a-z, 0-9, '_' and '-' (it is part of the key)")
    list_field = spec.get("list")
    if list_field is not None and (not isinstance(list_field, str) or not list_field.strip()):
        raise ctx.fail(f"{path}.list", "must name the field holding the list of contacts")
    key = _strings(ctx, f"{path}.key", spec.get("key")) if list_field is not None or "key" in spec else ()
    if list_field is None and key:
        raise ctx.fail(f"{path}.key", "applies only to list contacts (with 'list')")
    fields = _mapping(ctx, f"{path}.fields", spec.get("fields"))
    names = {n: _source(ctx, f"{path}.fields.{n}", fields[n]) for n in NAME_COLUMNS if fields.get(n) is not None}
    if "lastname" not in names and "fullname" not in names:
        raise ctx.fail(f"{path}.fields", "needs 'lastname' or 'fullname': a contact needs a last name")
    columns = tuple(
        _column(ctx, f"{path}.fields.{n}", "contact", _target(ctx, f"{path}.fields.{n}", n, key_columns), s, limits)
        for n, s in fields.items() if n not in NAME_COLUMNS and s is not None
    )
    contact_limits = COLUMN_LIMITS["contact"]
    return ContactPlan(
        id=contact_id, list=list_field.strip() if list_field else None, key=key,
        firstname=names.get("firstname"), lastname=names.get("lastname"), fullname=names.get("fullname"),
        firstname_limit=limits.get("firstname", contact_limits["firstname"]),
        lastname_limit=limits.get("lastname", contact_limits["lastname"]),
        columns=columns, status=_status(ctx, f"{path}.status", spec.get("status")),
    )


def _countries(ctx: _Ctx, value: Any, use_defaults: Any) -> Mapping[str, str]:
    if not isinstance(use_defaults, bool):
        raise ctx.fail("default_countries", "must be true or false")
    table: dict[str, str] = {}
    if use_defaults:
        for alpha2, alpha3, name in ISO_COUNTRIES:
            table[alpha2] = table[alpha3] = name
            table.setdefault(name.upper(), name)
        table.update(EXTRA_COUNTRIES)
    for code, name in _mapping(ctx, "countries", value).items():
        limit = COLUMN_LIMITS["account"]["address1_country"]
        if not isinstance(code, str) or not code.strip() or not isinstance(name, str) or not 0 < len(name) <= limit:
            raise ctx.fail(f"countries.{code}", f"must map a non-empty code to a name of 1-{limit} characters")
        table[code.strip().upper()] = name
    return MappingProxyType(table)
