"""transform_records' logic: map a page message's records, drop unchanged ones, pack write batches.

A record the mapping rejects is dead-lettered with its reason and the rest of the page goes on. Rows whose
content hash equals the hash last written (state table) are dropped. The rest are packed with the writer's
own byte measurement into request-sized batches whose ids derive from the job and their content, so a
redelivered page produces the same batch ids and write_dataverse recognises them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from shared import audit, defaults, messages, state
from shared.config import AppSettings
from shared.errors import RecordError
from shared.hashstate import Entry, HashShards, short_hash
from shared.messages import PageMessage, WriteMessage, WriteRow
from shared.pipeline.deadletters import dead_letter_raw, dead_letter_row, decode_or_park
from shared.pipeline.runtime import Runtime, runtime
from shared.telemetry import log_event

log = logging.getLogger("pipeline.transform")


@dataclass
class TransformResult:
    read: int = 0
    mapped: int = 0
    invalid: int = 0
    unchanged: int = 0
    rows: int = 0
    batches: int = 0


def handle_page_message(settings: AppSettings, body: bytes, *, dequeue_count: int) -> TransformResult | None:
    """Decode and transform one page message; an undecodable message is dead-lettered, not retried."""
    rt = runtime(settings)
    message = decode_or_park(rt, defaults.PAGES_QUEUE, body, PageMessage)
    if message is None:
        return None
    result = transform_page(rt, message, dequeue_count=dequeue_count)
    rt.delete_blob(messages.claim_blob(body))
    return result


def batch_id_for(job_id: str, page: int, table: str, rows: list[WriteRow]) -> str:
    """Deterministic: the same job, page and content always give the same id."""
    digest = hashlib.sha256(f"{job_id}|{page}|{table}".encode())
    for row in sorted(rows, key=lambda r: r.ref):
        digest.update(f"|{row.ref}={row.hash}".encode())
    return f"b-{digest.hexdigest()[:32]}"


def transform_page(rt: Runtime, msg: PageMessage, *, dequeue_count: int = 1) -> TransformResult:
    started = time.monotonic()
    conn = rt.connection(msg.connection)
    mapping = rt.mapping(conn, msg.product)
    from shared.mapping import map_record

    result = TransformResult(read=len(msg.records))
    rows: dict[str, dict[str, WriteRow]] = {"account": {}, "contact": {}}
    audit_rows: list[dict[str, Any]] = []
    for raw in msg.records:
        try:
            mapped = map_record(mapping, msg.entity, raw)
        except RecordError as exc:
            result.invalid += 1
            source_key = str(raw.get(msg.key_field, "")) if isinstance(raw, dict) else ""
            dead_letter_raw(rt, msg, raw, source_key, exc)
            audit_rows.append(audit.record_row(msg.job_id, "source", exc.key or source_key, "transform",
                                               outcome="invalid", code=exc.code, reason=exc.reason,
                                               entity=msg.entity, page=msg.page))
            continue
        result.mapped += 1
        stamp = _change_stamp(raw)
        for row in mapped.rows:
            key_value = next(iter(row.key.values()))
            parent = next(iter(row.parent_key.values())) if row.parent_key else None
            rows[row.table][key_value] = WriteRow(table=row.table, key=dict(row.key), payload=dict(row.payload),
                                                   ref=key_value, hash=row.hash, parent_key=parent,
                                                   source_changed_at=stamp)
    writer = rt.writer(conn) if any(rows.values()) else None
    for table, by_key in rows.items():
        if not by_key:
            continue
        fresh = _changed_rows(rt, conn.name, table, by_key)
        result.unchanged += len(by_key) - len(fresh)
        result.rows += len(fresh)
        if fresh and writer is not None:
            result.batches += _send_batches(rt, writer, msg, table, fresh)
    if audit_rows:
        audit.write_rows(rt.audit, audit_rows)
    audit.write_page(rt.audit, msg.job_id, msg.page, read=result.read, mapped=result.mapped, invalid=result.invalid,
                     unchanged=result.unchanged, rows=result.rows, batches=result.batches, entity=msg.entity,
                     dequeue_count=dequeue_count, replay_count=msg.replay_count)
    log_event(log, "transform.completed", job_id=msg.job_id, connection=msg.connection, entity=msg.entity,
              outcome="ok" if not result.invalid else "partial", page_id=msg.page, dequeue_count=dequeue_count,
              mapped=result.mapped, skipped_unchanged=result.unchanged, invalid=result.invalid,
              batches=result.batches, duration_ms=int((time.monotonic() - started) * 1000))
    return result


def _changed_rows(rt: Runtime, connection: str, table: str, by_key: dict[str, WriteRow]) -> list[WriteRow]:
    """Rows whose content differs from what was last written (or was never confirmed written)."""
    known = HashShards(rt.state, connection, table).lookup(list(by_key))
    written = state.written_batches(rt.state, connection, {e.batch_id for e in known.values()})

    def current(key: str, row: WriteRow) -> bool:
        entry = known.get(key)
        return (entry is not None and entry.hash == short_hash(row.hash) and entry.batch_id in written
                and key not in written[entry.batch_id])

    return [row for key, row in by_key.items() if not current(key, row)]


def _send_batches(rt: Runtime, writer: Any, msg: PageMessage, table: str, fresh: list[WriteRow]) -> int:
    from shared.dataverse import UpsertRecord

    records = [UpsertRecord(table=table, key=r.key, payload=r.payload, ref=r.ref, parent_key=r.parent_key)
               for r in fresh]
    by_ref = {r.ref: r for r in fresh}
    plan = writer.plan(table, records)
    for record, outcome in plan.rejected:  # too large or an invalid key: never sendable
        row = by_ref[record.ref]
        dead_letter_row(rt, msg.job_id, msg.connection, msg.entity, "", row, outcome.code, outcome.message,
                        msg.replay_count)
    delay = defaults.CONTACT_BATCH_DELAY_S if table == "contact" else 0
    batches = []
    for batch in plan.batches:
        batch_rows = [by_ref[r.ref] for r in batch]
        batches.append((batch_id_for(msg.job_id, msg.page, table, batch_rows), batch_rows))
    # Remember what each row was handed to before sending: a crash in between only causes a re-send.
    HashShards(rt.state, msg.connection, table).record(
        {row.ref: Entry(short_hash(row.hash), batch_id) for batch_id, batch_rows in batches for row in batch_rows})
    for batch_id, batch_rows in batches:
        rt.send(defaults.WRITES_QUEUE, WriteMessage(job_id=msg.job_id, connection=msg.connection, entity=msg.entity,
                                                    table=table, batch_id=batch_id, rows=batch_rows, page=msg.page,
                                                    polled_at=msg.polled_at, replay_count=msg.replay_count),
                delay_s=delay)
    return len(plan.batches)


def _change_stamp(raw: dict[str, Any]) -> str | None:
    """The record's own change time when the product gives one (CSI RecordDate), for the lag metric."""
    value = raw.get("RecordDate")
    return str(value) if value else None
