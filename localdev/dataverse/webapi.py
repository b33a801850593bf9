"""Dataverse Web API routes: entity CRUD/upsert, queries, bulk actions, WhoAmI, sdkmessagefilters.

``WebApi.call`` runs one API operation (a top-level request or a $batch part) against the store; the
simulator wraps top-level requests with auth, throttling and common headers.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from localdev.dataverse.odata import DvError, compare, is_guid, norm, parse_filter, parse_segment, split_path
from localdev.dataverse.store import Address, Context, Txn
from localdev.simserver import Response

if TYPE_CHECKING:
    from localdev.dataverse.schema import Table
    from localdev.dataverse.simulator import DataverseSimulator

JSON_TYPE = "application/json; odata.metadata=minimal"
BULK_MESSAGES = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")
ALWAYS_MESSAGES = ("Create", "Update", "Upsert", "Delete", "Retrieve", "RetrieveMultiple")
MAX_PAGE_SIZE = 5000  # Dataverse's default and maximum page size for standard tables


@dataclass
class Call:
    """One Web API operation: method, path relative to /api/data/v9.2/ (raw), query, headers, body."""

    method: str
    rel: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    ctx: Context
    info: dict[str, Any] = field(default_factory=dict)

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            raise DvError(400, "0x80048d19", "Error identified in Payload provided by the user for Entity :''  ---->  "
                                             "InnerException : Microsoft.OData.ODataException: Invalid JSON. "
                                             "An unexpected end of input was found in the JSON reader.") from None

    @property
    def prefer(self) -> set[str]:
        return {p.strip() for p in self.headers.get("prefer", "").split(",") if p.strip()}

    def prefers_representation(self) -> bool:
        return "return=representation" in self.prefer

    def annotations(self) -> bool:
        return any(p.startswith("odata.include-annotations") for p in self.prefer)

    def max_page_size(self) -> int | None:
        for p in self.prefer:
            if p.startswith("odata.maxpagesize="):
                try:
                    return max(1, int(p.split("=", 1)[1]))
                except ValueError:
                    return None
        return None


def split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    """'accounts?$select=x' -> ('accounts', {'$select': ['x']})."""
    rel, _, query = target.partition("?")
    return rel, parse_qs(query, keep_blank_values=True)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response.json(obj, status, headers, content_type=JSON_TYPE)


def error_response(err: DvError, annotations: bool = False) -> Response:
    body = err.body()
    if annotations:  # Prefer: odata.include-annotations adds the CDS error details (reference 2.4)
        body["error"].update({
            "@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus": "0",
            "@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode": str(int(err.code, 16) - (1 << 32))
            if err.code.startswith("0x8") else "0",
            "@Microsoft.PowerApps.CDS.HelpLink": "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm."
                                                 f"CrmException%3a{err.code[2:]}&client=platform",
            "@Microsoft.PowerApps.CDS.TraceText": "",
            "@Microsoft.PowerApps.CDS.InnerError.Message": err.message})
    return json_response(body, err.status, dict(err.headers))


class WebApi:
    def __init__(self, sim: DataverseSimulator) -> None:
        self.sim = sim
        self.store = sim.store

    # ---- routing ----------------------------------------------------------------------------------------------

    def call(self, c: Call) -> Response:
        segments = split_path(c.rel)
        if not segments:
            return self._service_document(c)
        head = parse_segment(segments[0])
        name = head.name
        if name in ("WhoAmI", "WhoAmI()"):
            return self._whoami(c)
        if name == "sdkmessagefilters" and len(segments) == 1:
            return self._sdkmessagefilters(c)
        if name == "EntityDefinitions":
            return self.sim.metadata.call(c, segments)
        if name == "$metadata":
            raise DvError(501, "0x0", "The simulator does not serve $metadata.")
        table = self.store.table_for_set(name)
        if len(segments) == 2 and head.key is None:
            action = segments[1]
            if action.startswith("Microsoft.Dynamics.CRM."):
                return self._bulk(c, table, action[len("Microsoft.Dynamics.CRM."):])
            raise DvError(404, "0x8006088a", f"Resource not found for the segment '{action}'.")
        if len(segments) > 1:
            raise DvError(501, "0x0", "Property and navigation paths are not simulated.")
        if head.key is None:
            if c.method == "GET":
                return self._query(c, table)
            if c.method == "POST":
                return self._create(c, table)
            raise self._no_route(c)
        if c.method == "GET":
            return self._retrieve(c, table, head.key)
        if c.method == "PATCH":
            return self._patch(c, table, head.key)
        if c.method == "DELETE":
            return self._delete(c, table, head.key)
        raise self._no_route(c)

    def _no_route(self, c: Call) -> DvError:
        return DvError(405, "0x0", f"The HTTP method '{c.method}' is not allowed for this resource.")

    def _url(self, path: str) -> str:
        return self.sim.api_base + path

    # ---- singles ----------------------------------------------------------------------------------------------

    def _select(self, c: Call, table: Table) -> list[str] | None:
        raw = c.q("$select")
        if not raw:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        self.store.check_select(table, names)
        return names

    def _representation_response(self, c: Call, table: Table, row_id: str, status: int,
                                 extra: dict[str, str] | None = None) -> Response:
        row = self.store.rows[table.logical_name][row_id]
        select = self._select(c, table)
        body = {"@odata.context": self._url(f"$metadata#{table.set_name}"
                                            f"{'(' + ','.join(select) + ')' if select else ''}/$entity"),
                **self.store.represent(table, row, select, c.annotations())}
        headers = {"ETag": body["@odata.etag"], "Preference-Applied": "return=representation", **(extra or {})}
        return json_response(body, status, headers)

    def _create(self, c: Call, table: Table) -> Response:
        body = c.json()
        c.info.update(kind="create", operations=1)
        with self.store.lock:
            if c.prefers_representation():
                self._select(c, table)  # a bad $select fails before the write
            changes = self.store.changes(table, body, c.ctx)
            txn = Txn(self.store)
            row_id = self.store.create(table, changes, txn)
            txn.commit(c.ctx)
            c.info["entity_path"] = f"{table.set_name}({row_id})"
            if c.prefers_representation():
                return self._representation_response(c, table, row_id, 201,
                                                     {"Location": self._url(c.info["entity_path"])})
        return Response(204, b"", {"OData-EntityId": self._url(c.info["entity_path"]),
                                   "Location": self._url(c.info["entity_path"])})

    def _patch(self, c: Call, table: Table, key_text: str) -> Response:
        body = c.json()
        c.info.update(kind="upsert", operations=1)
        if_match = c.headers.get("if-match")
        if_none_match = c.headers.get("if-none-match")
        with self.store.lock:
            address = self.store.locate(table, key_text)
            if c.prefers_representation():
                self._select(c, table)
            changes = self.store.changes(table, body, c.ctx)
            self._check_conditions(address, if_match, if_none_match)
            txn = Txn(self.store)
            row_id, created = self.store.upsert(address, changes, txn)
            txn.commit(c.ctx)
            c.info.update(created=created, entity_path=address.path())
            if c.prefers_representation():
                return self._representation_response(c, table, row_id, 201 if created else 200)
        return Response(204, b"", {"OData-EntityId": self._url(address.path())})

    def _check_conditions(self, address: Address, if_match: str | None, if_none_match: str | None) -> None:
        if if_match:
            if address.row_id is None:
                raise address.not_found()
            if if_match.strip() != "*":
                row = self.store.rows[address.table.logical_name][address.row_id]
                if if_match.strip() != f'W/"{row["versionnumber"]}"':
                    raise DvError(412, "0x80060882",
                                  "The version of the existing record doesn't match the RowVersion property provided.")
        if if_none_match and if_none_match.strip() == "*" and address.row_id is not None:
            raise DvError(412, "", "A record with matching key values already exists.")

    def _retrieve(self, c: Call, table: Table, key_text: str) -> Response:
        c.info.update(kind="retrieve", operations=1)
        self._refuse_unsimulated(c)
        with self.store.lock:
            address = self.store.locate(table, key_text)
            if address.row_id is None:
                raise address.not_found()
            row = self.store.rows[table.logical_name][address.row_id]
            inm = c.headers.get("if-none-match", "").strip()
            if inm and inm == f'W/"{row["versionnumber"]}"':
                return Response(304, b"", {})
            select = self._select(c, table)
            body = {"@odata.context": self._url(f"$metadata#{table.set_name}"
                                                f"{'(' + ','.join(select) + ')' if select else ''}/$entity"),
                    **self.store.represent(table, row, select, c.annotations())}
        return json_response(body, 200, {"ETag": body["@odata.etag"]})

    def _delete(self, c: Call, table: Table, key_text: str) -> Response:
        c.info.update(kind="delete", operations=1)
        with self.store.lock:
            address = self.store.locate(table, key_text)
            if address.row_id is None:
                raise address.not_found()
            txn = Txn(self.store)
            txn.delete(table.logical_name, address.row_id)
            txn.commit(c.ctx)
        return Response(204, b"", {})

    # ---- queries ----------------------------------------------------------------------------------------------

    @staticmethod
    def _refuse_unsimulated(c: Call) -> None:
        for option in ("$expand", "$apply", "$search", "$compute"):
            if option in c.query:
                raise DvError(501, "0x0", f"The simulator does not implement {option}.")

    def _query(self, c: Call, table: Table) -> Response:
        c.info.update(kind="query", operations=1)
        self._refuse_unsimulated(c)
        select = self._select(c, table)
        aliases = {k: v[0] for k, v in c.query.items() if k.startswith("@")}  # already decoded
        comparisons = []
        if c.q("$filter"):
            try:
                comparisons = parse_filter(c.q("$filter") or "", aliases)
            except ValueError as exc:
                raise DvError(400, "0x0", f"The query parameter $filter is not supported: {exc}") from None
            self.store.check_select(table, [cmp.column for cmp in comparisons])
        top = c.q("$top")
        with self.store.lock:
            rows = [r for r in self.store.rows[table.logical_name].values()
                    if all(compare(self._field(r, cmp.column), cmp.op, cmp.value) for cmp in comparisons)]
            order = c.q("$orderby")
            if order:
                col, _, direction = order.strip().partition(" ")
                self.store.check_select(table, [col])
                def sort_key(row: dict[str, Any]) -> tuple[bool, Any]:
                    value = self._field(row, col)
                    return (value is None, "" if value is None else norm(value))

                rows.sort(key=sort_key, reverse=direction.strip().lower() == "desc")
            total = len(rows)
            offset = 0
            token = c.q("$skiptoken")
            if token and (m := re.search(r'offset="(\d+)"', unquote(token))):
                offset = int(m.group(1))
            page_size = min(c.max_page_size() or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
            limit = min(int(top), MAX_PAGE_SIZE) if top else page_size
            page = rows[offset: offset + limit]
            values = [self.store.represent(table, r, select, c.annotations()) for r in page]
        body: dict[str, Any] = {"@odata.context": self._url(f"$metadata#{table.set_name}"
                                                            f"{'(' + ','.join(select) + ')' if select else ''}")}
        if (c.q("$count") or "").lower() == "true":
            body["@odata.count"] = min(total, MAX_PAGE_SIZE)
        body["value"] = values
        headers = {}
        if c.max_page_size():
            headers["Preference-Applied"] = f"odata.maxpagesize={c.max_page_size()}"
        if not top and offset + limit < total:
            cookie = f'<cookie pagenumber="{offset // limit + 2}" offset="{offset + limit}" istracking="False" />'
            query = {k: v[0] for k, v in c.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = cookie
            body["@odata.nextLink"] = self._url(table.set_name + "?" + urlencode(query, quote_via=quote, safe="$,'"))
        return json_response(body, 200, headers)

    @staticmethod
    def _field(row: dict[str, Any], column: str) -> Any:
        if column.startswith("_") and column.endswith("_value"):
            ref = row.get(column[1:-6])
            return ref[1] if ref else None
        return row.get(column)

    # ---- bulk actions -----------------------------------------------------------------------------------------

    def _bulk(self, c: Call, table: Table, message: str) -> Response:
        if c.method != "POST" or message not in BULK_MESSAGES:
            raise DvError(404, "0x8006088a", f"Resource not found for the segment 'Microsoft.Dynamics.CRM.{message}'.")
        if not self.sim.upsert_multiple:
            raise DvError(404, "0x8006088a", f"Resource not found for the segment 'Microsoft.Dynamics.CRM.{message}'.")
        body = c.json()
        targets = body.get("Targets") if isinstance(body, dict) else None
        c.info.update(kind={"CreateMultiple": "create_multiple", "UpdateMultiple": "update_multiple",
                            "UpsertMultiple": "upsert_multiple"}[message],
                      operations=len(targets) if isinstance(targets, list) else 0)
        if not isinstance(targets, list) or not targets:
            raise DvError(400, "0x0", "An error occurred while validating input parameters: Microsoft.OData."
                                      f"ODataException: The parameter 'Targets' of the action '{message}' must be a "
                                      "non-empty collection of entities.")
        with self.store.lock:
            txn = Txn(self.store)
            try:
                if message == "CreateMultiple":
                    ids = [self._create_target(c, table, t, i, txn) for i, t in enumerate(targets)]
                    txn.commit(c.ctx)
                    return json_response({"@odata.context": self._url(
                        "$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"), "Ids": ids})
                if message == "UpdateMultiple":
                    self._update_multiple(c, table, targets, txn)
                else:
                    self._upsert_multiple(c, table, targets, txn)
                txn.commit(c.ctx)
            except DvError as err:
                txn.rollback()  # standard tables: all or nothing
                c.info["failed_target"] = getattr(err, "target_index", None)
                raise
        return Response(204, b"", {})

    @staticmethod
    def _target_error(err: DvError, index: int) -> DvError:
        err.target_index = index  # type: ignore[attr-defined]
        return err

    def _check_type(self, table: Table, target: Any, index: int) -> dict[str, Any]:
        if not isinstance(target, dict):
            raise self._target_error(DvError(400, "0x0", "An error occurred while validating input parameters: "
                                                          "each item of 'Targets' must be an entity object."), index)
        if "@odata.type" not in target:
            raise self._target_error(DvError(
                400, "0x80048d19", f"Error identified in Payload provided by the user for Entity :'{table.set_name}'"
                "  ---->  InnerException : Microsoft.OData.ODataException: A type name was not provided for an "
                "instance of the abstract type 'Microsoft.Dynamics.CRM.crmbaseentity'. When writing a payload that "
                "represents an instance of an abstract type, a type name must be provided."), index)
        if str(target["@odata.type"]).lstrip("#") != table.type_name:
            raise self._target_error(DvError(
                400, "0x80048d19", f"Error identified in Payload provided by the user for Entity :'{table.set_name}'"
                f"  ---->  InnerException : Microsoft.OData.ODataException: A resource with type "
                f"'{str(target['@odata.type']).lstrip('#')}' was found, but it is not assignable to the expected "
                f"type '{table.type_name}'."), index)
        return target

    def _create_target(self, c: Call, table: Table, target: Any, index: int, txn: Txn) -> str:
        target = self._check_type(table, target, index)
        try:
            changes = self.store.changes(table, {k: v for k, v in target.items() if k != "@odata.id"}, c.ctx)
            return self.store.create(table, changes, txn)
        except DvError as err:
            raise self._target_error(err, index) from None

    def _update_multiple(self, c: Call, table: Table, targets: list[Any], txn: Txn) -> None:
        seen: set[str] = set()
        for index, target in enumerate(targets):
            target = self._check_type(table, target, index)
            try:
                if "@odata.id" in target or table.id_column not in target:
                    raise DvError(400, "0x80040203",
                                  f"UpdateMultiple needs the primary key '{table.id_column}' in every target; "
                                  "alternate keys are not supported by UpdateMultiple in the Web API.")
                row_id = str(target[table.id_column]).lower()
                if row_id in seen:  # documented: the first one is applied, the rest ignored
                    continue
                seen.add(row_id)
                changes = self.store.changes(table, target, c.ctx)
                if row_id not in self.store.rows[table.logical_name]:
                    raise Address(table, None, guid=row_id).not_found()
                self.store.update(table, row_id, changes, txn)
            except DvError as err:
                raise self._target_error(err, index) from None

    def _upsert_multiple(self, c: Call, table: Table, targets: list[Any], txn: Txn) -> None:
        seen: set[Any] = set()
        for index, target in enumerate(targets):
            target = self._check_type(table, target, index)
            try:
                address = self._target_address(c, table, target)
                ident = self._identity(address)
                if ident is not None:
                    if ident in seen:
                        raise DvError(400, "0x80040237",
                                      f"Cannot insert duplicate key. The key {address.path() if address else ''} "
                                      "appears more than once in Targets.")
                    seen.add(ident)
                body = {k: v for k, v in target.items() if k != "@odata.id"}
                changes = self.store.changes(table, body, c.ctx)
                if address is None:
                    self.store.create(table, changes, txn)
                    continue
                if address.key is not None and address.row_id is None \
                        and any(a in body for a in address.key.attributes):
                    # Reproduced quirk (reference section 5): key in @odata.id and body fails on the create path.
                    raise DvError(400, "0x80040216", "An unexpected error occurred.")
                self.store.upsert(address, changes, txn)
            except DvError as err:
                raise self._target_error(err, index) from None

    def _target_address(self, c: Call, table: Table, target: dict[str, Any]) -> Address | None:
        odata_id = target.get("@odata.id")
        if odata_id:
            ref_table, address = self.store.resolve_reference(str(odata_id), c.ctx)
            if ref_table is not table:
                raise DvError(400, "0x0", f"The @odata.id '{odata_id}' does not address the '{table.set_name}' "
                                          "entity set.")
            return address
        guid = target.get(table.id_column)
        if isinstance(guid, str) and is_guid(guid):
            guid = guid.lower()
            return Address(table, guid if guid in self.store.rows[table.logical_name] else None, guid=guid)
        return None

    @staticmethod
    def _identity(address: Address | None) -> Any:
        if address is None:
            return None
        if address.key is not None:
            return ("key", address.key.logical_name, tuple(norm(address.pairs[a]) for a in address.key.attributes))
        return ("row", address.guid)

    # ---- misc -------------------------------------------------------------------------------------------------

    def _service_document(self, c: Call) -> Response:
        c.info.update(kind="service", operations=1)
        return json_response({"@odata.context": self._url("$metadata"),
                              "value": [{"name": t.set_name, "kind": "EntitySet", "url": t.set_name}
                                        for t in self.store.tables.values()]})

    def _whoami(self, c: Call) -> Response:
        c.info.update(kind="whoami", operations=1)
        if c.method != "GET":
            raise DvError(404, "", f"No HTTP resource was found that matches the request URI "
                                   f"'{self._url('WhoAmI')}'.")
        return json_response({
            "@odata.context": self._url("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"),
            "BusinessUnitId": self.sim.business_unit_id, "UserId": c.info.get("subject", ""),
            "OrganizationId": self.sim.organization_id})

    def _sdkmessagefilters(self, c: Call) -> Response:
        c.info.update(kind="sdkmessagefilters", operations=1)
        aliases = {k: v[0] for k, v in c.query.items() if k.startswith("@")}  # already decoded
        try:
            comparisons = parse_filter(c.q("$filter") or "", aliases) if c.q("$filter") else []
        except ValueError as exc:
            raise DvError(400, "0x0", f"The query parameter $filter is not supported: {exc}") from None
        wanted = {cmp.column.lower(): cmp.value for cmp in comparisons if cmp.op == "eq"}
        message = wanted.get("sdkmessageid/name")
        table = wanted.get("primaryobjecttypecode")
        rows = []
        for m in (*ALWAYS_MESSAGES, *BULK_MESSAGES):
            if m in BULK_MESSAGES and not self.sim.upsert_multiple:
                continue
            for t in self.store.tables:
                if (message is None or norm(message) == norm(m)) and (table is None or norm(table) == norm(t)):
                    fid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sdkmessagefilter/{m}/{t}"))
                    rows.append({"@odata.etag": 'W/"1000"', "sdkmessagefilterid": fid})
        return json_response({"@odata.context": self._url("$metadata#sdkmessagefilters(sdkmessagefilterid)"),
                              "value": rows})
