"""Sync state in Table storage: watermarks, the per-connection run lock, record hashes, written batch ids.

Table ``syncstate`` (defaults.STATE_TABLE); partition and row keys:

    wm                     | <connection>|<entity>        watermark value, job, when
    lock                   | <connection>                 job holding the poll lock, expiry (ETag-guarded)
    reconcile              | <connection>|<entity>        last completed full scan
    batch|<connection>     | <batch id>                   a write batch that has been written (dedupe)
    rec|<connection>|<tbl> | <alternate-key value>        last written hash, Dataverse id, job, batch, outcome

Record rows share one partition per connection and table so that a page's rows are read with a key-range
query and written in entity-group transactions (100 per round trip) rather than one call per record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared import defaults

_FORBIDDEN = {"/", "\\", "#", "?", "%"} | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


def table_key(value: str) -> str:
    """Percent-encode the characters Table storage refuses in PartitionKey/RowKey (reversible)."""
    return "".join(f"%{ord(ch):02X}" if ch in _FORBIDDEN else ch for ch in value)


def untable_key(value: str) -> str:
    """Inverse of ``table_key``."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "%" and i + 2 < len(value):
            out.append(chr(int(value[i + 1:i + 3], 16)))
            i += 3
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ensure_table(table: TableClient) -> None:
    with contextlib.suppress(ResourceExistsError):
        table.create_table()


def submit_in_transactions(table: TableClient, partition_rows: dict[str, list[dict[str, Any]]]) -> int:
    """Upsert (merge) rows grouped by partition, 100 per entity-group transaction; returns round trips."""
    trips = 0
    for rows in partition_rows.values():
        for start in range(0, len(rows), defaults.TABLE_TRANSACTION_MAX_OPS):
            chunk = rows[start:start + defaults.TABLE_TRANSACTION_MAX_OPS]
            table.submit_transaction([("upsert", row, {"mode": UpdateMode.MERGE}) for row in chunk])
            trips += 1
    return trips


# ---- watermark ------------------------------------------------------------------------------------
def get_watermark(table: TableClient, connection: str, entity: str) -> str | None:
    try:
        return str(table.get_entity("wm", table_key(f"{connection}|{entity}"))["value"])
    except ResourceNotFoundError:
        return None


def set_watermark(table: TableClient, connection: str, entity: str, value: str, job_id: str) -> None:
    table.upsert_entity({"PartitionKey": "wm", "RowKey": table_key(f"{connection}|{entity}"), "value": value,
                         "job_id": job_id, "updated_at": now_iso()}, mode=UpdateMode.REPLACE)


def get_last_reconcile(table: TableClient, connection: str, entity: str) -> datetime | None:
    try:
        row = table.get_entity("reconcile", table_key(f"{connection}|{entity}"))
    except ResourceNotFoundError:
        return None
    return datetime.fromisoformat(str(row["completed_at"]).replace("Z", "+00:00"))


def set_last_reconcile(table: TableClient, connection: str, entity: str, job_id: str) -> None:
    table.upsert_entity({"PartitionKey": "reconcile", "RowKey": table_key(f"{connection}|{entity}"),
                         "completed_at": now_iso(), "job_id": job_id}, mode=UpdateMode.REPLACE)


# ---- run lock -------------------------------------------------------------------------------------
def acquire_lock(table: TableClient, connection: str, job_id: str,
                 ttl_s: float = defaults.POLL_LOCK_TTL_S) -> bool:
    """Take the connection's poll lock; an expired lock (a crashed run) is taken over. False when held."""
    expires = (datetime.now(UTC) + timedelta(seconds=ttl_s)).isoformat()
    row = {"PartitionKey": "lock", "RowKey": table_key(connection), "job_id": job_id, "expires_at": expires}
    try:
        table.create_entity(row)
        return True
    except ResourceExistsError:
        pass
    try:
        current = table.get_entity("lock", table_key(connection))
    except ResourceNotFoundError:
        return acquire_lock(table, connection, job_id, ttl_s)
    if datetime.fromisoformat(str(current["expires_at"])) > datetime.now(UTC):
        return False
    try:
        table.update_entity(row, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                            match_condition=MatchConditions.IfNotModified)
        return True
    except (HttpResponseError, ResourceNotFoundError):
        return False  # someone else took over the expired lock first


