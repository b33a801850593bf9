"""The audit trail in Table storage: what every job read, changed, wrote, skipped and failed, record by record.

Table ``syncaudit`` (defaults.AUDIT_TABLE). One partition per job, so a job's rows are written in
entity-group transactions and read back with one query (docs/architecture.md has the full design):

    job|<job id>        | run                           poll summary: connection, entity, window, read, pages, status
    job|<job id>        | page|<page:06d>               transform: read, mapped, invalid, unchanged, rows, batches
    job|<job id>        | batch|<batch id>              write: counts, requests, and every record's result (gzip)
    job|<job id>        | rec|<table>|<key>|<batch>     a failed, invalid or deferred record: code, reason
    job|<job id>        | move|<time>|<id>              a replay or park of dead-lettered work
    jobs|<connection>   | <inverted time>|<job id>      index: the connection's jobs, newest first

Successful records are listed compactly in their batch row (``results``: key, outcome, Dataverse id); failed
and deferred records get their own ``rec`` rows with Dataverse's code and message. "What happened to supplier
X" = its hash-shard entry (which batch) -> the batch's state row (which job) -> that job's batch and rec rows
(``record_history``). Keys, hashes, outcomes and reasons only: never payloads or secrets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared import jsonz, state
from shared.redaction import redact
from shared.state import now_iso, submit_in_transactions, table_key

_MAX_REASON = 2000  # table string properties hold 32K characters; reasons longer than this are noise


def job_partition(job_id: str) -> str:
    return f"job|{table_key(job_id)}"


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, str):
            value = redact(value)[:_MAX_REASON]
        out[key] = value
    return out


def write_run(table: TableClient, job_id: str, connection: str, entity: str, **fields: Any) -> None:
    """The poll run's summary row and its index row (upsert: a run writes it when it starts and ends)."""
    started = fields.get("started_at") or now_iso()
    inverted = f"{10**13 - int(datetime.fromisoformat(started.replace('Z', '+00:00')).timestamp() * 1000):013d}"
    table.upsert_entity({"PartitionKey": job_partition(job_id), "RowKey": "run", "connection": connection,
                         "entity": entity, "job_id": job_id, **_clean(fields)}, mode=UpdateMode.MERGE)
    table.upsert_entity({"PartitionKey": f"jobs|{table_key(connection)}", "RowKey": f"{inverted}|{table_key(job_id)}",
                         "job_id": job_id, "entity": entity, "started_at": started,
                         "status": fields.get("status", "")}, mode=UpdateMode.MERGE)


def write_page(table: TableClient, job_id: str, page: int, **counts: Any) -> None:
    table.upsert_entity({"PartitionKey": job_partition(job_id), "RowKey": f"page|{page:06d}", "at": now_iso(),
                         **_clean(counts)}, mode=UpdateMode.REPLACE)


def write_batch(table: TableClient, job_id: str, batch_id: str, **counts: Any) -> None:
    table.upsert_entity({"PartitionKey": job_partition(job_id), "RowKey": f"batch|{batch_id}", "at": now_iso(),
                         **_clean(counts)}, mode=UpdateMode.REPLACE)


def record_row(job_id: str, table_name: str, key: str, suffix: str, **fields: Any) -> dict[str, Any]:
    """One record outcome row (send many with ``write_rows``)."""
    return {"PartitionKey": job_partition(job_id), "RowKey": f"rec|{table_name}|{table_key(key)}|{suffix}",
            "table": table_name, "key": key, "at": now_iso(), **_clean(fields)}


def write_move(table: TableClient, job_id: str, move_id: str, **fields: Any) -> None:
    table.upsert_entity({"PartitionKey": job_partition(job_id), "RowKey": f"move|{now_iso()}|{move_id}",
                         **_clean(fields)})


