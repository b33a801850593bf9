"""Structured log events as one ``key=value`` line each, so Application Insights ``traces`` can be queried with KQL.

The classic Python worker forwards only a record's level, message, logger name and invocation id (``extra={}`` is
dropped), so the fields travel inside the message::

    event=write.completed job_id=20261127T0730Z-7f3a connection=acme-m3 entity=supplier batch_id=b-0003 written=98

Rules (KQL: ``parse-kv message as (...) with (pair_delimiter=' ', kv_delimiter='=', quote='"', escape='\\\\')``):
``event`` comes first, then the event's fields in catalogue order; ``None`` is left out; values with a space,
quote, ``=`` or backslash are double-quoted with ``\\`` escapes; every value passes through ``shared.redaction``.
``EVENTS`` is the catalogue (docs/telemetry.md describes it; a test keeps the two and the queries in step).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum

from shared.redaction import redact

# Identity of the work an event is about; first in each line after ``event`` (a dead-lettered message that cannot
# be decoded has none, so the dead-letter events make them optional).
_IDENTITY = ("job_id", "connection", "entity")


@dataclass(frozen=True)
class EventSpec:
    """One event of the catalogue: what it means, the fields it must carry and the fields it may carry."""

    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field, in line order: the identity fields first, then required, then optional ones."""
        rest = tuple(f for f in self.required + self.optional if f not in _IDENTITY)
        return tuple(f for f in _IDENTITY if f in self.required + self.optional) + rest


EVENTS: Mapping[str, EventSpec] = {
    "poll.started": EventSpec(
        "A poll run of one connection and entity began.",
        (*_IDENTITY,), ("watermark_from", "past_due")),
    "poll.completed": EventSpec(
        "A poll run ended; outcome=ok means every page was enqueued and the watermark advanced.",
        (*_IDENTITY, "outcome"),
        ("read", "changed", "pages", "duration_ms", "watermark_from", "watermark", "error_class", "reason")),
    "transform.completed": EventSpec(
        "One page was mapped, validated, deduplicated and packed into write batches.",
        (*_IDENTITY, "outcome"),
        ("page_id", "dequeue_count", "mapped", "skipped_unchanged", "invalid", "batches", "duration_ms",
         "error_class", "reason")),
    "write.completed": EventSpec(
        "One write batch was sent to Dataverse (one line per batch, redeliveries included).",
        (*_IDENTITY, "outcome"),
        ("batch_id", "dequeue_count", "written", "created", "updated", "failed", "deferred", "requests",
         "throttled", "throttle_wait_s", "duration_ms", "error_class", "reason")),
    "sync.lag": EventSpec(
        "End-to-end lag of the records a batch wrote: CloudSuite change time -> Dataverse write time, in seconds.",
        (*_IDENTITY, "records", "lag_max_s"),
        ("batch_id", "lag_min_s", "lag_avg_s")),
    "token.refreshed": EventSpec(
        "An access token was requested (service=cloudsuite|dataverse); outcome=failed when it was refused.",
        ("service", "outcome"),
        ("connection", "reason", "expires_in_s", "duration_ms", "error_class")),
    "deadletter.added": EventSpec(
        "A record or message was dead-lettered (stage=transform|write|queue) with its reason.",
        ("stage", "reason"),
        (*_IDENTITY, "record_key", "batch_id", "page_id", "error_class", "records", "source")),
    "deadletter.replayed": EventSpec(
        "A dead-lettered message or record was sent back to its origin queue (dry_run=true: would have been).",
        ("source", "target"),
        (*_IDENTITY, "record_key", "replay_count", "trigger", "dry_run")),
    "deadletter.parked": EventSpec(
        "A dead-lettered item exceeded REPLAY_MAX_ATTEMPTS and waits for a person.",
        ("source", "replay_count"),
        (*_IDENTITY, "record_key", "reason", "trigger")),
    "replay.completed": EventSpec(
        "A replay run (trigger=http|timer) ended.",
        ("trigger", "outcome"),
        ("job_id", "connection", "entity", "dry_run", "matched", "replayed", "parked", "failed", "duration_ms",
         "error_class", "reason")),
    "queue.depth": EventSpec(
        "Depth of a poison queue (store=queue) or of the dead-letter table (store=table), logged by the replay timer "
        "after its drain: what is still waiting.",
        ("target", "store", "depth"),
        ("parked",)),
}

OUTCOMES = ("ok", "failed", "partial", "skipped")

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_BARE = re.compile(r'^[^\s"=\\]+$')  # anything else is quoted so that parse-kv splits it right
# A reason carrying a whole response body would bloat traces (App Insights cuts messages at 32,768 characters).
MAX_VALUE_CHARS = 1000


def _format_value(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value).lower()
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    if isinstance(value, timedelta):
        return _format_value(value.total_seconds())
    if isinstance(value, datetime):
        moment = value if value.tzinfo is None else value.astimezone(UTC)
        return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    text = redact(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + "...[truncated]"
    if _BARE.match(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    return f'"{escaped}"'


def render_event(event: str, **fields: object) -> str:
    """Return the log line of ``event``; raise ValueError for an event or field the catalogue does not know.

    Unknown names are programming errors: a typo would silently break a workbook chart or an alert.
    """
    spec = EVENTS.get(event)
    if spec is None:
        raise ValueError(f"unknown telemetry event {event!r} (add it to shared.telemetry.EVENTS and docs/telemetry.md)")
    unknown = sorted(set(fields) - set(spec.fields))
    if unknown:
        raise ValueError(f"event {event!r} has no field(s) {unknown} in the catalogue")
    missing = [name for name in spec.required if fields.get(name) is None]
    if missing:
        raise ValueError(f"event {event!r} needs field(s) {missing}")
    outcome = fields.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"event {event!r}: outcome must be one of {OUTCOMES}, got {outcome!r}")
    parts = [f"event={event}"]
    parts.extend(f"{name}={_format_value(fields[name])}" for name in spec.fields if fields.get(name) is not None)
    return " ".join(parts)


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: object) -> str:
    """Log ``event`` with ``fields`` as one key=value line and return the line (see ``render_event``)."""
    line = render_event(event, **fields)
    logger.log(level, "%s", line)
    return line


def parse_event(line: str) -> dict[str, str]:
    """Split a rendered line back into its fields (as strings), the way KQL ``parse-kv`` does; for tests and tools."""
    fields: dict[str, str] = {}
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        eq = line.find("=", i)
        if eq < 0:
            break
        key = line[i:eq]
        if not _KEY.match(key):
            raise ValueError(f"bad key {key!r} in telemetry line")
        i = eq + 1
        if i < n and line[i] == '"':
            i += 1
            out = []
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                    out.append({"n": "\n", "r": "\r"}.get(line[i], line[i]))
                else:
                    out.append(line[i])
                i += 1
            i += 1
            fields[key] = "".join(out)
        else:
            end = line.find(" ", i)
            end = n if end < 0 else end
            fields[key] = line[i:end]
            i = end
    return fields