def release_lock(table: TableClient, connection: str, job_id: str) -> None:
    """Release the lock if this job still holds it."""
    try:
        current = table.get_entity("lock", table_key(connection))
    except ResourceNotFoundError:
        return
    if current.get("job_id") != job_id:
        return
    with contextlib.suppress(HttpResponseError, ResourceNotFoundError):
        table.delete_entity("lock", table_key(connection), etag=current.metadata["etag"],
                            match_condition=MatchConditions.IfNotModified)


# ---- write batches --------------------------------------------------------------------------------
def batch_written(table: TableClient, connection: str, batch_id: str) -> bool:
    try:
        table.get_entity(f"batch|{table_key(connection)}", batch_id, select=["RowKey"])
        return True
    except ResourceNotFoundError:
        return False


def mark_batch_written(table: TableClient, connection: str, batch_id: str, job_id: str, counts: dict[str, int]) -> None:
    table.upsert_entity({"PartitionKey": f"batch|{table_key(connection)}", "RowKey": batch_id, "job_id": job_id,
                         "written_at": now_iso(), **counts})


# ---- record state ---------------------------------------------------------------------------------
def record_partition(connection: str, table_name: str) -> str:
    return f"rec|{table_key(connection)}|{table_name}"


@dataclass(frozen=True)
class RecordState:
    """What we last wrote for one Dataverse row."""

    key: str
    hash: str
    record_id: str | None = None
    source_key: str | None = None
    entity: str | None = None


def _state(row: dict[str, Any]) -> RecordState:
    return RecordState(key=untable_key(str(row["RowKey"])), hash=str(row.get("hash") or ""),
                       record_id=row.get("record_id"), source_key=row.get("source_key"), entity=row.get("entity"))


def load_states(table: TableClient, connection: str, table_name: str, keys: Iterable[str]) -> dict[str, RecordState]:
    """Stored state for ``keys``: a key-range query when the keys are dense, point filters when sparse."""
    wanted = sorted({table_key(k) for k in keys})
    if not wanted:
        return {}
    partition = record_partition(connection, table_name)
    found: dict[str, RecordState] = {}
    budget = defaults.STATE_RANGE_SCAN_FACTOR * len(wanted) + defaults.TABLE_QUERY_PAGE
    query = ("PartitionKey eq @pk and RowKey ge @lo and RowKey le @hi")
    rows = table.query_entities(query, parameters={"pk": partition, "lo": wanted[0], "hi": wanted[-1]},
                                select=["RowKey", "hash", "record_id", "source_key", "entity"],
                                results_per_page=defaults.TABLE_QUERY_PAGE)
    wanted_set = set(wanted)
    for scanned, row in enumerate(rows, start=1):
        if row["RowKey"] in wanted_set:
            state = _state(row)
            found[state.key] = state
        if scanned > budget:  # sparse keys in a wide range: fetch the rest by key instead
            missing = [k for k in wanted if untable_key(k) not in found and k > row["RowKey"]]
            found.update(_load_by_keys(table, partition, missing))
            break
    return found


def _load_by_keys(table: TableClient, partition: str, encoded_keys: list[str]) -> dict[str, RecordState]:
    found: dict[str, RecordState] = {}
    step = defaults.TABLE_FILTER_MAX_KEYS
    for start in range(0, len(encoded_keys), step):
        chunk = encoded_keys[start:start + step]
        params = {"pk": partition, **{f"k{i}": k for i, k in enumerate(chunk)}}
        ors = " or ".join(f"RowKey eq @k{i}" for i in range(len(chunk)))
        for row in table.query_entities(f"PartitionKey eq @pk and ({ors})", parameters=params,
                                        select=["RowKey", "hash", "record_id", "source_key", "entity"]):
            state = _state(row)
            found[state.key] = state
    return found


def record_state_row(connection: str, table_name: str, key: str, **fields: Any) -> dict[str, Any]:
    return {"PartitionKey": record_partition(connection, table_name), "RowKey": table_key(key),
            **{k: v for k, v in fields.items() if v is not None}}


def iter_record_keys(table: TableClient, connection: str, table_name: str) -> Iterator[RecordState]:
    """Every record row of a connection's table (reconciliation), streamed."""
    rows = table.query_entities("PartitionKey eq @pk", parameters={"pk": record_partition(connection, table_name)},
                                select=["RowKey", "hash", "record_id", "source_key", "entity", "deactivated"],
                                results_per_page=defaults.TABLE_QUERY_PAGE)
    for row in rows:
        if not row.get("deactivated"):
            yield _state(row)