def write_rows(table: TableClient, rows: Iterable[dict[str, Any]]) -> int:
    """Write audit rows in entity-group transactions; returns the number of round trips."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["PartitionKey"], []).append(row)
    return submit_in_transactions(table, grouped)


# ---- questions the trail answers ------------------------------------------------------------------
_COUNTED = ("read", "mapped", "invalid", "unchanged", "rows", "batches", "written", "failed", "deferred",
            "dead_lettered", "created", "updated")


def job_report(table: TableClient, job_id: str) -> dict[str, Any]:
    """For one job: its run row and how many records were read, changed, written, skipped and failed."""
    run: dict[str, Any] = {}
    pages: Counter[str] = Counter()
    batches: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    counts = {"pages": 0, "batches": 0, "duplicate_deliveries": 0, "moves": 0}
    for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": job_partition(job_id)}):
        kind = str(row["RowKey"]).split("|", 1)[0]
        if kind == "run":
            run = {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey")}
        elif kind == "page":
            counts["pages"] += 1
            pages.update({k: int(row.get(k) or 0) for k in _COUNTED if k in row})
        elif kind == "batch":
            if row.get("duplicate"):
                counts["duplicate_deliveries"] += 1
                continue
            counts["batches"] += 1
            batches.update({k: int(row.get(k) or 0) for k in _COUNTED if k in row})
        elif kind == "rec":
            outcomes[str(row.get("outcome", ""))] += 1
        elif kind == "move":
            counts["moves"] += 1
    return {
        "job_id": job_id, "run": run,
        "read": int(run.get("read") or pages.get("read", 0)),
        "changed": pages.get("rows", 0), "unchanged": pages.get("unchanged", 0), "invalid": pages.get("invalid", 0),
        "written": batches.get("written", 0), "failed": batches.get("failed", 0) + pages.get("invalid", 0),
        "deferred": batches.get("deferred", 0), "outcomes": dict(outcomes), **counts,
    }


def pack_results(results: list[list[str]]) -> bytes:
    """A batch's per-record results ([key, outcome, Dataverse id]) as one compact binary property."""
    return jsonz.dumps(results)


def unpack_results(data: Any) -> list[list[str]]:
    return jsonz.loads(data) if data else []


def record_history(audit: TableClient, state_table: TableClient, deadletters: TableClient, connection: str,
                   table_name: str, key: str) -> dict[str, Any]:
    """For one Dataverse row: the batch and job that last carried it, what Dataverse said, any dead-letter."""
    from shared.hashstate import HashShards

    entry = HashShards(state_table, connection, table_name).lookup([key]).get(key)
    answer: dict[str, Any] = {"key": key, "table": table_name, "batch_id": None, "job_id": None, "outcome": None,
                              "record_id": None, "events": [], "deadletter": None}
    if entry is not None:
        answer["batch_id"] = entry.batch_id
        batch = state.batch_info(state_table, connection, entry.batch_id)
        if batch is None:
            answer["outcome"] = "queued"  # handed to a batch that has not been written yet
        else:
            answer["job_id"] = batch.get("job_id")
            answer["written_at"] = batch.get("written_at")
            row = _batch_row(audit, str(batch.get("job_id")), entry.batch_id)
            for ref, outcome, record_id in unpack_results(row.get("results") if row else None):
                if ref == key:
                    answer["outcome"], answer["record_id"] = outcome, record_id or None
            if row:
                answer["polled_at"] = row.get("polled_at")
    if answer["job_id"]:
        prefix = f"rec|{table_name}|{table_key(key)}|"
        rows = audit.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                    parameters={"pk": job_partition(str(answer["job_id"])), "lo": prefix,
                                                "hi": prefix[:-1] + chr(ord("|") + 1)})
        answer["events"] = [{k: v for k, v in r.items() if k != "PartitionKey"} for r in rows]
    for row in deadletters.query_entities("PartitionKey eq @pk and source_key eq @key",
                                          parameters={"pk": f"dl|{table_key(connection)}", "key": key}):
        answer["deadletter"] = {k: row.get(k) for k in ("stage", "status", "reason", "code", "job_id", "batch_id",
                                                        "replay_count", "created_at")}
    return answer


def _batch_row(audit: TableClient, job_id: str, batch_id: str) -> dict[str, Any] | None:
    try:
        return dict(audit.get_entity(job_partition(job_id), f"batch|{batch_id}"))
    except ResourceNotFoundError:
        return None


def recent_jobs(table: TableClient, connection: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = table.query_entities("PartitionKey eq @pk", parameters={"pk": f"jobs|{table_key(connection)}"},
                                results_per_page=limit)
    out = []
    for row in rows:
        out.append({"job_id": row["job_id"], "entity": row.get("entity"), "started_at": row.get("started_at"),
                    "status": row.get("status")})
        if len(out) >= limit:
            break
    return out


def utc_now() -> datetime:
    return datetime.now(UTC)
