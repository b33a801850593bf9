"""Dead-lettering from the pipeline: store the record or message with its reason, and log the event."""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import asdict
from typing import Any

from shared import deadletter, messages
from shared.errors import RecordError
from shared.messages import MessageError, PageMessage, WriteRow
from shared.pipeline.runtime import Runtime
from shared.telemetry import log_event

log = logging.getLogger("pipeline.deadletter")


def decode_or_park(rt: Runtime, queue: str, body: bytes, expected: type[Any]) -> Any | None:
    """The message of the expected kind, or None after parking an undecodable or misrouted body."""
    try:
        message = messages.decode(body, rt.get_blob)
    except MessageError as exc:
        park_undecodable(rt, queue, body, exc)
        return None
    if not isinstance(message, expected):
        park_undecodable(rt, queue, body, MessageError(f"expected a {expected.__name__}, got {message.schema}"))
        return None
    return message


def park_undecodable(rt: Runtime, queue: str, body: bytes, exc: MessageError) -> None:
    deadletter.park_message(rt.deadletter, queue, uuid.uuid4().hex, base64.b64encode(body).decode(), exc.reason, 0)
    log_event(log, "deadletter.added", job_id="unknown", connection="unknown", entity="unknown", stage="queue",
              reason=exc.reason, source=queue, level=logging.WARNING)


def dead_letter_raw(rt: Runtime, msg: PageMessage, raw: Any, source_key: str, exc: RecordError) -> None:
    dead = deadletter.DeadRecord(connection=msg.connection, entity=msg.entity, source_key=exc.key or source_key,
                                 stage=deadletter.STAGE_TRANSFORM, job_id=msg.job_id, reason=exc.reason, code=exc.code,
                                 replay_count=msg.replay_count, payload=raw, product=msg.product,
                                 key_field=msg.key_field)
    rt.deadletter.upsert_entity(deadletter.record_entity(dead))
    log_event(log, "deadletter.added", job_id=msg.job_id, connection=msg.connection, entity=msg.entity,
              stage="transform", reason=exc.reason, record_key=dead.source_key, page_id=msg.page,
              level=logging.WARNING)


def dead_letter_row(rt: Runtime, job_id: str, connection: str, entity: str, batch_id: str, row: WriteRow,
                    code: str, reason: str, replay_count: int) -> None:
    dead = deadletter.DeadRecord(connection=connection, entity=entity, source_key=row.ref,
                                 stage=deadletter.STAGE_WRITE, job_id=job_id, reason=reason, code=code,
                                 table=row.table, batch_id=batch_id, replay_count=replay_count,
                                 payload=asdict(row))
    rt.deadletter.upsert_entity(deadletter.record_entity(dead))
    log_event(log, "deadletter.added", job_id=job_id, connection=connection, entity=entity, stage="write",
              reason=f"{code} {reason}".strip(), record_key=row.ref, batch_id=batch_id or None, level=logging.WARNING)
