"""write_dataverse's logic: upsert one write batch and record per-record outcomes, state and audit rows.

A batch id already marked written is skipped (a redelivered message changes nothing). Records Dataverse
rejects for a data reason are dead-lettered with Dataverse's code and message while the rest lands;
contacts whose account is not there yet are re-enqueued with a delay; transient failures propagate so the
host retries the message (and after maxDequeueCount poisons it, for replay_deadletter to drain).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from shared import audit, defaults, messages, state
from shared.config import AppSettings
from shared.errors import TransientError
from shared.hashstate import Entry, HashShards, short_hash
from shared.messages import WriteMessage, WriteRow
from shared.pipeline.deadletters import dead_letter_row, decode_or_park
from shared.pipeline.runtime import Runtime, runtime
from shared.telemetry import log_event

log = logging.getLogger("pipeline.write")


def handle_write_message(settings: AppSettings, body: bytes, *, dequeue_count: int) -> dict[str, int] | None:
    """Decode and write one batch message; an undecodable message is parked, not retried."""
    rt = runtime(settings)
    message = decode_or_park(rt, defaults.WRITES_QUEUE, body, WriteMessage)
    if message is None:
        return None
    counts = write_batch(rt, message, dequeue_count=dequeue_count)
    rt.delete_blob(messages.claim_blob(body))
    return counts


def write_batch(rt: Runtime, msg: WriteMessage, *, dequeue_count: int = 1) -> dict[str, int]:
    started = time.monotonic()
    conn = rt.connection(msg.connection)
    if state.batch_written(rt.state, conn.name, msg.batch_id):
        audit.write_batch(rt.audit, msg.job_id, f"{msg.batch_id}|dup{dequeue_count}", duplicate=True,
                          rows=len(msg.rows), dequeue_count=dequeue_count)
        log_event(log, "write.completed", job_id=msg.job_id, connection=msg.connection, entity=msg.entity,
                  outcome="skipped", batch_id=msg.batch_id, dequeue_count=dequeue_count, written=0,
                  reason="batch already written (redelivery)")
        return {"written": 0, "failed": 0, "deferred": 0, "duplicate": 1}
    owner = f"{msg.batch_id}:{uuid.uuid4().hex}"
    if not state.claim_batch(rt.state, conn.name, msg.batch_id, owner=owner):
        # Another delivery of this batch is being written right now: retry later, then it is a duplicate.
        raise TransientError(f"batch {msg.batch_id} is being written by another invocation")
    try:
        return _write_claimed(rt, msg, dequeue_count, started)
    except BaseException:
        # The host retries this message: hand the claim back so the retry is not mistaken for a duplicate.
        state.release_claim(rt.state, conn.name, msg.batch_id, owner)
        raise


def _write_claimed(rt: Runtime, msg: WriteMessage, dequeue_count: int, started: float) -> dict[str, int]:
    from shared.dataverse import Status, UpsertRecord

    conn = rt.connection(msg.connection)
    writer = rt.writer(conn)
    requests_before = writer.requests_sent
    records = [UpsertRecord(table=r.table, key=r.key, payload=r.payload, ref=r.ref, parent_key=r.parent_key)
               for r in msg.rows]
    outcomes = writer.upsert(records)  # TransientError propagates: the host retries the whole message
    by_ref = {r.ref: r for r in msg.rows}
    counts = {"written": 0, "created": 0, "updated": 0, "failed": 0, "deferred": 0}
    audit_rows: list[dict[str, Any]] = []
    deferred: list[tuple[WriteRow, Any]] = []
    unconfirmed: list[str] = []
    results: list[list[str]] = []  # [key, outcome, Dataverse id] per record, kept compactly in the batch's audit row
    for outcome in outcomes:
        row = by_ref[outcome.ref]
        results.append([row.ref, str(outcome.status), outcome.record_id or ""])
        if outcome.status.written or outcome.status is Status.SUPERSEDED:
            counts["written"] += 1
            counts["created"] += outcome.status is Status.CREATED
            counts["updated"] += outcome.status is Status.UPDATED
            continue
        unconfirmed.append(row.ref)
        if outcome.status is Status.DEFERRED:
            counts["deferred"] += 1
            deferred.append((row, outcome))
            continue
        counts["failed"] += 1
        dead_letter_row(rt, msg.job_id, msg.connection, msg.entity, msg.batch_id, row, outcome.code,
                        outcome.message, msg.replay_count)
        audit_rows.append(audit.record_row(msg.job_id, row.table, row.ref, msg.batch_id, outcome="failed",
                                           code=outcome.code, reason=outcome.message, entity=msg.entity))
    if deferred:
        _defer(rt, msg, deferred, audit_rows)
    audit.write_rows(rt.audit, audit_rows)
    if msg.record_hashes:
        written = [by_ref[ref] for ref, status, _ in results if ref not in unconfirmed]
        HashShards(rt.state, conn.name, msg.table).record(
            {row.ref: Entry(short_hash(row.hash), msg.batch_id) for row in written})
    requests = writer.requests_sent - requests_before
    state.mark_batch_written(rt.state, conn.name, msg.batch_id, msg.job_id, counts, unconfirmed)
    audit.write_batch(rt.audit, msg.job_id, msg.batch_id, rows=len(msg.rows), dv_table=msg.table, requests=requests,
                      dequeue_count=dequeue_count, replay_count=msg.replay_count, entity=msg.entity,
                      polled_at=msg.polled_at or None, results=audit.pack_results(results), **counts)
    log_event(log, "write.completed", job_id=msg.job_id, connection=msg.connection, entity=msg.entity,
              outcome="ok" if not (counts["failed"] or counts["deferred"]) else "partial", batch_id=msg.batch_id,
              dequeue_count=dequeue_count, written=counts["written"], created=counts["created"],
              updated=counts["updated"], failed=counts["failed"], deferred=counts["deferred"], requests=requests,
              duration_ms=int((time.monotonic() - started) * 1000))
    _log_lag(msg, counts["written"])
    return counts


def _defer(rt: Runtime, msg: WriteMessage, deferred: list[tuple[WriteRow, Any]], audit_rows: list[dict]) -> None:
    """Re-enqueue contacts whose account does not exist yet; dead-letter them after too many tries."""
    if msg.defer_count + 1 > defaults.WRITE_MAX_DEFERS:
        for row, outcome in deferred:
            reason = f"parent account still missing after {defaults.WRITE_MAX_DEFERS} retries: {outcome.message}"
            dead_letter_row(rt, msg.job_id, msg.connection, msg.entity, msg.batch_id, row, outcome.code, reason,
                             msg.replay_count)
        return
    rows = [row for row, _ in deferred]
    retry = replace(msg, rows=rows, batch_id=f"{msg.batch_id[:40]}-d{msg.defer_count + 1}",
                    defer_count=msg.defer_count + 1, record_hashes=True)
    rt.send(defaults.WRITES_QUEUE, retry, delay_s=defaults.WRITE_DEFER_DELAY_S)
    for row, outcome in deferred:
        audit_rows.append(audit.record_row(msg.job_id, row.table, row.ref, msg.batch_id, outcome="deferred",
                                           code=outcome.code, reason=outcome.message, retry_batch=retry.batch_id))


def _log_lag(msg: WriteMessage, written: int) -> None:
    if not written or not msg.polled_at:
        return
    polled = datetime.fromisoformat(msg.polled_at.replace("Z", "+00:00"))
    lag = (datetime.now(UTC) - polled).total_seconds()
    log_event(log, "sync.lag", job_id=msg.job_id, connection=msg.connection, entity=msg.entity, records=written,
              lag_max_s=round(lag, 3), batch_id=msg.batch_id)
