"""The dead-letter store: records (and undeliverable messages) that need a fix or a replay, with the reason.

Table ``syncdeadletter`` (defaults.DEADLETTER_TABLE):

    dl|<connection>      | <entity>|<source key>|<stage>    one bad record: stage transform (raw record) or write
                                                          (mapped row), reason, code, job, batch, replay count,
                                                          status dead | replayed | parked
    poison|<queue>       | <time>|<id>                    a poison-queue message parked after too many replays

A record's row is overwritten when it fails again (its replay count travels with the replayed message), so
the table holds the current problems, while the audit trail keeps the history.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from azure.data.tables import TableClient, UpdateMode

from shared import jsonz
from shared.redaction import redact
from shared.state import now_iso, table_key

STAGE_TRANSFORM = "transform"
STAGE_WRITE = "write"
STATUS_DEAD = "dead"
STATUS_REPLAYED = "replayed"
STATUS_PARKED = "parked"


def pack_payload(obj: Any) -> str:
    """gzip + base64 JSON: small enough for a table property, opaque to casual readers of the table."""
    return base64.b64encode(jsonz.dumps(obj)).decode("ascii")


def unpack_payload(text: str) -> Any:
    return jsonz.loads(base64.b64decode(text))


@dataclass(frozen=True)
class DeadRecord:
    """One dead-lettered record as stored."""

    connection: str
    entity: str
    source_key: str
    stage: str
    job_id: str
    reason: str
    code: str = ""
    table: str = ""
    batch_id: str = ""
    replay_count: int = 0
    status: str = STATUS_DEAD
    created_at: str = ""
    payload: Any = None
    product: str = ""
    key_field: str = ""

    @property
    def partition(self) -> str:
        return f"dl|{table_key(self.connection)}"

    @property
    def row_key(self) -> str:
        return table_key(f"{self.entity}|{self.source_key}|{self.stage}")


def record_entity(dead: DeadRecord) -> dict[str, Any]:
    return {"PartitionKey": dead.partition, "RowKey": dead.row_key, "connection": dead.connection,
            "entity": dead.entity, "source_key": dead.source_key, "stage": dead.stage, "job_id": dead.job_id,
            "reason": redact(dead.reason)[:2000], "code": dead.code, "table": dead.table,
            "batch_id": dead.batch_id, "replay_count": dead.replay_count, "status": dead.status,
            "created_at": dead.created_at or now_iso(), "product": dead.product, "key_field": dead.key_field,
            "payload": pack_payload(dead.payload)}


def from_entity(row: dict[str, Any]) -> DeadRecord:
    return DeadRecord(connection=row["connection"], entity=row["entity"], source_key=row["source_key"],
                      stage=row["stage"], job_id=row["job_id"], reason=row.get("reason", ""),
                      code=row.get("code", ""), table=row.get("table", ""), batch_id=row.get("batch_id", ""),
                      replay_count=int(row.get("replay_count") or 0), status=row.get("status", STATUS_DEAD),
                      created_at=row.get("created_at", ""), payload=unpack_payload(row["payload"]),
                      product=row.get("product", ""), key_field=row.get("key_field", ""))


def iter_dead(table: TableClient, connection: str | None = None) -> Iterator[tuple[DeadRecord, dict[str, Any]]]:
    """Every dead-lettered record still waiting (status dead), optionally of one connection."""
    if connection:
        rows = table.query_entities("PartitionKey eq @pk and status eq @st",
                                    parameters={"pk": f"dl|{table_key(connection)}", "st": STATUS_DEAD})
    else:
        rows = table.query_entities("PartitionKey ge 'dl|' and PartitionKey lt 'dl}' and status eq @st",
                                    parameters={"st": STATUS_DEAD})
    for row in rows:
        yield from_entity(row), row


def set_status(table: TableClient, row: dict[str, Any], status: str, **fields: Any) -> None:
    table.update_entity({"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"], "status": status,
                         "status_at": now_iso(), **fields}, mode=UpdateMode.MERGE)


def park_message(table: TableClient, queue: str, message_id: str, body: str, reason: str, replay_count: int) -> None:
    table.upsert_entity({"PartitionKey": f"poison|{queue}", "RowKey": f"{now_iso()}|{message_id}",
                         "body": body[:30000], "reason": redact(reason)[:2000], "replay_count": replay_count,
                         "status": STATUS_PARKED, "created_at": now_iso()})


def count_waiting(table: TableClient) -> tuple[int, int]:
    """(dead records waiting for a replay, items parked for a person): the dead-letter depth metric."""
    dead = parked = 0
    rows = table.query_entities("status eq @st or status eq @pk", parameters={"st": STATUS_DEAD, "pk": STATUS_PARKED},
                                select=["status"])
    for row in rows:
        if row.get("status") == STATUS_DEAD:
            dead += 1
        else:
            parked += 1
    return dead, parked
