"""replay_deadletter's logic: move dead-lettered work back to its origin queue, or park it.

Two sources:
- dead-lettered records (table ``syncdeadletter``), replayed on request (HTTP, with filters and a dry run):
  a record that failed in transform goes back as a one-record page message, one that Dataverse rejected as a
  one-row write message;
- ``*-poison`` queues, drained by the timer: each message goes back to its origin queue.
Every move increments the item's replay count; past REPLAY_MAX_ATTEMPTS the item is parked for a person.
Every move is audited in the job's partition and logged.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from shared import audit, deadletter, defaults, messages
from shared.config import AppSettings
from shared.errors import ConfigError
from shared.messages import MessageError, PageMessage, WriteMessage, WriteRow
from shared.pipeline.runtime import Runtime, runtime
from shared.telemetry import log_event

log = logging.getLogger("pipeline.replay")

_FILTER_KEYS = ("job_id", "connection", "entity", "record_key", "since", "dry_run")


@dataclass(frozen=True)
class ReplayFilter:
    """Which dead-lettered records to replay; empty fields match everything."""

    job_id: str | None = None
    connection: str | None = None
    entity: str | None = None
    record_key: str | None = None
    since: datetime | None = None
    dry_run: bool = False

    @classmethod
    def from_params(cls, params: dict[str, str]) -> ReplayFilter:
        unknown = sorted(set(params) - set(_FILTER_KEYS) - {"code"})
        if unknown:
            raise ConfigError(f"unknown replay parameter(s) {unknown}; allowed: {list(_FILTER_KEYS)}")
        since = None
        if params.get("since"):
            try:
                since = datetime.fromisoformat(params["since"].replace("Z", "+00:00"))
            except ValueError:
                raise ConfigError("'since' must be an ISO 8601 timestamp, e.g. 2026-11-27T08:00:00Z") from None
        dry_run = params.get("dry_run", "false").lower()
        if dry_run not in {"true", "false", "1", "0"}:
            raise ConfigError("'dry_run' must be true or false")
        entity = params.get("entity") or None
        if entity not in (None, "supplier", "customer"):
            raise ConfigError("'entity' must be supplier or customer")
        return cls(job_id=params.get("job_id") or None, connection=params.get("connection") or None,
                   entity=entity, record_key=params.get("record_key") or None, since=since,
                   dry_run=dry_run in {"true", "1"})

    def matches(self, dead: deadletter.DeadRecord) -> bool:
        if self.job_id and dead.job_id != self.job_id:
            return False
        if self.entity and dead.entity != self.entity:
            return False
        if self.record_key and self.record_key not in (dead.source_key, dead.source_key.rsplit("|", 1)[-1]):
            return False
        if self.since and dead.created_at:
            created = datetime.fromisoformat(dead.created_at.replace("Z", "+00:00"))
            if created < self.since:
                return False
        return True


@dataclass
class ReplayReport:
    """What a replay did (or, for a dry run, would do)."""

    dry_run: bool = False
    matched: int = 0
    replayed: int = 0
    parked: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay(settings: AppSettings, selection: ReplayFilter) -> ReplayReport:
    """Send matching dead-lettered records back to their origin queue (or park those replayed too often)."""
    rt = runtime(settings)
    started = time.monotonic()
    report = ReplayReport(dry_run=selection.dry_run)
    limit = settings.replay_max_attempts
    for dead, row in deadletter.iter_dead(rt.deadletter, selection.connection):
        if not selection.matches(dead):
            continue
        report.matched += 1
        item = {"connection": dead.connection, "entity": dead.entity, "record_key": dead.source_key,
                "stage": dead.stage, "job_id": dead.job_id, "reason": dead.reason, "code": dead.code,
                "replay_count": dead.replay_count}
        if len(report.items) < defaults.REPLAY_REPORT_ITEMS:
            report.items.append(item)
        if selection.dry_run:
            continue
        if dead.replay_count >= limit:
            deadletter.set_status(rt.deadletter, row, deadletter.STATUS_PARKED,
                                  parked_reason=f"replayed {dead.replay_count} times (limit {limit})")
            _audit_move(rt, dead, "parked", "http")
            report.parked += 1
            continue
        target = _send_record(rt, dead)
        deadletter.set_status(rt.deadletter, row, deadletter.STATUS_REPLAYED, replayed_to=target)
        _audit_move(rt, dead, "replayed", "http", target)
        report.replayed += 1
    log_event(log, "replay.completed", trigger="http", outcome="ok", connection=selection.connection,
              dry_run=selection.dry_run, matched=report.matched, replayed=report.replayed, parked=report.parked,
              duration_ms=int((time.monotonic() - started) * 1000))
    return report


def _send_record(rt: Runtime, dead: deadletter.DeadRecord) -> str:
    count = dead.replay_count + 1
    if dead.stage == deadletter.STAGE_TRANSFORM:
        rt.send(defaults.PAGES_QUEUE, PageMessage(
            job_id=dead.job_id, connection=dead.connection, product=dead.product, entity=dead.entity, page=0,
            key_field=dead.key_field, records=[dead.payload], polled_at="", replay_count=count))
        return defaults.PAGES_QUEUE
    row = WriteRow(**dead.payload)
    rt.send(defaults.WRITES_QUEUE, WriteMessage(
        job_id=dead.job_id, connection=dead.connection, entity=dead.entity, table=row.table,
        batch_id=f"replay-{uuid.uuid4().hex[:24]}", rows=[row], replay_count=count, record_hashes=True))
    return defaults.WRITES_QUEUE


def _audit_move(rt: Runtime, dead: deadletter.DeadRecord, action: str, trigger: str, target: str = "") -> None:
    audit.write_move(rt.audit, dead.job_id, uuid.uuid4().hex[:12], action=action, trigger=trigger,
                     source=f"{defaults.DEADLETTER_TABLE}:{dead.stage}", target=target, record_key=dead.source_key,
                     replay_count=dead.replay_count)
    event = "deadletter.replayed" if action == "replayed" else "deadletter.parked"
    fields: dict[str, Any] = {"job_id": dead.job_id, "connection": dead.connection, "entity": dead.entity,
                              "source": defaults.DEADLETTER_TABLE, "record_key": dead.source_key,
                              "replay_count": dead.replay_count, "trigger": trigger}
    if action == "replayed":
        fields["target"] = target
    log_event(log, event, **fields)


def drain_poison_queues(settings: AppSettings) -> ReplayReport:
    """Move every message of the ``*-poison`` queues back to its origin queue, or park it past the limit."""
    rt = runtime(settings)
    started = time.monotonic()
    report = ReplayReport()
    for origin in (defaults.PAGES_QUEUE, defaults.WRITES_QUEUE):
        _drain_one(rt, origin, report)
    dead, parked = deadletter.count_waiting(rt.deadletter)
    log_event(log, "queue.depth", target=defaults.DEADLETTER_TABLE, store="table", depth=dead, parked=parked)
    log_event(log, "replay.completed", trigger="timer", outcome="ok", matched=report.matched,
              replayed=report.replayed, parked=report.parked, duration_ms=int((time.monotonic() - started) * 1000))
    return report


def _drain_one(rt: Runtime, origin: str, report: ReplayReport) -> None:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient

    base = rt.queue(origin)
    poison = QueueClient(base.url.rsplit("/", 1)[0], origin + defaults.POISON_SUFFIX, credential=base.credential)
    limit = rt.settings.replay_max_attempts
    try:
        for _ in range(defaults.REPLAY_DRAIN_MAX_MESSAGES // 32 + 1):
            batch = list(poison.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=300))
            if not batch:
                break
            for msg in batch:
                report.matched += 1
                _move_poison(rt, origin, msg, limit, report)
                poison.delete_message(msg.id, msg.pop_receipt)
        depth = poison.get_queue_properties().approximate_message_count
    except ResourceNotFoundError:
        depth = 0  # no poison queue yet: nothing ever failed five times
    log_event(log, "queue.depth", target=origin + defaults.POISON_SUFFIX, store="queue", depth=depth)


def _move_poison(rt: Runtime, origin: str, msg: Any, limit: int, report: ReplayReport) -> None:
    raw = msg.content if isinstance(msg.content, str) else msg.content.decode()
    try:
        doc = messages.decode_document(base64.b64decode(raw, validate=True), rt.get_blob)
        messages.parse(doc)
    except (binascii.Error, ValueError, MessageError) as exc:
        reason = exc.reason if isinstance(exc, MessageError) else "not base64"
        deadletter.park_message(rt.deadletter, origin, msg.id, raw, f"undecodable poison message: {reason}", 0)
        report.parked += 1
        return
    count = int(doc.get("replay_count") or 0)
    ids = {"job_id": str(doc.get("job_id")), "connection": str(doc.get("connection")), "entity": str(doc.get("entity"))}
    if count >= limit:
        deadletter.park_message(rt.deadletter, origin, msg.id, raw, f"replayed {count} times (limit {limit})", count)
        audit.write_move(rt.audit, ids["job_id"], msg.id, action="parked", trigger="timer",
                         source=origin + defaults.POISON_SUFFIX, replay_count=count)
        log_event(log, "deadletter.parked", **ids, source=origin + defaults.POISON_SUFFIX, replay_count=count,
                  trigger="timer")
        report.parked += 1
        return
    encoded = messages.encode_document(messages.with_replay_count(doc, count + 1), rt.put_blob)
    rt.queue(origin).send_message(encoded.body)
    rt.delete_blob(messages.claim_blob(base64.b64decode(raw)))
    audit.write_move(rt.audit, ids["job_id"], msg.id, action="replayed", trigger="timer",
                     source=origin + defaults.POISON_SUFFIX, target=origin, replay_count=count + 1)
    log_event(log, "deadletter.replayed", **ids, source=origin + defaults.POISON_SUFFIX, target=origin,
              replay_count=count + 1, trigger="timer")
    report.replayed += 1
