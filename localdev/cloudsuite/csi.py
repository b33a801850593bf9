"""CSI / SyteLine Mongoose IDO REST v2 (reference 3): ``/IDORequestService/ido/load/{SLVendors|SLCustomers}``.

One data set per Mongoose configuration (``X-Infor-MongooseConfig``). Parameter names match case-insensitively.
Errors are ``Success:false`` inside HTTP 200. Keys are right-justified with leading blanks; dates are site-local
``YYYYMMDD HH:MM:SS.fff``. Paging: ``recordcap`` + ``loadtype=NEXT`` + ``bookmark`` (XML-ish, F/L = first/last row's
sort values); a page exactly ``recordcap`` long says ``MoreRowsExist: true``, so the last full page is followed by an
empty NEXT page with ``MoreRowsExist: false``.
"""

from __future__ import annotations

import functools
import html
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from localdev.cloudsuite.csi_filter import Compiler, FilterSyntax, IllegalFilter, format_date
from localdev.cloudsuite.data import COUNTRIES, Company
from localdev.cloudsuite.product import (
    PRIMARY_AREA,
    Context,
    Product,
    UnknownRecord,
    bulk_build,
    check_entity,
    unknown_fields,
)
from localdev.cloudsuite.store import Table
from localdev.simserver import Request, Response

VENDOR_PROPS = ("VendNum", "Name", "Contact", "Phone", "ExternalEmailAddr", "InternalEmailAddr", "InternetUrl",
                "VadAddr_1", "VadAddr_2", "VadAddr_3", "VadAddr_4", "VadCity", "VadState", "VadZip", "VadCounty",
                "VadCountry", "VadFaxNum", "VadTelexNum", "VadRecordDate", "VadRowPointer", "Stat", "CurrCode",
                "TermsCode", "VendType", "Category", "TaxRegNum1", "LangCode", "RecordDate", "CreateDate",
                "RowPointer")
CUSTOMER_PROPS = ("CustNum", "CustSeq", "Name", "Addr_1", "Addr_2", "Addr_3", "Addr_4", "City", "State", "Zip",
                  "County", "Country", "Phone_1", "Phone_2", "Phone_3", "FaxNum", "TelexNum", "Contact_1",
                  "Contact_2", "Contact_3", "ExternalEmailAddr", "CustomerEmailAddr", "InternalEmailAddr",
                  "BillToEmail", "ShipToEmail", "InternetUrl", "CreditHold", "CreditLimit", "CurrCode", "TermsCode",
                  "CustType", "Slsman", "TaxRegNum1", "LangCode", "RecordDate", "CreateDate", "AdrRecordDate",
                  "RowPointer")
DATE_PROPS = {"RecordDate", "CreateDate", "AdrRecordDate", "VadRecordDate"}
NUMERIC_PROPS = {"CustSeq", "CreditHold", "CreditLimit"}
CUSTOMER_ADDRESS_PROPS = {"Addr_1", "Addr_2", "Addr_3", "Addr_4", "City", "State", "Zip", "County", "Country",
                          "FaxNum", "TelexNum"}
VENDOR_ADDRESS_PROPS = {p for p in VENDOR_PROPS if p.startswith("Vad")} - {"VadRecordDate", "VadRowPointer"}


@dataclass(frozen=True)
class Ido:
    name: str
    entity: str
    props: tuple[str, ...]
    key_props: tuple[str, ...]
    table_name: str  # for _ItemId PBT=[...]
    alias: str
    address_props: set[str]
    address_stamp: str


IDOS = {
    "SLVendors": Ido("SLVendors", "supplier", VENDOR_PROPS, ("VendNum",), "vendor", "ven", VENDOR_ADDRESS_PROPS,
                     "VadRecordDate"),
    "SLCustomers": Ido("SLCustomers", "customer", CUSTOMER_PROPS, ("CustNum", "CustSeq"), "customer", "cus",
                       CUSTOMER_ADDRESS_PROPS, "AdrRecordDate"),
}
BY_ENTITY = {ido.entity: ido for ido in IDOS.values()}


