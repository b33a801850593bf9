"""LN OData v4 (reference 4): ``/lnapi/odata/tcapi.comBusinessPartner/{BusinessPartners|SoldtoBusinessPartners|
BuyfromBusinessPartners|Addresses}``, ``tcapi.comContact/Contacts`` and ``$metadata``.

``X-Infor-LnCompany`` selects the data set (default: the first of ``ln_companies``). Paging by ``$top``/``$skip``
with ``@odata.nextLink`` while more rows exist (switchable off, optional server page cap). No change stamps:
clients full-scan and diff. Errors are OData ``{"error": {...}}`` bodies; an optional transient 401
``OAuth [U14]: unknown oauth_consumer_key`` (``ln_transient_401`` = how many calls get it).
"""

from __future__ import annotations

import base64
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from localdev.cloudsuite.data import COUNTRIES, Company
from localdev.cloudsuite.odata import Compiler, ODataError
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

BP_SERVICE, CONTACT_SERVICE = "tcapi.comBusinessPartner", "tcapi.comContact"
BP_PROPS = ("BusinessPartner", "Title", "Name", "SearchKey", "ParentBusinessPartner", "BusinessPartnerStatus",
            "StartDate", "EndDate", "BusinessPartnerRole", "Language", "Currency", "AddressCode", "PhoneNumber",
            "CountryForPhoneNumber", "FaxNumber", "PrimaryContact", "Website", "ChamberOfCommerce",
            "CommercialIdentification", "InternalBusinessPartner", "OneTimeBusinessPartner", "AffiliatedCompany",
            "Text")
SOLDTO_PROPS = ("SoldtoBusinessPartner", "AddressCode", "Contact", "Currency", "TermsOfPayment", "CreditLimit")
BUYFROM_PROPS = ("BuyfromBusinessPartner", "AddressCode", "Contact", "Currency", "TermsOfPayment", "SupplierType")
ADDRESS_PROPS = ("AddressCode", "Name", "Street", "HouseNumber", "City", "CityDescription", "StateProvince",
                 "ZIPCodePostalCode", "Country")
CONTACT_PROPS = ("Contact", "BusinessPartner", "FullName", "FirstName", "LastName", "Email", "OfficePhone",
                 "MobilePhone", "Fax", "JobTitle", "Active", "WorkAddress")
STATUS = ("Prospect", "Active", "Inactive", "NotSpecified")
ROLES = ("NoRoles", "Customer", "Supplier", "CustomerAndSupplier")
ENUM_VALUES = {"BusinessPartnerStatus": (1, 2, 3, 254), "BusinessPartnerRole": (1, 2, 3, 4)}
ENUMS = {"BusinessPartnerStatus": (f"{BP_SERVICE}.BusinessPartnerStatus", STATUS),
         "BusinessPartnerRole": (f"{BP_SERVICE}.BusinessPartnerRole", ROLES)}
ROLE_OF = {"customer": "Customer", "supplier": "Supplier"}


@dataclass(frozen=True)
class EntitySet:
    service: str
    name: str
    type_name: str
    props: tuple[str, ...]
    table: str  # attribute of LNArea
    nav: tuple[str, ...]  # navigation properties we can $expand


SETS = {
    (BP_SERVICE, "BusinessPartners"): EntitySet(BP_SERVICE, "BusinessPartners", "BusinessPartner_", BP_PROPS, "bp",
                                                ("AddressRef", "ContactRef")),
    (BP_SERVICE, "SoldtoBusinessPartners"): EntitySet(BP_SERVICE, "SoldtoBusinessPartners", "SoldtoBusinessPartner",
                                                      SOLDTO_PROPS, "soldto", ("AddressRef", "ContactRef")),
    (BP_SERVICE, "BuyfromBusinessPartners"): EntitySet(BP_SERVICE, "BuyfromBusinessPartners",
                                                       "BuyfromBusinessPartner", BUYFROM_PROPS, "buyfrom",
                                                       ("AddressRef", "ContactRef")),
    (BP_SERVICE, "Addresses"): EntitySet(BP_SERVICE, "Addresses", "Address", ADDRESS_PROPS, "addresses", ()),
    (CONTACT_SERVICE, "Contacts"): EntitySet(CONTACT_SERVICE, "Contacts", "Contact", CONTACT_PROPS, "contacts", ()),
}
QUERY_OPTIONS = {"$select", "$filter", "$top", "$skip", "$count", "$expand", "$orderby", "$format"}


