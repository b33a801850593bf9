"""The audit trail in Table storage: what every job read, changed, wrote, skipped and failed, record by record.

Table ``syncaudit`` (defaults.AUDIT_TABLE). One partition per job, so a job's rows are written in
entity-group transactions and read back with one query (docs/audit.md has the full design):

    job|<job id>        | run                           poll summary: connection, entity, window, read, pages, status
    job|<job id>        | page|<page:06d>               transform: read, mapped, invalid, unchanged, rows, batches
    job|<job id>        | batch|<batch id>              write: rows, written, failed, deferred, duplicate delivery
    job|<job id>        | rec|<table>|<key>|<batch>     one record's outcome: Dataverse id, code, reason, hash
    job|<job id>        | move|<time>|<id>              a replay or park of dead-lettered work
    jobs|<connection>   | <inverted time>|<job id>      index: the connection's jobs, newest first

The latest outcome per record also lives in the state table (shared.state), so "what happened to supplier X"
is one point read there plus one partition query here. Keys, hashes, outcomes and reasons only: never
payloads or secrets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.redaction import redact
from shared.state import now_iso, record_partition, submit_in_transactions, table_key, untable_key

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


def record_history(audit: TableClient, state: TableClient, connection: str, table_name: str,
                   key: str) -> dict[str, Any]:
    """For one record: its latest state and every audit row of the job that last touched it."""
    try:
        latest = dict(state.get_entity(record_partition(connection, table_name), table_key(key)))
    except ResourceNotFoundError:
        return {"key": key, "state": None, "events": []}
    job_id = latest.get("job_id")
    events = []
    if job_id:
        prefix = f"rec|{table_name}|{table_key(key)}|"
        rows = audit.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                    parameters={"pk": job_partition(str(job_id)), "lo": prefix,
                                                "hi": prefix[:-1] + chr(ord("|") + 1)})
        events = [{k: v for k, v in r.items() if k not in ("PartitionKey",)} for r in rows]
    latest.pop("PartitionKey", None)
    latest["RowKey"] = untable_key(str(latest.get("RowKey", "")))
    return {"key": key, "state": latest, "events": events}


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