class IdoError(Exception):
    """Becomes ``Success:false`` with this message inside HTTP 200."""


@functools.total_ordering
class _Desc:
    """Reverses the order of one sort component (orderby ... DESC)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __lt__(self, other: _Desc) -> bool:
        return other.value < self.value

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass
class _Order:
    props: tuple[str, ...]  # bookmark P: orderby props, then the key props not already in it
    desc: tuple[bool, ...]
    default: bool  # plain key order: use the table's own sorted keys


class CSI(Product):
    name = "csi"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._areas: dict[str, dict[str, Table]] = {}
        self._next: dict[tuple[str, str], int] = {}
        self._orders: dict[tuple[str, str, tuple[str, ...], tuple[bool, ...]], tuple[int, list, list[str]]] = {}

    # --- data -------------------------------------------------------------------------------------
    def _config(self, area: str | None) -> str:
        configs = self.ctx.settings.csi_configs
        name = area or configs[0]
        if name not in configs:
            raise UnknownRecord(f"Mongoose configuration {name} does not exist")
        return name

    def table(self, entity: str, area: str | None = None) -> Table:
        config = self._config(area)
        with self.ctx.lock:
            if config not in self._areas:
                self._areas[config] = {}
            tables = self._areas[config]
            if entity not in tables:
                gen_area = PRIMARY_AREA if config == self.ctx.settings.csi_configs[0] else f"csi:{config}"
                table = Table(BY_ENTITY[entity].props)
                with bulk_build():
                    companies = self.ctx.companies(gen_area, entity)
                    table.load(row for c in companies for row in self._rows(entity, c))
                tables[entity] = table
                self._next[(config, entity)] = len(companies) + 1
            return tables[entity]

    def _pad(self, key: str) -> str:
        return key.strip().rjust(self.ctx.settings.csi_key_width)

    def _site_date(self, epoch_s: float) -> str:
        return format_date(self.ctx.local(epoch_s, self.ctx.settings.csi_site_timezone).replace(tzinfo=None))

    def _rows(self, entity: str, c: Company) -> list[tuple[str, list[Any]]]:
        a = c.address
        changed, created = self._site_date(c.changed_s), self._site_date(c.created_s)
        country = COUNTRIES[a.country].name
        names = [p.full_name for p in c.contacts]
        if entity == "supplier":
            key = self._pad(f"V{1000 + c.number}")
            row = {"VendNum": key, "Name": c.name[:60], "Contact": _none(names[0] if names else ""),
                   "Phone": _none(c.phone), "ExternalEmailAddr": _none(c.contacts[0].email if c.contacts else c.email),
                   "InternalEmailAddr": None, "InternetUrl": _none(c.url), "VadAddr_1": _none(a.line1),
                   "VadAddr_2": _none(a.line2), "VadAddr_3": None, "VadAddr_4": None, "VadCity": _none(a.city),
                   "VadState": _none(a.state), "VadZip": _none(a.zip), "VadCounty": None, "VadCountry": country,
                   "VadFaxNum": _none(c.fax), "VadTelexNum": None, "VadRecordDate": changed,
                   "VadRowPointer": _guid(c.row_id, 1), "Stat": "A" if c.active else "I", "CurrCode": c.currency,
                   "TermsCode": "N30", "VendType": "TRD", "Category": None, "TaxRegNum1": _none(c.vat),
                   "LangCode": c.language, "RecordDate": changed, "CreateDate": created, "RowPointer": c.row_id}
            return [(key, [row[p] for p in VENDOR_PROPS])]
        key = self._pad(f"C{1000 + c.number}")
        rows = []
        sites = [(0, a)]
        every = self.ctx.settings.csi_ship_to_every
        if every and c.number % every == 0:
            sites.append((1, c.delivery[0] if c.delivery else a))
        for seq, site in sites:
            row = {"CustNum": key, "CustSeq": str(seq), "Name": c.name[:60], "Addr_1": _none(site.line1),
                   "Addr_2": _none(site.line2), "Addr_3": None, "Addr_4": None, "City": _none(site.city),
                   "State": _none(site.state), "Zip": _none(site.zip), "County": None,
                   "Country": COUNTRIES[site.country].name, "Phone_1": _none(c.phone), "Phone_2": None,
                   "Phone_3": None, "FaxNum": _none(c.fax), "TelexNum": None,
                   "Contact_1": _none(names[0] if names else ""), "Contact_2": _none(names[1] if len(names) > 1
                                                                                       else ""),
                   "Contact_3": _none(names[2] if len(names) > 2 else ""), "ExternalEmailAddr": _none(c.email),
                   "CustomerEmailAddr": _none(c.contacts[0].email if c.contacts else ""), "InternalEmailAddr": None,
                   "BillToEmail": _none(c.email), "ShipToEmail": None, "InternetUrl": _none(c.url),
                   "CreditHold": "0" if c.active else "1", "CreditLimit": "25000.00000000", "CurrCode": c.currency,
                   "TermsCode": "N30", "CustType": None, "Slsman": None, "TaxRegNum1": _none(c.vat),
                   "LangCode": c.language, "RecordDate": changed, "CreateDate": created, "AdrRecordDate": changed,
                   "RowPointer": _guid(c.row_id, seq)}
            rows.append((_cust_pk(key, seq), [row[p] for p in CUSTOMER_PROPS]))
        return rows

    # --- HTTP ------------------------------------------------------------------------------------
    def handle(self, request: Request, rest: list[str]) -> Response:
        if rest[:2] != ["IDORequestService", "ido"] or len(rest) < 3:
            return Response.json({"Message": "Not found"}, 404)
        if request.method != "GET":
            return Response(405, headers={"Allow": "GET"})
        if rest[2:] == ["configurations"]:
            return Response.json(list(self.ctx.settings.csi_configs))
        if rest[2] != "load" or len(rest) != 4:
            return Response.json({"Message": "Not found"}, 404)
        config = request.headers.get("x-infor-mongooseconfig")
        status = self.ctx.settings.csi_bad_config_status
        if not config:
            return _failure("The X-Infor-MongooseConfig header is required when calling through ION API.", status)
        if config not in self.ctx.settings.csi_configs:
            return _failure(f"Configuration '{config}' does not exist.", status)
        ido = IDOS.get(rest[3])
        if ido is None:
            return _failure(f"IDO '{rest[3]}' does not exist.")
        params = {k.lower(): v[0] for k, v in request.query.items()}
        try:
            with self.ctx.lock:
                body = self._load(ido, config, params)
        except (IdoError, IllegalFilter, FilterSyntax) as exc:
            return _failure(str(exc))
        return Response.json(body)  # serialised outside the lock

    def _load(self, ido: Ido, config: str, params: dict[str, str]) -> dict[str, Any]:
        table = self.table(ido.entity, config)
        lookup = {p.lower(): p for p in ido.props}
        props = self._properties(ido, lookup, params.get("properties", ""))
        order = self._order(ido, lookup, params.get("orderby", ""))
        compiler = Compiler({p.lower(): (p, table.pos[p]) for p in ido.props}, DATE_PROPS, NUMERIC_PROPS,
                            self._site_now)
        keep = compiler.compile(params.get("filter", ""))
        cap = self._recordcap(params.get("recordcap"))
        loadtype = (params.get("loadtype") or "FIRST").upper()
        bookmark = params.get("bookmark") or ""
        readonly = (params.get("readonly") or "").lower() == "true"
        keys, sort_keys = self._ordering(table, ido, order, config)
        page = self._page(table, ido, order, keys, sort_keys, keep, cap, loadtype, bookmark)
        more = self._more(table, ido, order, keys, sort_keys, keep, cap, page, loadtype)
        items = [self._item(table, ido, table.rows[k], props, readonly) for k in page]
        if page:
            first, last = table.rows[page[0]], table.rows[page[-1]]
            positions = [table.pos[p] for p in order.props]
            mark = _bookmark(order, [first[i] for i in positions], [last[i] for i in positions])
        else:
            mark = bookmark or _bookmark(order, None, None)
        return {"Items": items, "Bookmark": mark, "MoreRowsExist": more, "Success": True, "Message": None}

    def _page(self, table: Table, ido: Ido, order: _Order, keys: list[str], sort_keys: list[Any], keep: Any,
              cap: int, loadtype: str, bookmark: str) -> list[str]:
        """Primary keys of the rows this request returns, in order."""
        if loadtype in ("NEXT", "PREV") and bookmark:
            marks = _parse_bookmark(bookmark, order)
            if loadtype == "NEXT":
                anchor = self._sort_key(order, ido, marks["L"])
                find = bisect_left if self.ctx.settings.csi_next_repeats_boundary else bisect_right
                return self._scan(table, keys, range(find(sort_keys, anchor), len(keys)), keep, cap)
            end = bisect_left(sort_keys, self._sort_key(order, ido, marks["F"]))
            return self._scan(table, keys, range(end - 1, -1, -1), keep, cap)[::-1]
        if loadtype == "LAST":
            return self._scan(table, keys, range(len(keys) - 1, -1, -1), keep, cap)[::-1]
        return self._scan(table, keys, range(len(keys)), keep, cap)  # FIRST, or NEXT without a bookmark

    def _more(self, table: Table, ido: Ido, order: _Order, keys: list[str], sort_keys: list[Any], keep: Any,
              cap: int, page: list[str], loadtype: str) -> bool:
        if not cap:
            return False
        if self.ctx.settings.csi_more_rows_lookahead and page and loadtype != "PREV":
            after = bisect_right(sort_keys, self._row_sort_key(table, order, ido, table.rows[page[-1]]))
            return bool(self._scan(table, keys, range(after, len(keys)), keep, 1))
        return len(page) == cap  # Mongoose reads recordcap rows and cannot know whether more follow

    def _properties(self, ido: Ido, lookup: dict[str, str], raw: str) -> tuple[str, ...]:
        names = [p.strip() for p in raw.split(",") if p.strip()]
        if not names or names == ["*"]:
            return ido.props
        out = []
        for name in names:
            canonical = lookup.get(name.lower())
            if canonical is None:
                raise IdoError(f"Property '{name}' not found in IDO '{ido.name}'.")
            out.append(canonical)
        return tuple(out)

    def _order(self, ido: Ido, lookup: dict[str, str], raw: str) -> _Order:
        props: list[str] = []
        desc: list[bool] = []
        for part in (p.strip() for p in raw.split(",") if p.strip()):
            words = part.split()
            canonical = lookup.get(words[0].lower())
            if canonical is None:
                raise IdoError(f"Property '{words[0]}' not found in IDO '{ido.name}'.")
            if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
                raise IdoError(f"Invalid orderby clause '{part}'.")
            props.append(canonical)
            desc.append(len(words) == 2 and words[1].upper() == "DESC")
        default = not props or (tuple(props) == ido.key_props[: len(props)] and not any(desc))
        for key in ido.key_props:
            if key not in props:
                props.append(key)
                desc.append(False)
        return _Order(tuple(props), tuple(desc), default)

    def _recordcap(self, raw: str | None) -> int:
        try:
            cap = int(raw) if raw not in (None, "") else -1
        except ValueError as exc:
            raise IdoError(f"Invalid recordcap '{raw}'.") from exc
        return self.ctx.settings.csi_default_recordcap if cap < 0 else cap

    def _site_now(self) -> datetime:
        return self.ctx.local(self.ctx.clock.now(), self.ctx.settings.csi_site_timezone).replace(tzinfo=None)

    # ordering: key order is the table's own sorted key list; any other order is sorted once per data version
    def _ordering(self, table: Table, ido: Ido, order: _Order, config: str) -> tuple[list[str], list[Any]]:
        if order.default:
            return table.keys, table.keys
        cache_key = (config, ido.entity, order.props, order.desc)
        cached = self._orders.get(cache_key)
        if cached is None or cached[0] != table.version:
            pairs = sorted((self._row_sort_key(table, order, ido, row), key) for key, row in table.rows.items())
            cached = (table.version, [p[0] for p in pairs], [p[1] for p in pairs])
            self._orders[cache_key] = cached
        return cached[2], cached[1]

    def _row_sort_key(self, table: Table, order: _Order, ido: Ido, row: list[Any]) -> Any:
        return self._sort_key(order, ido, [row[table.pos[p]] for p in order.props])

    def _sort_key(self, order: _Order, ido: Ido, values: list[Any]) -> Any:
        if order.default:
            named = dict(zip(order.props, values, strict=True))
            return _cust_pk(named["CustNum"], int(named["CustSeq"] or 0)) if ido.entity == "customer" \
                else named["VendNum"]
        parts = []
        for prop, desc, value in zip(order.props, order.desc, values, strict=True):
            part = _collate(prop, value)
            parts.append(_Desc(part) if desc else part)
        return tuple(parts)

    @staticmethod
    def _scan(table: Table, keys: list[str], positions: range, keep: Any, cap: int) -> list[str]:
        out = []
        rows = table.rows
        for i in positions:
            key = keys[i]
            if keep(rows[key]):
                out.append(key)
                if cap and len(out) >= cap:
                    break
        return out

    @staticmethod
    def _item(table: Table, ido: Ido, row: list[Any], props: tuple[str, ...], readonly: bool) -> dict[str, Any]:
        item = {p: row[table.pos[p]] for p in props}
        if not readonly:
            stamp = row[table.pos["RecordDate"]]
            dashed = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}{stamp[8:]}"
            item["_ItemId"] = (f"PBT=[{ido.table_name}] {ido.alias}.DT=[{dashed}] "
                               f"{ido.alias}.ID=[{row[table.pos['RowPointer']].lower()}]")
        return item

    # --- Python API ------------------------------------------------------------------------------
    def records(self, entity: str, area: str | None = None) -> list[dict[str, Any]]:
        check_entity(entity)
        with self.ctx.lock:
            table = self.table(entity, area)
            ido = BY_ENTITY[entity]
            return [self._item(table, ido, table.rows[k], ido.props, False) for k in table.keys]

    def keys(self, entity: str, area: str | None = None) -> list[str]:
        check_entity(entity)
        with self.ctx.lock:
            table = self.table(entity, area)
            return [table.rows[k][0].strip() for k in table.keys]

    def _pk(self, entity: str, key: str) -> str:
        return _cust_pk(self._pad(key), 0) if entity == "customer" else self._pad(key)

    def add(self, entity: str, fields: dict[str, Any], area: str | None = None) -> str:
        check_entity(entity)
        with self.ctx.lock:
            config = self._config(area)
            table = self.table(entity, config)
            number = self._next[(config, entity)]
            self._next[(config, entity)] += 1
            company = self.ctx.new_company(PRIMARY_AREA, entity, number)
            ido = BY_ENTITY[entity]
            rows = self._rows(entity, company)[:1]
            pk, row = rows[0]
            wanted = fields.get(ido.key_props[0])
            if wanted:
                pk = self._pk(entity, str(wanted))
                row[0] = self._pad(str(wanted))
            if pk in table:
                raise ValueError(f"record {row[0].strip()} already exists")
            now = self._site_date(self.ctx.clock.now())
            for prop in ("RecordDate", "CreateDate", ido.address_stamp):
                row[table.pos[prop]] = now
            table.put(pk, row)
            rest = {k: v for k, v in fields.items() if k != ido.key_props[0]}
            unknown_fields(rest, set(ido.props) - DATE_PROPS - set(ido.key_props), f"CSI {ido.name}")
            if rest:
                table.set(pk, **rest)
            return row[0].strip()

    def change(self, entity: str, key: str, fields: dict[str, Any], area: str | None = None) -> None:
        check_entity(entity)
        with self.ctx.lock:
            table = self.table(entity, area)
            ido = BY_ENTITY[entity]
            pk = self._pk(entity, key)
            if pk not in table:
                raise UnknownRecord(key)
            unknown_fields(fields, set(ido.props) - DATE_PROPS - set(ido.key_props) - {"RowPointer"},
                           f"CSI {ido.name}")
            now = self._site_date(self.ctx.clock.now())
            stamps = {}
            if any(f not in ido.address_props for f in fields):
                stamps["RecordDate"] = now
            if any(f in ido.address_props for f in fields):
                stamps[ido.address_stamp] = now
            table.set(pk, **fields, **stamps)

    def deactivate(self, entity: str, key: str, area: str | None = None) -> None:
        self.change(entity, key, {"Stat": "I"} if entity == "supplier" else {"CreditHold": "1"}, area)

    def delete(self, entity: str, key: str, area: str | None = None) -> None:
        check_entity(entity)
        with self.ctx.lock:
            table = self.table(entity, area)
            pk = self._pk(entity, key)
            if pk not in table:
                raise UnknownRecord(key)
            if entity == "supplier":
                table.remove(pk)
                return
            prefix = pk.split("\t")[0] + "\t"  # every CustSeq (ship-tos) of the customer goes with it
            start = bisect_left(table.keys, prefix)
            for child in [k for k in table.keys[start:start + 1000] if k.startswith(prefix)]:
                table.remove(child)

    def server_time(self) -> datetime:
        return self._site_now()


def _cust_pk(padded_num: str, seq: int) -> str:
    return f"{padded_num}\t{seq:04d}"


def _none(value: str) -> str | None:
    return value or None


def _guid(row_id: str, salt: int) -> str:
    return row_id if salt == 0 else f"{row_id[:-4]}{(int(row_id[-4:], 16) + salt) % 65536:04X}"


def _collate(prop: str, value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")  # NULL sorts first ascending, as in SQL Server
    if prop in NUMERIC_PROPS:
        try:
            return (1, float(value))
        except ValueError:
            return (1, 0.0)
    return (1, str(value).rstrip().casefold())


def _failure(message: str, status: int = 200) -> Response:
    return Response.json({"Items": None, "Bookmark": None, "MoreRowsExist": False, "Success": False,
                          "Message": message}, status)


def _bookmark(order: _Order, first: list[Any] | None, last: list[Any] | None) -> str:
    def values(vals: list[Any] | None) -> str:
        return "".join("<v/>" if v is None else f"<v>{html.escape(str(v), quote=False)}</v>" for v in vals or [])

    props = "".join(f"<p>{p}</p>" for p in order.props)
    desc = "".join(f"<f>{'true' if d else 'false'}</f>" for d in order.desc)
    return f"<B><P>{props}</P><D>{desc}</D><F>{values(first)}</F><L>{values(last)}</L></B>"


_SECTION = re.compile(r"<(P|D|F|L)>(.*?)</\1>", re.S)
_VALUE = re.compile(r"<v/>|<v>(.*?)</v>", re.S)
_PROP = re.compile(r"<p>(.*?)</p>", re.S)


def _parse_bookmark(text: str, order: _Order) -> dict[str, list[Any]]:
    sections = dict(_SECTION.findall(text))
    if not text.startswith("<B>") or set(sections) != {"P", "D", "F", "L"}:
        raise IdoError("Invalid bookmark.")
    props = [html.unescape(m) for m in _PROP.findall(sections["P"])]
    if tuple(props) != order.props:
        raise IdoError("The bookmark does not match the orderby of this request.")
    out: dict[str, list[Any]] = {}
    for name in ("F", "L"):
        vals = [None if m.group(0) == "<v/>" else html.unescape(m.group(1)) for m in _VALUE.finditer(sections[name])]
        if len(vals) != len(props):
            raise IdoError("Invalid bookmark.")
        out[name] = vals
    return out
