"""FSM on Landmark (reference 5): ``/fsm/soap/classes/{Vendor|Customer}/lists/{_generic|PrimaryVendorList|
PrimaryCustomerList}`` with ``_fields`` (dotted), ``_limit``, ``_offset``, ``_lplFilter`` and ``_filter``.

The answer is a JSON array: a metadata element (``_count``, ``_links``) then ``{"_fields": {...}}`` per record.
Query strings are decoded without turning ``+`` into a space (a ``+`` in ``_lplFilter`` is a syntax error, as
through ION). A bad filter is HTTP 400 with ``ConditionNode tree failed``. No change stamps: full scan + diff.
Field names are assumptions (reference 5); they are the constants below.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlencode

from localdev.cloudsuite.data import Company
from localdev.cloudsuite.product import (
    PRIMARY_AREA,
    Context,
    Product,
    UnknownRecord,
    bulk_build,
    check_entity,
    unknown_fields,
)
from localdev.cloudsuite.store import ResultCache, Table
from localdev.simserver import Request, Response

ADDRESS = "CurrentAddressRel.PostalAddress."
ADDRESS_FIELDS = (f"{ADDRESS}DeliveryAddress.AddressLine1", f"{ADDRESS}DeliveryAddress.AddressLine2",
                  f"{ADDRESS}Municipality", f"{ADDRESS}StateProvince", f"{ADDRESS}PostalCode", f"{ADDRESS}Country")
VENDOR_FIELDS = ("VendorGroup", "Vendor", "VendorName", "VendorClass", "VendorStatus", "TaxID", "CurrencyCode",
                 "PhoneNumber", "FaxNumber", "EmailAddress", "URL", "Contact.ContactName", "Contact.EmailAddress",
                 "Contact.PhoneNumber", *ADDRESS_FIELDS)
CUSTOMER_FIELDS = ("FinanceEnterpriseGroup", "Customer", "CustomerName", "CustomerGroup", "Status", "TaxID",
                   "CurrencyCode", "PhoneNumber", "FaxNumber", "EmailAddress", "URL", "Contact.ContactName",
                   "Contact.EmailAddress", "Contact.PhoneNumber", *ADDRESS_FIELDS)
CLASSES = {"Vendor": ("supplier", VENDOR_FIELDS, "PrimaryVendorList", ("VendorGroup", "Vendor", "VendorName")),
           "Customer": ("customer", CUSTOMER_FIELDS, "PrimaryCustomerList",
                        ("FinanceEnterpriseGroup", "Customer", "CustomerName"))}
BY_ENTITY = {entity: name for name, (entity, *_rest) in CLASSES.items()}
KEY_FIELD = {"supplier": "Vendor", "customer": "Customer"}
STATUS_FIELD = {"supplier": "VendorStatus", "customer": "Status"}


class FilterError(ValueError):
    pass


class FSM(Product):
    name = "fsm"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._tables: dict[str, Table] = {}
        self._next: dict[str, int] = {}
        self._results = ResultCache()

    def table(self, entity: str) -> Table:
        with self.ctx.lock:
            if entity not in self._tables:
                table = Table(CLASSES[BY_ENTITY[entity]][1])
                with bulk_build():
                    companies = self.ctx.companies(PRIMARY_AREA, entity)
                    table.load(self._row(entity, c) for c in companies)
                self._tables[entity] = table
                self._next[entity] = len(companies) + 1
            return self._tables[entity]

    def _row(self, entity: str, c: Company) -> tuple[str, list[str]]:
        a = c.address
        person = c.contacts[0] if c.contacts else None
        group = self.ctx.tenant.split("_")[0]
        common = {"TaxID": c.vat, "CurrencyCode": c.currency, "PhoneNumber": c.phone, "FaxNumber": c.fax,
                  "EmailAddress": c.email, "URL": c.url, "Contact.ContactName": person.full_name if person else "",
                  "Contact.EmailAddress": person.email if person else "",
                  "Contact.PhoneNumber": person.phone if person else "",
                  ADDRESS_FIELDS[0]: a.line1, ADDRESS_FIELDS[1]: a.line2, ADDRESS_FIELDS[2]: a.city,
                  ADDRESS_FIELDS[3]: a.state, ADDRESS_FIELDS[4]: a.zip, ADDRESS_FIELDS[5]: a.country}
        status = "Active" if c.active else "Inactive"
        if entity == "supplier":
            key = str(100000 + c.number)
            row = {"VendorGroup": group, "Vendor": key, "VendorName": c.name, "VendorClass": "TRD",
                   "VendorStatus": status, **common}
        else:
            key = str(500000 + c.number)
            row = {"FinanceEnterpriseGroup": group, "Customer": key, "CustomerName": c.name, "CustomerGroup": "RETAIL",
                   "Status": status, **common}
        return key, [row[f] for f in CLASSES[BY_ENTITY[entity]][1]]

    # --- HTTP ------------------------------------------------------------------------------------
    def handle(self, request: Request, rest: list[str]) -> Response:
        if len(rest) != 6 or rest[:3] != ["fsm", "soap", "classes"] or rest[4] != "lists":
            return Response.json({"message": "Resource not found"}, 404)
        class_name, list_name = rest[3], rest[5]
        spec = CLASSES.get(class_name)
        if spec is None or list_name not in ("_generic", spec[2]):
            return Response.json({"message": f"List {list_name} not found for business class {class_name}"}, 404)
        if request.method != "GET":
            return Response(405, headers={"Allow": "GET"})
        entity, all_fields, _, default_fields = spec
        params = _raw_query(request.raw_path)
        try:
            fields = self._fields(class_name, all_fields, default_fields, params.get("_fields", ""))
            limit = _int(params.get("_limit"), self.ctx.settings.fsm_default_limit)
            offset = _int(params.get("_offset"), 0)
        except ValueError as exc:
            return Response.json({"status": "400", "message": str(exc)}, 400)
        with self.ctx.lock:
            table = self.table(entity)
            try:
                keep = _lpl(params.get("_lplFilter", ""), table) if params.get("_lplFilter") else None
                simple = _simple_filter(params.get("_filter", ""), table)
            except FilterError as exc:
                message = f"ConditionNode tree failed to build for filter: {exc}"
                return Response.json({"status": str(self.ctx.settings.fsm_bad_filter_status), "message": message},
                                     self.ctx.settings.fsm_bad_filter_status)
            if keep is None and simple is None:
                matching = table.keys
            else:
                matching = self._results.get(table, (params.get("_lplFilter", ""), params.get("_filter", "")),
                                             lambda: [k for k in table.keys if (keep is None or keep(table.rows[k]))
                                                      and (simple is None or simple(table.rows[k]))])
            page = matching[offset: offset + limit] if limit else matching[offset:]
            records = [{"_fields": table.as_dict(table.rows[k], fields)} for k in page]
        meta: dict[str, Any] = {}
        if params.get("_omitCountValue", "").lower() != "true":
            meta["_count"] = len(matching) if self.ctx.settings.fsm_count_total else len(page)
        links = []
        if limit and offset + len(page) < len(matching):
            following = {**params, "_offset": str(offset + len(page))}
            links.append({"rel": "next", "href": f"{self.ctx.base_url}{request.path}?{urlencode(following)}"})
        meta["_links"] = links
        return Response.json([meta, *records])

    @staticmethod
    def _fields(class_name: str, all_fields: tuple[str, ...], default: tuple[str, ...], raw: str) -> tuple[str, ...]:
        names = [f.strip() for f in raw.split(",") if f.strip()]
        if not names:
            return default
        if names == ["_all"]:
            return all_fields
        unknown = [n for n in names if n not in all_fields]
        if unknown:
            raise ValueError(f"Field {unknown[0]} not found in business class {class_name}")
        return tuple(names)

    # --- Python API ------------------------------------------------------------------------------
    def records(self, entity: str, area: str | None = None) -> list[dict[str, Any]]:
        check_entity(entity)
        with self.ctx.lock:
            table = self.table(entity)
            return [table.as_dict(table.rows[k]) for k in table.keys]

    def keys(self, entity: str, area: str | None = None) -> list[str]:
        check_entity(entity)
        with self.ctx.lock:
            return list(self.table(entity).keys)

    def add(self, entity: str, fields: dict[str, Any], area: str | None = None) -> str:
        check_entity(entity)
        with self.ctx.lock:
            table = self.table(entity)
            number = self._next[entity]
            self._next[entity] += 1
            key, row = self._row(entity, self.ctx.new_company(PRIMARY_AREA, entity, number))
            if fields.get(KEY_FIELD[entity]):
                key = str(fields[KEY_FIELD[entity]])
                row[table.pos[KEY_FIELD[entity]]] = key
            if key in table:
                raise ValueError(f"record {key} already exists")
            table.put(key, row)
            rest = {k: v for k, v in fields.items() if k != KEY_FIELD[entity]}
            if rest:
                self.change(entity, key, rest)
            return key

    def change(self, entity: str, key: str, fields: dict[str, Any], area: str | None = None) -> None:
        check_entity(entity)
        with self.ctx.lock:
            table = self.table(entity)
            if key not in table:
                raise UnknownRecord(key)
            unknown_fields(fields, set(table.columns) - {KEY_FIELD[entity]}, f"FSM {BY_ENTITY[entity]}")
            table.set(key, **{k: str(v) for k, v in fields.items()})  # FSM: no stamp to bump

    def deactivate(self, entity: str, key: str, area: str | None = None) -> None:
        self.change(entity, key, {STATUS_FIELD[entity]: "Inactive"})

    def delete(self, entity: str, key: str, area: str | None = None) -> None:
        check_entity(entity)
        with self.ctx.lock:
            table = self.table(entity)
            if key not in table:
                raise UnknownRecord(key)
            table.remove(key)


def _raw_query(raw_path: str) -> dict[str, str]:
    """Decode the query like Landmark through ION: %XX only, '+' stays '+'."""
    query = raw_path.partition("?")[2]
    out: dict[str, str] = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            out.setdefault(unquote(name), unquote(value))
    return out


def _int(raw: str | None, default: int) -> int:
    if raw in (None, ""):
        return default
    if not raw.isdigit():
        raise ValueError(f"Invalid numeric value '{raw}'")
    return int(raw)


_LPL_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>)'
                        r"|(?P<punct>[()])|(?P<name>[A-Za-z_][\w.]*)|(?P<bad>\S))")
_LPL_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _lpl(text: str, table: Table) -> Callable[[list[Any]], bool]:
    """Landmark filter: Field op "literal" | Field like "pat*", and/or/not, parentheses."""
    tokens = []
    for match in _LPL_TOKEN.finditer(text):
        kind = match.lastgroup or ""
        if kind == "bad":
            raise FilterError(text)
        tokens.append((kind, match.group(kind)))
    pos = 0

    def peek(kind: str, value: str | None = None) -> bool:
        return pos < len(tokens) and tokens[pos][0] == kind and (value is None or tokens[pos][1].lower() == value)

    def take(kind: str) -> str:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos][0] != kind:
            raise FilterError(text)
        pos += 1
        return tokens[pos - 1][1]

    def expr() -> Callable[[list[Any]], bool]:
        parts = [term()]
        while peek("name", "or"):
            take("name")
            parts.append(term())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def term() -> Callable[[list[Any]], bool]:
        parts = [factor()]
        while peek("name", "and"):
            take("name")
            parts.append(factor())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def factor() -> Callable[[list[Any]], bool]:
        if peek("name", "not"):
            take("name")
            inner = factor()
            return lambda row: not inner(row)
        if peek("punct", "("):
            take("punct")
            inner = expr()
            take("punct")
            return inner
        field = take("name")
        if field not in table.pos:
            raise FilterError(text)
        index = table.pos[field]
        if peek("name", "like"):
            take("name")
            pattern = take("str")[1:-1]
            regex = re.compile("".join(".*" if ch == "*" else re.escape(ch) for ch in pattern) + "$", re.S)
            return lambda row: regex.match(row[index]) is not None
        op = take("op")
        if peek("str"):
            value: Any = take("str")[1:-1].replace('\\"', '"')
            return lambda row: _LPL_OPS[op](row[index], value)
        number = float(take("num"))

        def numeric(row: list[Any]) -> bool:
            try:
                return _LPL_OPS[op](float(row[index]), number)
            except ValueError:
                return False

        return numeric

    predicate = expr()
    if pos != len(tokens):
        raise FilterError(text)
    return predicate


def _simple_filter(text: str, table: Table) -> Callable[[list[Any]], bool] | None:
    """``_filter=Field::Value|Field2::Value`` (all must match)."""
    if not text:
        return None
    tests = []
    for part in text.split("|"):
        name, sep, value = part.partition("::")
        if not sep or name not in table.pos:
            raise FilterError(text)
        tests.append((table.pos[name], value))
    return lambda row: all(row[i] == v for i, v in tests)
