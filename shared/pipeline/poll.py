"""poll_cloudsuite's logic: read watermarks, stream changed pages, enqueue them, then advance the watermark.

Per connection (never two runs at once: a lock row in the state table, besides the host's timer singleton)
and per entity, one job: the pages of records changed since the stored watermark (minus the client's overlap
window) are enqueued as page messages; only after the last one is enqueued does the watermark move, so a
crash re-reads the same window next time and dedupe (hashes, batch ids) makes that harmless.

Reconciliation: when a connection's full scan is due (``reconcile_days``, default weekly), every entity is
read in full and accounts we wrote whose record is gone from CloudSuite are deactivated (never deleted).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import audit, defaults, state
from shared.config import AppSettings
from shared.connections import Connection
from shared.errors import FatalError, RecordError, SyncError
from shared.hashstate import Entry, HashShards, short_hash
from shared.messages import PageMessage, WriteMessage, WriteRow
from shared.pipeline.runtime import Runtime, runtime
from shared.telemetry import log_event

log = logging.getLogger("pipeline.poll")


def new_job_id(now: datetime | None = None) -> str:
    """Sortable, unique: ``20261127T073000Z-3f9a1c``."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass
class PollResult:
    """One entity's run."""

    job_id: str
    connection: str
    entity: str
    status: str = "completed"
    read: int = 0
    pages: int = 0
    watermark_from: str | None = None
    watermark: str | None = None
    reconcile: bool = False
    deactivated: int = 0
    error: str = ""
    seen: set[str] = field(default_factory=set, repr=False)


def run_poll(settings: AppSettings, *, past_due: bool = False, only: str | None = None) -> list[PollResult]:
    """Poll every enabled connection (or only the one named); raise after all ran if any failed."""
    rt = runtime(settings)
    results: list[PollResult] = []
    failures: list[str] = []
    for conn in rt.connections.values():
        if not conn.enabled or (only and conn.name != only):
            continue
        try:
            results.extend(poll_connection(rt, conn, past_due=past_due))
        except SyncError as exc:  # one broken connection must not stop the others
            log.error("connection '%s' poll failed: %s", conn.name, exc.message)
            failures.append(f"{conn.name}: {exc.message}")
    failures += [f"{r.connection}/{r.entity}: {r.error}" for r in results if r.status == "failed"]
    if failures:
        raise SyncError("poll failed for " + "; ".join(failures))
    return results


def reconcile_due(rt: Runtime, conn: Connection) -> bool:
    days = float(conn.cloudsuite.get("reconcile_days", defaults.RECONCILE_INTERVAL_DAYS))
    if days <= 0:
        return False
    last = [state.get_last_reconcile(rt.state, conn.name, e) for e in conn.entities]
    if any(t is None for t in last):
        return False  # the first sync is a full read anyway; reconcile from the next interval on
    oldest = min(t for t in last if t is not None)
    return datetime.now(UTC) - oldest >= timedelta(days=days)


def poll_connection(rt: Runtime, conn: Connection, *, past_due: bool = False,
                    reconcile: bool | None = None) -> list[PollResult]:
    """One run for every entity of ``conn`` under the connection's lock (skipped when another run holds it)."""
    lock_id = new_job_id()
    if not state.acquire_lock(rt.state, conn.name, lock_id):
        log.warning("connection '%s': previous poll still running; this run is skipped", conn.name)
        return [PollResult(lock_id, conn.name, e, status="skipped") for e in conn.entities]
    try:
        client = rt.cloudsuite(conn)
        full = reconcile_due(rt, conn) if reconcile is None else reconcile
        # One "now" for the whole run (M3: one GetServerTime), taken before the first list request.
        watermark = client.start_watermark()
        results = [poll_entity(rt, conn, client, entity, reconcile=full, past_due=past_due, watermark=watermark)
                   for entity in conn.entities]
        if full and all(r.status == "completed" for r in results):
            deactivate_missing(rt, conn, results)
        return results
    finally:
        state.release_lock(rt.state, conn.name, lock_id)


