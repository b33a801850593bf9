"""In-memory Dataverse data: rows, alternate-key indexes, validation of writes, transactions, representations."""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localdev.dataverse.odata import (
    FORBIDDEN_KEY_CHARS,
    DvError,
    Segment,
    format_key,
    is_guid,
    new_guid,
    norm,
    parse_key_predicate,
    parse_segment,
)
from localdev.dataverse.schema import SET_TO_TABLE, STATE_OF_STATUS, STATUS_OF_STATE, Column, Key, Table

API_PREFIX = "/api/data/v9.2/"
PLUGIN_ERROR = "0x80040265"


@dataclass
class Context:
    """Per-request (or per-change-set) state: Content-ID references and the base URL for entity ids."""

    base: str  # https://127.0.0.1:port/api/data/v9.2/
    content_ids: dict[str, str] = field(default_factory=dict)  # "1" -> "accounts(<guid>)"
    txn: Txn | None = None  # the change set's undo log: successful operations hand their undo entries to it


@dataclass
class Address:
    table: Table
    row_id: str | None  # current row, None when absent
    guid: str | None = None  # when addressed by primary key
    key: Key | None = None
    pairs: dict[str, Any] = field(default_factory=dict)

    def path(self) -> str:
        if self.guid is not None:
            return f"{self.table.set_name}({self.guid})"
        return f"{self.table.set_name}({format_key(self.pairs)})"

    def not_found(self) -> DvError:
        if self.guid is not None:
            return DvError(404, "0x80040217", f"{self.table.logical_name} With Id = {self.guid} Does Not Exist")
        return DvError(404, "0x80060891",
                       f"A record with the specified key values does not exist in {self.table.logical_name} entity")


def key_uri_error(table: Table) -> DvError:
    t = table.type_name
    return DvError(400, "0x80060888",
                   f"The key in the request URI is not valid for resource '{t}'. Ensure that the names and number of "
                   f"key properties match the declared or alternate key properties for the resource '{t}'.")