@dataclass
class LNArea:
    bp: Table
    soldto: Table
    buyfrom: Table
    addresses: Table
    contacts: Table
    built: set[str]
    next_bp: int


class LN(Product):
    name = "ln"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._areas: dict[str, LNArea] = {}
        self._transient_lock = threading.Lock()
        self._results = ResultCache()

    # --- data -------------------------------------------------------------------------------------
    def _company(self, area: str | None) -> str:
        companies = self.ctx.settings.ln_companies
        name = area or companies[0]
        if name not in companies:
            raise UnknownRecord(f"LN company {name} does not exist")
        return name

    def area(self, company: str | None = None, *entities: str) -> LNArea:
        company = self._company(company)
        with self.ctx.lock:
            data = self._areas.get(company)
            if data is None:
                counts = self.ctx.counts
                data = LNArea(Table(BP_PROPS), Table(SOLDTO_PROPS), Table(BUYFROM_PROPS), Table(ADDRESS_PROPS),
                              Table(CONTACT_PROPS), set(), 100 + counts["supplier"] + counts["customer"] + 1)
                self._areas[company] = data
            for entity in entities or ("supplier", "customer"):
                if entity not in data.built:
                    with bulk_build():
                        self._build(data, company, entity)
            return data

    def _build(self, data: LNArea, company: str, entity: str) -> None:
        gen_area = PRIMARY_AREA if company == self.ctx.settings.ln_companies[0] else f"ln:{company}"
        companies = self.ctx.companies(gen_area, entity)
        bp_rows, role_rows, addr_rows, contact_rows = [], [], [], []
        supplier_count = self.ctx.counts["supplier"]
        for c in companies:
            number = 100 + c.number if entity == "supplier" or c.shared else 100 + supplier_count + c.number
            role = "CustomerAndSupplier" if c.shared else ROLE_OF[entity]
            self._rows(c, number, entity, role, bp_rows, role_rows, addr_rows, contact_rows)
        # Existing rows win: a shared BP built (and maybe edited) for the other role keeps its current state.
        data.bp.load([*bp_rows, *data.bp.rows.items()])
        data.addresses.load([*addr_rows, *data.addresses.rows.items()])
        data.contacts.load([*contact_rows, *data.contacts.rows.items()])
        (data.buyfrom if entity == "supplier" else data.soldto).load(role_rows)
        data.built.add(entity)

    def _rows(self, c: Company, number: int, entity: str, role: str, bp_rows: list, role_rows: list, addr_rows: list,
              contact_rows: list) -> None:
        a = c.address
        bp = f"BP{number:07d}"
        address = f"ADR{number:06d}"
        contacts = [f"CN{number:07d}{i}" for i in range(1, len(c.contacts) + 1)]
        start = datetime.fromtimestamp(c.created_s, UTC).strftime("%Y-%m-%dT00:00:00Z")
        country = COUNTRIES[a.country]
        row = {"BusinessPartner": bp, "Title": "", "Name": c.name[:35], "SearchKey": c.name[:16].upper(),
               "ParentBusinessPartner": "", "BusinessPartnerStatus": "Active" if c.active else "Inactive",
               "StartDate": start, "EndDate": None, "BusinessPartnerRole": role, "Language": c.language,
               "Currency": c.currency, "AddressCode": address, "PhoneNumber": c.phone,
               "CountryForPhoneNumber": country.dial, "FaxNumber": c.fax, "PrimaryContact": contacts[0] if contacts
               else "", "Website": c.url, "ChamberOfCommerce": "", "CommercialIdentification": c.vat,
               "InternalBusinessPartner": False, "OneTimeBusinessPartner": False, "AffiliatedCompany": "", "Text": 0}
        bp_rows.append((bp, [row[p] for p in BP_PROPS]))
        if entity == "supplier":
            role_rows.append((bp, [bp, address, contacts[0] if contacts else "", c.currency, "N30", "Trade"]))
        else:
            role_rows.append((bp, [bp, address, contacts[0] if contacts else "", c.currency, "N30", 25000.0]))
        addr = {"AddressCode": address, "Name": c.name[:35], "Street": a.street, "HouseNumber": a.house,
                "City": a.city.upper()[:10], "CityDescription": a.city, "StateProvince": a.state,
                "ZIPCodePostalCode": a.zip, "Country": country.code3}
        addr_rows.append((address, [addr[p] for p in ADDRESS_PROPS]))
        for cid, p in zip(contacts, c.contacts, strict=True):
            contact_rows.append((cid, [cid, bp, p.full_name, p.first, p.last, p.email, p.phone, p.mobile, "",
                                       p.title, True, address]))

    # --- HTTP ------------------------------------------------------------------------------------
    def handle(self, request: Request, rest: list[str]) -> Response:
        with self._transient_lock:
            if self.ctx.settings.ln_transient_401 > 0:
                self.ctx.settings.ln_transient_401 -= 1
                return Response(401, b"OAuth [U14]: unknown oauth_consumer_key", {"Content-Type": "text/plain"})
        if rest[:2] != ["lnapi", "odata"] or len(rest) < 3:
            return _error(ODataError("Resource not found.", "NotFound", 404))
        if request.method != "GET":
            return _error(ODataError("Method not allowed.", "MethodNotAllowed", 405))
        company = request.headers.get("x-infor-lncompany") or self.ctx.settings.ln_companies[0]
        if company not in self.ctx.settings.ln_companies:
            return _error(ODataError(f"Company {company} is not available for this user.", "InvalidCompany"))
        try:
            if rest[2:] == ["$metadata"] or (len(rest) == 4 and rest[3] == "$metadata"):
                return Response.json(_metadata(rest[2] if len(rest) == 4 else None))
            if len(rest) != 4:
                raise ODataError("Resource not found.", "NotFound", 404)
            service, segment = rest[2], rest[3]
            key = None
            if segment.endswith("')") and "('" in segment:
                segment, _, raw_key = segment[:-2].partition("('")
                key = raw_key.replace("''", "'")
            entity_set = SETS.get((service, segment))
            if entity_set is None:
                raise ODataError(f"Resource not found for the segment '{segment}'.", "NotFound", 404)
            with self.ctx.lock:
                body = self._query(entity_set, company, request, key)
            return Response.json(body, headers={"OData-Version": "4.0"})
        except ODataError as exc:
            return _error(exc)

    def _query(self, es: EntitySet, company: str, request: Request, key: str | None) -> dict[str, Any]:
        params = {k: v[0] for k, v in request.query.items()}
        unknown = [k for k in params if k.startswith("$") and k not in QUERY_OPTIONS]
        if unknown:
            raise ODataError(f"The query parameter '{unknown[0]}' is not supported.")
        data = self.area(company, *self._entities_for(es))
        table: Table = getattr(data, es.table)
        select = [p.strip() for p in params.get("$select", "").split(",") if p.strip()]
        for name in select:
            if name not in table.pos:
                raise ODataError(f"Could not find a property named '{name}' on type '{es.service}.{es.type_name}'.")
        expand = self._expand(es, params.get("$expand", ""))
        context = f"{self.ctx.base_url}/{self.ctx.tenant}/LN/lnapi/odata/{es.service}/$metadata#{es.name}"
        if key is not None:
            row = table.get(key)
            if row is None:
                raise ODataError(f"No resource found for key '{key}'.", "NotFound", 404)
            return {"@odata.context": f"{context}/$entity", **self._render(es, table, data, key, row, select, expand)}
        top = _int(params.get("$top"), "$top")
        skip = _int(params.get("$skip"), "$skip") or 0
        cap = self.ctx.settings.ln_max_page_size
        size = min(x for x in (top, cap) if x is not None) if (top is not None or cap) else None
        matching = self._matching(es, table, params.get("$filter", ""), params.get("$orderby", ""))
        page = matching[skip: skip + size] if size is not None else matching[skip:]
        body: dict[str, Any] = {"@odata.context": context + (f"({','.join(select)})" if select else "")}
        if params.get("$count", "").lower() == "true":
            body["@odata.count"] = len(matching)
        body["value"] = [self._render(es, table, data, k, table.rows[k], select, expand) for k in page]
        if self.ctx.settings.ln_next_link and size is not None and skip + len(page) < len(matching):
            following = {**params, "$skip": str(skip + len(page))}
            if top is not None:
                following["$top"] = str(top)
            body["@odata.nextLink"] = (f"{self.ctx.base_url}/{self.ctx.tenant}/LN/lnapi/odata/{es.service}/{es.name}?"
                                       + urlencode(following, quote_via=quote, safe="$,'()"))
        return body

    def _matching(self, es: EntitySet, table: Table, filter_text: str, orderby: str) -> list[str]:
        """Keys passing $filter in $orderby order (default key order); cached while the table is unchanged."""
        if not filter_text and not orderby:
            return table.keys
        keep = Compiler(f"{es.service}.{es.type_name}", table.pos, ENUMS).compile(filter_text)

        def scan() -> list[str]:
            keys = [k for k in table.keys if keep(table.rows[k])] if filter_text else table.keys
            return _order(table, es, keys, orderby) if orderby else keys

        return self._results.get(table, (filter_text, orderby), scan)

    @staticmethod
    def _entities_for(es: EntitySet) -> tuple[str, ...]:
        return {"soldto": ("customer",), "buyfrom": ("supplier",)}.get(es.table, ("supplier", "customer"))

    @staticmethod
    def _expand(es: EntitySet, raw: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for part in (p.strip() for p in _split_top(raw) if p.strip()):
            name, _, options = part.partition("(")
            if name not in es.nav:
                raise ODataError(f"Could not find a navigation property named '{name}' on type "
                                 f"'{es.service}.{es.type_name}'.")
            select: list[str] = []
            if options:
                option, _, value = options.rstrip(")").partition("=")
                if option != "$select":
                    raise ODataError(f"The query option '{option}' is not supported inside $expand.")
                select = [s.strip() for s in value.split(",") if s.strip()]
            out[name] = select
        return out

    def _render(self, es: EntitySet, table: Table, data: LNArea, key: str, row: list[Any], select: list[str],
                expand: dict[str, list[str]]) -> dict[str, Any]:
        item: dict[str, Any] = {"@odata.etag": _etag(row)}
        item.update(table.as_dict(row, select or None))
        for nav, nav_select in expand.items():
            if nav == "AddressRef":
                target, ref = data.addresses, row[table.pos["AddressCode"]]
            else:
                target = data.contacts
                ref = row[table.pos["PrimaryContact" if "PrimaryContact" in table.pos else "Contact"]]
            found = target.get(ref)
            item[nav] = target.as_dict(found, nav_select or None) if found is not None else None
        return item

    # --- Python API ------------------------------------------------------------------------------
    def _role_table(self, data: LNArea, entity: str) -> Table:
        return data.buyfrom if entity == "supplier" else data.soldto

    def records(self, entity: str, area: str | None = None) -> list[dict[str, Any]]:
        check_entity(entity)
        with self.ctx.lock:
            data = self.area(area)
            role = self._role_table(data, entity)
            return [{**data.bp.as_dict(data.bp.rows[k]), **role.as_dict(role.rows[k])} for k in role.keys]

    def keys(self, entity: str, area: str | None = None) -> list[str]:
        check_entity(entity)
        with self.ctx.lock:
            return list(self._role_table(self.area(area, entity), entity).keys)

    def add(self, entity: str, fields: dict[str, Any], area: str | None = None) -> str:
        check_entity(entity)
        with self.ctx.lock:
            data = self.area(area)
            number = data.next_bp
            data.next_bp += 1
            company = self.ctx.new_company(PRIMARY_AREA, entity, number)
            bp_rows: list = []
            role_rows: list = []
            addr_rows: list = []
            contact_rows: list = []
            self._rows(company, number, entity, ROLE_OF[entity], bp_rows, role_rows, addr_rows, contact_rows)
            for table, rows in ((data.bp, bp_rows), (self._role_table(data, entity), role_rows),
                                (data.addresses, addr_rows), (data.contacts, contact_rows)):
                for key, row in rows:
                    table.put(key, row)
            key = bp_rows[0][0]
            if fields:
                self.change(entity, key, fields, area)
            return key

    def change(self, entity: str, key: str, fields: dict[str, Any], area: str | None = None) -> None:
        check_entity(entity)
        with self.ctx.lock:
            data = self.area(area)
            role = self._role_table(data, entity)
            if key not in role:
                raise UnknownRecord(key)
            targets: list[tuple[Table, str, dict[str, Any]]] = [
                (data.bp, key, {}), (role, key, {}), (data.addresses, data.bp.value(key, "AddressCode"), {})]
            leftover = {}
            for name, value in fields.items():
                for table, _, bucket in targets:
                    if name in table.pos and name not in ("BusinessPartner", "AddressCode", role.columns[0]):
                        bucket[name] = value
                        break
                else:
                    leftover[name] = value
            unknown_fields(leftover, set(), f"LN {entity}")
            for table, row_key, bucket in targets:
                if bucket:
                    table.set(row_key, **bucket)  # LN has no change stamp to bump

    def deactivate(self, entity: str, key: str, area: str | None = None) -> None:
        self.change(entity, key, {"BusinessPartnerStatus": "Inactive"}, area)

    def delete(self, entity: str, key: str, area: str | None = None) -> None:
        check_entity(entity)
        with self.ctx.lock:
            data = self.area(area)
            role = self._role_table(data, entity)
            if key not in role:
                raise UnknownRecord(key)
            role.remove(key)
            if data.bp.value(key, "BusinessPartnerRole") == "CustomerAndSupplier":
                other = "Customer" if entity == "supplier" else "Supplier"
                data.bp.set(key, BusinessPartnerRole=other)
                return
            data.addresses.remove(data.bp.value(key, "AddressCode"))
            for contact in [k for k, r in data.contacts.rows.items() if r[1] == key]:
                data.contacts.remove(contact)
            data.bp.remove(key)


def _order(table: Table, es: EntitySet, keys: list[str], raw: str) -> list[str]:
    """$orderby=Prop [asc|desc], ...: stable sorts from the last criterion to the first (key order breaks ties)."""
    criteria = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        name, _, direction = part.partition(" ")
        if name not in table.pos or direction.strip() not in ("", "asc", "desc"):
            raise ODataError(f"Could not find a property named '{name}' on type '{es.service}.{es.type_name}'.")
        criteria.append((table.pos[name], direction.strip() == "desc"))
    ordered = list(keys)
    for pos, desc in reversed(criteria):
        ordered.sort(key=lambda k, p=pos: (table.rows[k][p] is not None, table.rows[k][p] or ""), reverse=desc)
    return ordered


def _int(raw: str | None, name: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ODataError(f"Invalid value '{raw}' for {name}.") from exc
    if value < 0:
        raise ODataError(f"Invalid value '{raw}' for {name}.")
    return value


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses ($expand=A($select=x,y),B)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    return [*parts, current]


def _etag(row: list[Any]) -> str:
    digest = zlib.crc32(repr(row).encode("utf-8"))
    return 'W/"' + base64.b64encode(f"{digest:08x}".encode()).decode() + '"'


def _error(exc: ODataError) -> Response:
    return Response.json({"error": {"code": exc.code, "message": exc.message,
                                    "details": [{"code": exc.code, "message": exc.message}]}}, exc.status)


def _edm(value: Any, prop: str) -> str:
    if prop in ENUMS:
        return ENUMS[prop][0]
    if prop in ("StartDate", "EndDate"):
        return "Edm.DateTimeOffset"
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, float):
        return "Edm.Decimal"
    if isinstance(value, int):
        return "Edm.Int64"
    return "Edm.String"


_SAMPLE = {"InternalBusinessPartner": False, "OneTimeBusinessPartner": False, "Active": True, "Text": 0,
           "CreditLimit": 0.0}


def _metadata(service: str | None) -> dict[str, Any]:
    """CSDL JSON of the simulated services (types only as far as the simulator needs)."""
    doc: dict[str, Any] = {"$Version": "4.01"}
    for svc in (BP_SERVICE, CONTACT_SERVICE):
        if service not in (None, svc):
            continue
        schema: dict[str, Any] = {}
        container: dict[str, Any] = {"$Kind": "EntityContainer"}
        for (s, name), es in SETS.items():
            if s != svc:
                continue
            entity_type: dict[str, Any] = {"$Kind": "EntityType", "$Key": [es.props[0]]}
            for prop in es.props:
                entity_type[prop] = {"$Type": _edm(_SAMPLE.get(prop, ""), prop), "$Nullable": prop != es.props[0]}
            for nav in es.nav:
                target = "Address" if nav == "AddressRef" else "Contact"
                entity_type[nav] = {"$Kind": "NavigationProperty", "$Type": f"{svc}.{target}", "$Nullable": True}
            schema[es.type_name] = entity_type
            container[name] = {"$Collection": True, "$Type": f"{svc}.{es.type_name}"}
        if svc == BP_SERVICE:
            for prop, (qualified, members) in ENUMS.items():
                schema[qualified.rsplit(".", 1)[1]] = {"$Kind": "EnumType", **dict(zip(members, ENUM_VALUES[prop],
                                                                                          strict=True))}
        schema["Container"] = container
        doc[svc] = schema
        doc.setdefault("$EntityContainer", f"{svc}.Container")
    if service is not None and len(doc) == 1:
        raise ODataError(f"Resource not found for the segment '{service}'.", "NotFound", 404)
    return doc
