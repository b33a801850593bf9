"""Sync state in Table storage: watermarks, the per-connection run lock, record hashes, written batch ids.

Table ``syncstate`` (defaults.STATE_TABLE); partition and row keys:

    wm                     | <connection>|<entity>        watermark value, job, when
    lock                   | <connection>                 job holding the poll lock, expiry (ETag-guarded)
    reconcile              | <connection>|<entity>        last completed full scan
    batch|<connection>     | <batch id>                   a write batch that was sent: job, counts, keys not confirmed
    hs|<connection>|<tbl>  | <last key of the shard>      content hashes per Dataverse row (shared.hashstate)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared import defaults, jsonz

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
def _take_lease(table: TableClient, partition: str, row_key: str, owner: str, ttl_s: float) -> bool:
    """Create a lease row, or take it over when its holder's lease has expired; False while it is held."""
    row = {"PartitionKey": partition, "RowKey": row_key, "owner": owner,
           "expires_at": (datetime.now(UTC) + timedelta(seconds=ttl_s)).isoformat()}
    try:
        table.create_entity(row)
        return True
    except ResourceExistsError:
        pass
    try:
        current = table.get_entity(partition, row_key)
    except ResourceNotFoundError:
        return _take_lease(table, partition, row_key, owner, ttl_s)
    if current.get("owner") == owner:
        return True
    if datetime.fromisoformat(str(current["expires_at"])) > datetime.now(UTC):
        return False
    try:
        table.update_entity(row, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                            match_condition=MatchConditions.IfNotModified)
        return True
    except (HttpResponseError, ResourceNotFoundError):
        return False  # someone else took over the expired lease first


def acquire_lock(table: TableClient, connection: str, job_id: str,
                 ttl_s: float = defaults.POLL_LOCK_TTL_S) -> bool:
    """Take the connection's poll lock; an expired lock (a crashed run) is taken over. False when held."""
    return _take_lease(table, "lock", table_key(connection), job_id, ttl_s)


def release_lock(table: TableClient, connection: str, job_id: str) -> None:
    """Release the lock if this job still holds it."""
    _release_lease(table, "lock", table_key(connection), job_id)


def _release_lease(table: TableClient, partition: str, row_key: str, owner: str) -> None:
    try:
        current = table.get_entity(partition, row_key)
    except ResourceNotFoundError:
        return
    if current.get("owner") != owner:
        return
    with contextlib.suppress(HttpResponseError, ResourceNotFoundError):
        table.delete_entity(partition, row_key, etag=current.metadata["etag"],
                            match_condition=MatchConditions.IfNotModified)


# ---- write batches --------------------------------------------------------------------------------
_written_cache: dict[tuple[str, str, str], frozenset[str]] = {}  # (table url, connection, batch) -> unconfirmed
_cache_lock = threading.Lock()


def _pack_keys(keys: Iterable[str]) -> bytes:
    return jsonz.dumps(sorted(keys))


def _unpack_keys(data: Any) -> frozenset[str]:
    return frozenset(jsonz.loads(data)) if data else frozenset()


def batch_written(table: TableClient, connection: str, batch_id: str) -> bool:
    return batch_id in written_batches(table, connection, [batch_id])


def mark_batch_written(table: TableClient, connection: str, batch_id: str, job_id: str, counts: dict[str, int],
                       unconfirmed: Iterable[str] = ()) -> None:
    """Record that a batch was sent; ``unconfirmed`` keys (failed, deferred) still count as not written."""
    row: dict[str, Any] = {"PartitionKey": f"batch|{table_key(connection)}", "RowKey": batch_id, "job_id": job_id,
                           "written_at": now_iso(), **counts}
    pending = list(unconfirmed)
    if pending:
        row["unconfirmed"] = _pack_keys(pending)
    table.upsert_entity(row, mode=UpdateMode.REPLACE)


def written_batches(table: TableClient, connection: str, batch_ids: Iterable[str]) -> dict[str, frozenset[str]]:
    """Which of ``batch_ids`` were written, each with its unconfirmed keys (positive answers are cached)."""
    out: dict[str, frozenset[str]] = {}
    partition = f"batch|{table_key(connection)}"
    for batch_id in set(batch_ids):
        cache_key = (table.url, connection, batch_id)
        with _cache_lock:
            cached = _written_cache.get(cache_key)
        if cached is not None:
            out[batch_id] = cached
            continue
        try:
            row = table.get_entity(partition, batch_id, select=["RowKey", "unconfirmed", "job_id"])
        except ResourceNotFoundError:
            continue
        out[batch_id] = _unpack_keys(row.get("unconfirmed"))
        with _cache_lock:
            if len(_written_cache) >= defaults.WRITTEN_BATCH_CACHE:
                _written_cache.clear()
            _written_cache[cache_key] = out[batch_id]
    return out


def claim_batch(table: TableClient, connection: str, batch_id: str, owner: str,
                ttl_s: float = defaults.BATCH_CLAIM_TTL_S) -> bool:
    """Claim a batch before writing it, so two deliveries of one batch never write at the same time.

    False while another invocation holds a fresh claim; a stale claim (its holder crashed) is taken over.
    """
    return _take_lease(table, f"claim|{table_key(connection)}", batch_id, owner, ttl_s)


def release_claim(table: TableClient, connection: str, batch_id: str, owner: str) -> None:
    """Give a claim back (the write failed and the message will be retried): only if we still hold it."""
    _release_lease(table, f"claim|{table_key(connection)}", batch_id, owner)


def batch_info(table: TableClient, connection: str, batch_id: str) -> dict[str, Any] | None:
    """The stored row of a written batch (job id, counts, unconfirmed keys), or None."""
    try:
        row = table.get_entity(f"batch|{table_key(connection)}", batch_id)
    except ResourceNotFoundError:
        return None
    info = {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey", "unconfirmed")}
    info["unconfirmed"] = sorted(_unpack_keys(row.get("unconfirmed")))
    return info