def poll_entity(rt: Runtime, conn: Connection, client: Any, entity: str, *, reconcile: bool = False,
                past_due: bool = False, watermark: str | None = None) -> PollResult:
    """Enqueue every page of ``entity`` changed since the watermark; advance it after the last page."""
    job_id = new_job_id()
    started = time.monotonic()
    started_at = state.now_iso()
    since = None if reconcile else state.get_watermark(rt.state, conn.name, entity)
    result = PollResult(job_id, conn.name, entity, watermark_from=since, reconcile=reconcile)
    log_event(log, "poll.started", job_id=job_id, connection=conn.name, entity=entity, watermark_from=since,
              past_due=past_due)
    audit.write_run(rt.audit, job_id, conn.name, entity, status="running", started_at=started_at,
                    since=since or "", reconcile=reconcile)
    try:
        polled_at = state.now_iso()
        mapping = rt.mapping(conn, client.product) if reconcile else None
        chunk: list[dict[str, Any]] = []

        def flush(product: str, key_field: str) -> None:
            result.pages += 1
            rt.send(defaults.PAGES_QUEUE, PageMessage(
                job_id=job_id, connection=conn.name, product=product, entity=entity, page=result.pages,
                key_field=key_field, records=chunk[:], polled_at=polled_at, reconcile=reconcile))
            chunk.clear()

        # CloudSuite pages stay gateway-friendly; page messages gather several of them so that transform packs
        # full Dataverse requests (one page's rows rarely fill whole requests). Memory: one message's records.
        for page in client.iter_changed(entity, since, watermark=watermark):
            result.read += len(page.records)
            chunk.extend(page.records)
            if mapping is not None:
                result.seen.update(_account_keys(mapping, entity, page.records))
            if len(chunk) >= defaults.PAGE_MESSAGE_RECORDS or (page.last and chunk):
                flush(page.product, page.key_field)
        if chunk:
            flush(client.product, client.key_field(entity))
        if watermark is not None and (result.read or since is None):
            state.set_watermark(rt.state, conn.name, entity, watermark, job_id)
            result.watermark = watermark
        if reconcile:
            state.set_last_reconcile(rt.state, conn.name, entity, job_id)
        elif since is None and state.get_last_reconcile(rt.state, conn.name, entity) is None:
            state.set_last_reconcile(rt.state, conn.name, entity, job_id)  # the first full read counts as one
    except (SyncError, OSError) as exc:
        result.status = "failed"
        result.error = exc.message if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, FatalError):
            log.error("connection '%s' %s: %s", conn.name, entity, result.error)
    duration_ms = int((time.monotonic() - started) * 1000)
    audit.write_run(rt.audit, job_id, conn.name, entity, status=result.status, started_at=started_at,
                    finished_at=state.now_iso(),
                    read=result.read, pages=result.pages, watermark=result.watermark or "", error=result.error,
                    duration_ms=duration_ms)
    log_event(log, "poll.completed", job_id=job_id, connection=conn.name, entity=entity,
              outcome="ok" if result.status == "completed" else "failed", read=result.read, pages=result.pages,
              duration_ms=duration_ms, watermark_from=since, watermark=result.watermark,
              reason=result.error or None)
    return result


def _account_keys(mapping: Any, entity: str, records: Any) -> set[str]:
    from shared.mapping import map_record

    keys = set()
    for raw in records:
        try:
            keys.add(map_record(mapping, entity, raw).source_key)
        except RecordError:
            continue  # an unmappable record still exists in CloudSuite: never deactivate it for that
    return keys


def deactivate_missing(rt: Runtime, conn: Connection, results: list[PollResult]) -> int:
    """Deactivate the accounts we wrote whose record no longer exists in CloudSuite (after a full scan)."""
    seen: set[str] = set().union(*(r.seen for r in results))
    key_column = rt.key_columns(conn)["account"]
    job = results[0]
    shards = HashShards(rt.state, conn.name, "account")
    entries = {k: e for k, e in shards.iter_all() if k not in seen and e.hash != short_hash(defaults.DEACTIVATED_HASH)}
    written = state.written_batches(rt.state, conn.name, {e.batch_id for e in entries.values()})
    # Only rows confirmed written exist in Dataverse: an upsert of a missing key would create an empty account.
    missing = sorted(k for k, e in entries.items() if e.batch_id in written and k not in written[e.batch_id])
    rows = [WriteRow(table="account", key={key_column: k}, payload={"statecode": 1, "statuscode": 2}, ref=k,
                     hash=defaults.DEACTIVATED_HASH) for k in missing]
    step = defaults.RECONCILE_BATCH_ROWS
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        batch_id = f"reconcile-{job.job_id}-{start // step:05d}"
        shards.record({r.ref: Entry(short_hash(r.hash), batch_id) for r in chunk})
        rt.send(defaults.WRITES_QUEUE, WriteMessage(job_id=job.job_id, connection=conn.name, entity=job.entity,
                                                    table="account", batch_id=batch_id, rows=chunk))
    job.deactivated = len(rows)
    if rows:
        log.info("connection '%s': reconciliation deactivates %d account(s) gone from CloudSuite", conn.name, len(rows))
    return len(rows)