def invalid_property(table: Table, name: str) -> DvError:
    return DvError(400, "0x0",
                   "An error occurred while validating input parameters: Microsoft.Crm.CrmException: Invalid property "
                   f"'{name}' was found in entity '{table.type_name}'. ---> Microsoft.OData.ODataException: Does not "
                   "support untyped value in non-open type.")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # nvarchar lengths count UTF-16 code units


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Txn:
    """Undo log: every row change goes through here so a failed bulk request or change set rolls back."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.undo: list[tuple[str, str, dict[str, Any] | None]] = []

    def put(self, table: str, row_id: str, row: dict[str, Any]) -> None:
        self.undo.append((table, row_id, self.store.rows[table].get(row_id)))
        self.store._put(table, row_id, row)

    def delete(self, table: str, row_id: str) -> None:
        self.undo.append((table, row_id, self.store.rows[table].get(row_id)))
        self.store._delete(table, row_id)

    def commit(self, ctx: Context) -> None:
        """Keep the undo entries in the surrounding change set, if any (it may still roll back)."""
        if ctx.txn is not None:
            ctx.txn.undo.extend(self.undo)
        self.undo = []

    def rollback(self) -> None:
        for table, row_id, old in reversed(self.undo):
            if old is None:
                self.store._delete(table, row_id)
            else:
                self.store._put(table, row_id, old)
        self.undo.clear()


class Store:
    def __init__(self, tables: dict[str, Table], *, key_activation_s: float = 0.5,
                 key_activation_reads: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.RLock()
        self.poisoned: list[tuple[str, str, Any]] = []
        self.key_activation_s = key_activation_s
        self.key_activation_reads = key_activation_reads
        self.clock = clock
        self._version = itertools.count(1_000_001)
        self.reinit(tables)

    def reinit(self, tables: dict[str, Table]) -> None:
        """Fresh schema and no rows (the version counter keeps counting, so ETags never repeat)."""
        with self.lock:
            self.tables = tables
            self.by_set = {t.set_name: t for t in tables.values()}
            self.rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in tables}
            self.index: dict[tuple[str, str], dict[tuple[Any, ...], str]] = {}
            self.key_index_outcome = "Active"  # "Failed": index builds of keys created from now on fail

    # ---- keys -------------------------------------------------------------------------------------------------

    def add_key(self, table: Table, schema_name: str, attributes: list[str], *, active: bool = False,
                display_name: str = "") -> Key:
        key = Key(schema_name, list(attributes), self.clock(), fail=self.key_index_outcome == "Failed",
                  display_name=display_name)
        table.keys[key.logical_name] = key
        if active:
            self._finish_key(table, key)
        return key

    def drop_key(self, table: Table, key: Key) -> None:
        table.keys.pop(key.logical_name, None)
        self.index.pop((table.logical_name, key.logical_name), None)

    def key_status(self, table: Table, key: Key, *, read: bool = False) -> str:
        """Advance Pending -> InProgress -> Active/Failed by elapsed time or by the number of status reads."""
        if key.status in ("Active", "Failed"):
            return key.status
        if read:
            key.reads += 1
        if self.key_activation_reads is not None:
            progress = key.reads / max(1, self.key_activation_reads)
        elif self.key_activation_s <= 0:
            progress = 1.0
        else:
            progress = (self.clock() - key.created) / self.key_activation_s
        if progress >= 1:
            self._finish_key(table, key)
        elif progress >= 0.5:
            key.status = "InProgress"
        return key.status

    def _finish_key(self, table: Table, key: Key) -> None:
        if key.fail:
            key.status = "Failed"
            return
        idx: dict[tuple[Any, ...], str] = {}
        for row_id, row in self.rows[table.logical_name].items():
            values = self._key_tuple(key, row)
            if values is None:
                continue
            if values in idx:  # existing duplicates: the unique index can't be built
                key.status = "Failed"
                return
            idx[values] = row_id
        self.index[(table.logical_name, key.logical_name)] = idx
        key.status = "Active"

    @staticmethod
    def _key_tuple(key: Key, row: dict[str, Any]) -> tuple[Any, ...] | None:
        values = []
        for attr in key.attributes:
            value = row.get(attr)
            if isinstance(value, tuple):  # lookup
                value = value[1]
            if value is None:
                return None
            values.append(norm(value))
        return tuple(values)

    def active_keys(self, table: Table) -> list[Key]:
        return [k for k in table.keys.values() if self.key_status(table, k) == "Active"]

    # ---- row storage ------------------------------------------------------------------------------------------

    def _put(self, table: str, row_id: str, row: dict[str, Any]) -> None:
        old = self.rows[table].get(row_id)
        for key in self.tables[table].keys.values():
            idx = self.index.get((table, key.logical_name))
            if idx is None:
                continue
            if old is not None:
                old_t = self._key_tuple(key, old)
                if old_t is not None and idx.get(old_t) == row_id:
                    del idx[old_t]
            new_t = self._key_tuple(key, row)
            if new_t is not None:
                idx[new_t] = row_id
        self.rows[table][row_id] = row

    def _delete(self, table: str, row_id: str) -> None:
        old = self.rows[table].pop(row_id, None)
        if old is None:
            return
        for key in self.tables[table].keys.values():
            idx = self.index.get((table, key.logical_name))
            old_t = self._key_tuple(key, old) if idx is not None else None
            if idx is not None and old_t is not None and idx.get(old_t) == row_id:
                del idx[old_t]

    # ---- addressing -------------------------------------------------------------------------------------------

    def table_for_set(self, set_name: str) -> Table:
        table = self.by_set.get(set_name)
        if table is None:
            raise DvError(404, "0x8006088a", f"Resource not found for the segment '{set_name}'.")
        return table

    def locate(self, table: Table, key_text: str) -> Address:
        try:
            guid, pairs = parse_key_predicate(key_text)
        except ValueError:
            raise DvError(400, "0x0", "Bad Request - Error in query syntax.") from None
        if guid is None and list(pairs) == [table.id_column] and isinstance(pairs[table.id_column], str) \
                and is_guid(pairs[table.id_column]):
            guid = pairs[table.id_column].lower()
        if guid is not None:
            return Address(table, guid if guid in self.rows[table.logical_name] else None, guid=guid)
        for value in pairs.values():
            if isinstance(value, str) and (bad := sorted(set(value) & FORBIDDEN_KEY_CHARS)):
                raise DvError(400, "0x0", "A potentially dangerous Request.Path value was detected from the client "
                                          f"({bad[0]}).")
        match = next((k for k in table.keys.values() if sorted(k.attributes) == sorted(pairs)), None)
        if match is None or self.key_status(table, match) != "Active":
            # $metadata only declares Active keys, so a Pending/Failed key is as unknown as an undefined one.
            raise key_uri_error(table)
        for attr in match.attributes:
            col = table.columns.get(attr)
            if col is not None and col.type in ("String", "Memo") and not isinstance(pairs[attr], str):
                raise key_uri_error(table)
        values = tuple(norm(pairs[a]) for a in match.attributes)
        row_id = self.index.get((table.logical_name, match.logical_name), {}).get(values)
        return Address(table, row_id, key=match, pairs=pairs)

    def resolve_reference(self, ref: str, ctx: Context) -> tuple[Table | None, Address]:
        """An @odata.bind / @odata.id value -> (table, address). ``$n`` uses the change set's Content-IDs."""
        path = ref.strip()
        if path.startswith("$"):
            content_id, _, rest = path[1:].partition("/")
            if content_id not in ctx.content_ids:
                raise DvError(400, "0x0", f"Content-ID Reference: '${content_id}' does not exist in the batch context.")
            path = ctx.content_ids[content_id] + ("/" + rest if rest else "")
        if path.lower().startswith("https://") or path.lower().startswith("http://"):
            at = path.find(API_PREFIX)
            path = path[at + len(API_PREFIX):] if at >= 0 else path
        elif path.startswith(API_PREFIX):
            path = path[len(API_PREFIX):]
        path = path.lstrip("/")
        seg: Segment = parse_segment(path)
        if seg.key is None:
            raise DvError(400, "0x80048d19", f"Error identified in Payload provided by the user for Entity :'' "
                                             f" ---->  InnerException : Microsoft.OData.ODataException: The URI "
                                             f"'{ref}' is not valid for an entity reference.")
        table = self.by_set.get(seg.name)
        if table is None:
            if seg.name in SET_TO_TABLE and is_guid(seg.key):  # tables outside the simulator: trust GUIDs
                return None, Address(Table(SET_TO_TABLE[seg.name], seg.name, "", "", 0, {}, {}), seg.key.lower(),
                                     guid=seg.key.lower())
            raise DvError(404, "0x8006088a", f"Resource not found for the segment '{seg.name}'.")
        return table, self.locate(table, seg.key)

    # ---- writes -----------------------------------------------------------------------------------------------

    def poison(self, table: str, column: str, value: Any) -> None:
        with self.lock:
            self.poisoned.append((table, column, value))

    def changes(self, table: Table, body: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Validate a JSON entity body -> {column: value}; lookups become (table, id) tuples."""
        if not isinstance(body, dict):
            raise DvError(400, "0x0", "An error occurred while validating input parameters: "
                                      "Microsoft.OData.ODataException: The entity payload is not a JSON object.")
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@"):
                if name == "@odata.type" and value not in (table.type_name, "#" + table.type_name):
                    raise DvError(400, "0x80048d19",
                                  f"Error identified in Payload provided by the user for Entity :'{table.set_name}'"
                                  f"  ---->  InnerException : Microsoft.OData.ODataException: A resource with type "
                                  f"'{str(value).lstrip('#')}' was found, but it is not assignable to the expected "
                                  f"type '{table.type_name}'.")
                continue
            if name.endswith("@odata.bind"):
                out.update(self._bind(table, name[: -len("@odata.bind")], value, ctx))
                continue
            if "@" in name:  # other instance annotations (FormattedValue...) are ignored
                continue
            col = table.columns.get(name)
            if col is None or col.is_lookup:
                raise invalid_property(table, name)
            if not col.writable:
                continue
            self._check_value(table, col, value)
            out[name] = value
        return out

    def _bind(self, table: Table, nav: str, value: Any, ctx: Context) -> dict[str, Any]:
        if nav not in table.navs:
            raise DvError(400, "0x80048d19",
                          f"Error identified in Payload provided by the user for Entity :'{table.set_name}'  ---->  "
                          f"InnerException : Microsoft.OData.ODataException: An undeclared property '{nav}' which "
                          "only has property annotations in the payload but no property value was found in the "
                          "payload. In OData, only declared navigation properties and declared named streams can be "
                          "represented as properties without values.")
        column, target = table.navs[nav]
        if value is None:
            return {column: None}
        if not isinstance(value, str):
            raise DvError(400, "0x80048d19", f"Error identified in Payload provided by the user for Entity "
                                             f":'{table.set_name}'  ---->  InnerException : Microsoft.OData."
                                             f"ODataException: The value of '{nav}@odata.bind' must be a string.")
        ref_table, address = self.resolve_reference(value, ctx)
        target_name = ref_table.logical_name if ref_table is not None else address.table.logical_name
        if target_name != target:
            raise DvError(400, "0x80048d19", f"Error identified in Payload provided by the user for Entity "
                                             f":'{table.set_name}'  ---->  InnerException : Microsoft.OData."
                                             f"ODataException: The entity reference '{value}' is not of type "
                                             f"'Microsoft.Dynamics.CRM.{target}' expected by '{nav}'.")
        if address.row_id is None:
            raise address.not_found()
        return {column: (target, address.row_id)}

    def _check_value(self, table: Table, col: Column, value: Any) -> None:
        if value is None:
            if col.name in ("statecode", "statuscode"):
                raise DvError(400, "0x80040203", f"Attribute '{col.name}' cannot be set to NULL")
            return
        if col.type in ("String", "Memo"):
            if not isinstance(value, str):
                raise DvError(400, "0x0", "An error occurred while validating input parameters: Microsoft.OData."
                                          f"ODataException: Cannot convert the literal '{value}' to the expected type "
                                          "'Edm.String'.")
            if col.max_length is not None and _utf16_len(value) > col.max_length:
                raise DvError(400, "0x80044331",
                              f"A validation error occurred.  The length of the '{col.name}' attribute of the "
                              f"'{table.logical_name}' entity exceeded the maximum allowed length of "
                              f"'{col.max_length}'.")
        elif col.type in ("Picklist", "State", "Status"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise DvError(400, "0x0", "An error occurred while validating input parameters: Microsoft.OData."
                                          f"ODataException: Cannot convert the literal '{value}' to the expected type "
                                          "'Edm.Int32'.")
            if col.options is not None and value not in col.options:
                raise DvError(400, "0x8004431a",
                              f"A validation error occurred. The value {value} of '{col.name}' on record of type "
                              f"'{table.logical_name}' is outside the valid range. Accepted Values: "
                              f"{','.join(str(v) for v in col.options)}")
        elif col.type == "Uniqueidentifier" and not (isinstance(value, str) and is_guid(value)):
            raise DvError(400, "0x0", "An error occurred while validating input parameters: Microsoft.OData."
                                      f"ODataException: Cannot convert the literal '{value}' to the expected type "
                                      "'Edm.Guid'.")
        for p_table, p_column, p_value in self.poisoned:
            if p_table == table.logical_name and p_column == col.name and p_value == value:
                raise DvError(400, PLUGIN_ERROR, f"Simulated plug-in rejected {table.logical_name}.{col.name} value "
                                                 f"{value!r}.")

    def _finalise(self, table: Table, row_id: str, row: dict[str, Any], changed: dict[str, Any],
                  created: bool) -> dict[str, Any]:
        if "statuscode" in changed and "statecode" not in changed:
            row["statecode"] = STATE_OF_STATUS[changed["statuscode"]]
        elif "statecode" in changed and "statuscode" not in changed:
            row["statuscode"] = STATUS_OF_STATE[changed["statecode"]]
        if STATE_OF_STATUS.get(row.get("statuscode")) != row.get("statecode"):
            raise DvError(400, "0x80040203",
                          f"{row.get('statuscode')} is not a valid status code for state code "
                          f"{table.logical_name.title()}State.{'Active' if row.get('statecode') == 0 else 'Inactive'}"
                          f" on {table.logical_name} with Id {row_id}.")
        if table.logical_name == "contact":
            row["fullname"] = " ".join(p for p in (row.get("firstname"), row.get("lastname")) if p) or None
        now = _now_iso()
        if created:
            row["createdon"] = now
        row["modifiedon"] = now
        row["versionnumber"] = next(self._version)
        row[table.id_column] = row_id
        for key in self.active_keys(table):  # unique alternate keys (412 DuplicateRecordEntityKey)
            values = self._key_tuple(key, row)
            other = self.index.get((table.logical_name, key.logical_name), {}).get(values) if values else None
            if other is not None and other != row_id:
                raise DvError(412, "0x80060892",
                              f"Entity Key {key.display_name or key.schema_name} violated. A record with the same "
                              f"value for {', '.join(key.attributes)} already exists. A duplicate record cannot be "
                              "created. Select one or more unique values and try again.")
        return row

    def create(self, table: Table, changed: dict[str, Any], txn: Txn, row_id: str | None = None) -> str:
        row_id = (row_id or changed.get(table.id_column) or new_guid()).lower()
        if row_id in self.rows[table.logical_name]:
            raise DvError(412, "0x80040237", "Cannot insert duplicate key.")
        row = {"statecode": 0, "statuscode": 1, **changed}
        txn.put(table.logical_name, row_id, self._finalise(table, row_id, row, changed, True))
        return row_id

    def update(self, table: Table, row_id: str, changed: dict[str, Any], txn: Txn) -> None:
        changed = {k: v for k, v in changed.items() if k != table.id_column}
        row = {**self.rows[table.logical_name][row_id], **changed}
        txn.put(table.logical_name, row_id, self._finalise(table, row_id, row, changed, False))

    def upsert(self, address: Address, changed: dict[str, Any], txn: Txn) -> tuple[str, bool]:
        """Upsert at an address: key columns are dropped on update and copied from the URL on create."""
        table = address.table
        if address.row_id is not None:
            if address.key is not None:
                changed = {k: v for k, v in changed.items() if k not in address.key.attributes}
            self.update(table, address.row_id, changed, txn)
            return address.row_id, False
        if address.key is not None:
            changed = {**{a: address.pairs[a] for a in address.key.attributes}, **changed}
            for attr in address.key.attributes:
                col = table.columns.get(attr)
                if col is not None:
                    self._check_value(table, col, changed[attr])
        return self.create(table, changed, txn, row_id=address.guid), True

    # ---- reads ------------------------------------------------------------------------------------------------

    def represent(self, table: Table, row: dict[str, Any], select: list[str] | None = None,
                  annotations: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
        names = select if select else list(table.columns)
        if table.id_column not in names:
            names = [*names, table.id_column]
        for name in names:
            lookup = name[1:-6] if name.startswith("_") and name.endswith("_value") else None
            col = table.columns[lookup or name]
            if col.is_lookup:
                ref = row.get(col.name)
                field_name = f"_{col.name}_value"
                out[field_name] = ref[1] if ref else None
                if annotations and ref:
                    out[f"{field_name}@Microsoft.Dynamics.CRM.lookuplogicalname"] = ref[0]
                continue
            value = row.get(name)
            out[name] = value
            if annotations and col.options and value is not None:
                out[f"{name}@OData.Community.Display.V1.FormattedValue"] = col.options.get(value, str(value))
        return out

    def check_select(self, table: Table, names: list[str]) -> None:
        for name in names:
            lookup = name[1:-6] if name.startswith("_") and name.endswith("_value") else None
            col = table.columns.get(lookup or name)
            if col is None or (lookup is None) == col.is_lookup:
                raise DvError(400, "0x0", f"Could not find a property named '{name}' on type '{table.type_name}'.")

    def snapshot(self, table: str) -> list[dict[str, Any]]:
        """Plain copies of the rows for assertions: lookups as ids (plus ``<lookup>_type``)."""
        with self.lock:
            out = []
            for row in self.rows[table].values():
                item: dict[str, Any] = {}
                for name, value in row.items():
                    if isinstance(value, tuple):
                        item[name] = value[1]
                        item[f"{name}_type"] = value[0]
                    else:
                        item[name] = copy.copy(value)
                out.append(item)
            return out
