"""EntityDefinitions routes of the simulator: tables, columns (StringAttributeMetadata), alternate keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localdev.dataverse.odata import DvError, compare, parse_filter, parse_key_predicate, parse_segment
from localdev.dataverse.schema import KEYABLE_TYPES, Column, Key, Table
from localdev.dataverse.webapi import Call, json_response
from localdev.simserver import Response

if TYPE_CHECKING:
    from localdev.dataverse.simulator import DataverseSimulator

MAX_KEYS_PER_TABLE = 10
MAX_KEY_ATTRIBUTES = 16
KEY_MAX_BYTES = 900


def _label_text(label: Any) -> str:
    if isinstance(label, dict):
        for loc in label.get("LocalizedLabels") or []:
            if isinstance(loc, dict) and loc.get("Label"):
                return str(loc["Label"])
    return ""


def _select(items: list[dict[str, Any]], c: Call) -> list[dict[str, Any]]:
    raw = c.q("$select")
    if not raw:
        return items
    names = {n.strip() for n in raw.split(",") if n.strip()} | {"MetadataId", "@odata.type"}
    return [{k: v for k, v in item.items() if k in names} for item in items]


def _filter(items: list[dict[str, Any]], c: Call) -> list[dict[str, Any]]:
    text = c.q("$filter")
    if not text:
        return items
    aliases = {k: v[0] for k, v in c.query.items() if k.startswith("@")}  # already decoded
    try:
        comparisons = parse_filter(text, aliases)
    except ValueError as exc:
        raise DvError(400, "0x0", f"The query parameter $filter is not supported: {exc}") from None
    return [i for i in items if all(compare(i.get(cmp.column), cmp.op, cmp.value) for cmp in comparisons)]


class Metadata:
    def __init__(self, sim: DataverseSimulator) -> None:
        self.sim = sim
        self.store = sim.store

    def _url(self, path: str) -> str:
        return self.sim.api_base + path

    def call(self, c: Call, segments: list[str]) -> Response:
        c.info.update(kind="metadata", operations=1)
        head = parse_segment(segments[0])
        with self.store.lock:
            if head.key is None:
                if len(segments) != 1 or c.method != "GET":
                    raise DvError(405, "0x0", "Only GET is simulated on the EntityDefinitions collection.")
                items = _select(_filter([t.metadata() for t in self.store.tables.values()], c), c)
                return json_response({"@odata.context": self._url("$metadata#EntityDefinitions"), "value": items})
            table = self._table(head.key)
            rest = segments[1:]
            if not rest:
                if c.method != "GET":
                    raise DvError(405, "0x0", "Only GET is simulated on an entity definition.")
                item = _select([table.metadata()], c)[0]
                return json_response({"@odata.context": self._url("$metadata#EntityDefinitions/$entity"), **item})
            sub = parse_segment(rest[0])
            if sub.name == "Attributes":
                return self._attributes(c, table, sub.key, rest[1:])
            if sub.name == "Keys":
                return self._keys(c, table, sub.key, rest[1:])
            raise DvError(404, "0x8006088a", f"Resource not found for the segment '{sub.name}'.")

    def _table(self, key_text: str) -> Table:
        try:
            guid, pairs = parse_key_predicate(key_text)
        except ValueError:
            raise DvError(400, "0x0", "Bad Request - Error in query syntax.") from None
        for table in self.store.tables.values():
            if (guid is not None and table.metadata_id == guid) or \
                    (guid is None and pairs == {"LogicalName": table.logical_name}):
                return table
        name = guid or pairs.get("LogicalName")
        raise DvError(404, "0x80040217", f"Could not find entity with name or id '{name}'.")

    # ---- columns ----------------------------------------------------------------------------------------------

    def _attributes(self, c: Call, table: Table, key_text: str | None, rest: list[str]) -> Response:
        if key_text is None and rest == ["Microsoft.Dynamics.CRM.PicklistAttributeMetadata"] and c.method == "GET":
            return self._picklists(table)
        if key_text is None and not rest:
            if c.method == "GET":
                items = _select(_filter([col.metadata(table.logical_name) for col in table.columns.values()], c), c)
                return json_response({"@odata.context": self._url(
                    f"$metadata#EntityDefinitions('{table.logical_name}')/Attributes"), "value": items})
            if c.method == "POST":
                return self._create_attribute(c, table)
        if key_text is not None and c.method == "GET":
            col = self._column(table, key_text)
            if rest and not rest[0].startswith("Microsoft.Dynamics.CRM."):
                raise DvError(404, "0x8006088a", f"Resource not found for the segment '{rest[0]}'.")
            item = _select([col.metadata(table.logical_name)], c)[0]
            return json_response({"@odata.context": self._url("$metadata#EntityDefinitions/Attributes/$entity"),
                                  **item})
        raise DvError(405, "0x0", f"The HTTP method '{c.method}' is not simulated for this attribute path.")

    def _column(self, table: Table, key_text: str) -> Column:
        guid, pairs = parse_key_predicate(key_text)
        for col in table.columns.values():
            by_id = guid is not None and col.metadata_id == guid
            if by_id or (guid is None and pairs.get("LogicalName") == col.name):
                return col
        raise DvError(404, "0x80040217", f"Could not find attribute '{guid or pairs.get('LogicalName')}' on entity "
                                         f"'{table.logical_name}'.")

    def _picklists(self, table: Table) -> Response:
        items = []
        for col in table.columns.values():
            if col.type != "Picklist" or not col.options:
                continue
            options = [{"Value": value, "Label": {
                "LocalizedLabels": [{"Label": label, "LanguageCode": 1033}],
                "UserLocalizedLabel": {"Label": label, "LanguageCode": 1033}}} for value, label in col.options.items()]
            items.append({"LogicalName": col.name, "MetadataId": col.metadata_id,
                          "OptionSet": {"MetadataId": col.metadata_id, "Options": options}})
        return json_response({"@odata.context": self._url(
            f"$metadata#EntityDefinitions('{table.logical_name}')/Attributes/"
            "Microsoft.Dynamics.CRM.PicklistAttributeMetadata(LogicalName,OptionSet(Options))"), "value": items})

    def _create_attribute(self, c: Call, table: Table) -> Response:
        body = c.json()
        odata_type = str(body.get("@odata.type", "")).lstrip("#")
        if odata_type != "Microsoft.Dynamics.CRM.StringAttributeMetadata":
            raise DvError(400, "0x0", f"The simulator creates StringAttributeMetadata columns only, not "
                                      f"'{odata_type or 'untyped'}'.")
        schema = body.get("SchemaName")
        if not isinstance(schema, str) or "_" not in schema.strip("_"):
            raise DvError(400, "0x80044363", f"The attribute SchemaName '{schema}' must start with the "
                                             "publisher's customization prefix, e.g. 'new_'.")
        name = schema.lower()
        if name in table.columns:
            raise DvError(400, "0x80047013", f"An attribute with the specified name {name} already exists. "
                                             f"Entity: {table.logical_name}.")
        max_length = body.get("MaxLength", 100)
        if not isinstance(max_length, int) or not 1 <= max_length <= 4000:
            raise DvError(400, "0x80044331", f"MaxLength must be between 1 and 4000, not {max_length!r}.")
        col = Column(name, "String", max_length=max_length, custom=True, schema_name=schema,
                     metadata_id=self.sim.new_metadata_id())
        table.columns[name] = col
        return Response(204, b"", {"OData-EntityId": self._url(
            f"EntityDefinitions(LogicalName='{table.logical_name}')/Attributes({col.metadata_id})")})

    # ---- keys -------------------------------------------------------------------------------------------------

    def _find_key(self, table: Table, key_text: str) -> Key:
        guid, pairs = parse_key_predicate(key_text)
        for key in table.keys.values():
            if (guid is not None and key.metadata_id == guid) or (guid is None and
                                                                   pairs.get("LogicalName") == key.logical_name):
                return key
        raise DvError(404, "0x80040217", f"Could not find entity key '{guid or pairs.get('LogicalName')}' on entity "
                                         f"'{table.logical_name}'.")

    def _keys(self, c: Call, table: Table, key_text: str | None, rest: list[str]) -> Response:
        if rest:
            raise DvError(404, "0x8006088a", f"Resource not found for the segment '{rest[0]}'.")
        if key_text is None and c.method == "GET":
            items = []
            for key in list(table.keys.values()):
                self.store.key_status(table, key, read=True)
                items.append(key.metadata(table.logical_name))
            items = _select(_filter(items, c), c)
            return json_response({"@odata.context": self._url(
                f"$metadata#EntityDefinitions('{table.logical_name}')/Keys"), "value": items})
        if key_text is None and c.method == "POST":
            return self._create_key(c, table)
        if key_text is not None and c.method == "GET":
            key = self._find_key(table, key_text)
            self.store.key_status(table, key, read=True)
            item = _select([key.metadata(table.logical_name)], c)[0]
            return json_response({"@odata.context": self._url("$metadata#EntityDefinitions/Keys/$entity"), **item})
        if key_text is not None and c.method == "DELETE":
            self.store.drop_key(table, self._find_key(table, key_text))
            return Response(204, b"", {})
        raise DvError(405, "0x0", f"The HTTP method '{c.method}' is not simulated for Keys.")

    def _create_key(self, c: Call, table: Table) -> Response:
        body = c.json()
        schema = body.get("SchemaName")
        attrs = body.get("KeyAttributes")
        if not isinstance(schema, str) or not schema:
            raise DvError(400, "0x0", "SchemaName is required for an entity key.")
        if not isinstance(attrs, list) or not attrs or not all(isinstance(a, str) for a in attrs):
            raise DvError(400, "0x0", "KeyAttributes must be a non-empty list of attribute logical names.")
        if schema.lower() in table.keys:
            raise DvError(400, "0x80048403", f"An entity key with the name {schema} already exists on entity "
                                             f"{table.logical_name}.")
        if len(table.keys) >= MAX_KEYS_PER_TABLE:
            raise DvError(400, "0x80048404", f"The entity {table.logical_name} already has the maximum of "
                                             f"{MAX_KEYS_PER_TABLE} entity keys.")
        if len(attrs) > MAX_KEY_ATTRIBUTES:
            raise DvError(400, "0x80048405", f"An entity key can have at most {MAX_KEY_ATTRIBUTES} attributes.")
        size = 0
        for attr in attrs:
            col = table.columns.get(attr)
            if col is None:
                raise DvError(400, "0x80048406", f"Attribute {attr} does not exist on entity {table.logical_name}.")
            if col.type not in KEYABLE_TYPES:
                raise DvError(400, "0x80048407", f"Attribute {attr} of type {col.type} cannot be part of an entity "
                                                 "key.")
            size += 2 * (col.max_length or 8)
        if size > KEY_MAX_BYTES:
            raise DvError(400, "0x80048408", f"The entity key {schema} exceeds the maximum key size of "
                                             f"{KEY_MAX_BYTES} bytes.")
        key = self.store.add_key(table, schema, attrs, display_name=_label_text(body.get("DisplayName")))
        return Response(204, b"", {"OData-EntityId": self._url(
            f"EntityDefinitions(LogicalName='{table.logical_name}')/Keys({key.metadata_id})")})

