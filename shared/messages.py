"""Queue message schemas (versioned JSON) and their encoding: gzip inline, or a claim check when too large.

What the Functions host hands a queue function is the base64-decoded message body: for us a gzip stream of
UTF-8 JSON. A page of 1,000 CloudSuite records or a 256 KB Dataverse batch is several times larger than the
49,152 raw bytes a 64 KB (base64) queue message can carry, but JSON compresses 5-10x, so most messages
travel inline; a body still too large after compression is stored as a blob in AzureWebJobsStorage and the
message carries a pointer (``claim``). docs/architecture.md has the schemas and the measurements behind this.

Envelope (all kinds)::

    {"schema": "cloudsuite-sync/page" | "cloudsuite-sync/write", "version": 1, "job_id": ..., "connection": ...,
     "entity": ..., "replay_count": 0, ...kind fields...}
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any

from shared import defaults, jsonz
from shared.errors import RecordError

PAGE_SCHEMA = "cloudsuite-sync/page"
WRITE_SCHEMA = "cloudsuite-sync/write"
CLAIM_SCHEMA = "cloudsuite-sync/claim"
VERSION = 1


class MessageError(RecordError):
    """A message that cannot be decoded or has the wrong schema: it is dead-lettered, never retried."""


@dataclass(frozen=True)
class PageMessage:
    """One page of raw CloudSuite records for transform_records."""

    job_id: str
    connection: str
    product: str
    entity: str
    page: int
    key_field: str
    records: list[dict[str, Any]]
    polled_at: str
    reconcile: bool = False
    replay_count: int = 0
    schema: str = PAGE_SCHEMA
    version: int = VERSION


@dataclass(frozen=True)
class WriteRow:
    """One mapped Dataverse row inside a write batch."""

    table: str
    key: dict[str, str]
    payload: dict[str, Any]
    ref: str  # the record's source key: what the audit trail and dead-letter table are keyed by
    hash: str
    parent_key: str | None = None
    source_changed_at: str | None = None


@dataclass(frozen=True)
class WriteMessage:
    """One Dataverse request's worth of rows (same table) for write_dataverse."""

    job_id: str
    connection: str
    entity: str
    table: str
    batch_id: str
    rows: list[WriteRow]
    page: int = 0
    polled_at: str = ""
    record_hashes: bool = False  # replays and retries: the writer records the rows' hashes (transform did not)
    defer_count: int = 0
    replay_count: int = 0
    schema: str = WRITE_SCHEMA
    version: int = VERSION


Message = PageMessage | WriteMessage


def _shallow(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict without ``asdict``'s deep copy (a third of a page's transform time)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _document(message: Message) -> dict[str, Any]:
    doc = _shallow(message)
    if isinstance(message, WriteMessage):
        doc["rows"] = [_shallow(row) for row in message.rows]
    return doc




def encoded_size(body: bytes) -> int:
    """Size of ``body`` once base64-encoded for the queue (what the 64 KB limit is measured on)."""
    return 4 * ((len(body) + 2) // 3)


def fits_queue(body: bytes) -> bool:
    return encoded_size(body) <= defaults.QUEUE_MESSAGE_MAX_BYTES


BlobPut = Callable[[str, bytes], None]
BlobGet = Callable[[str], bytes]


@dataclass
class Encoded:
    """A message ready to send: its body, and the claim-check blob name when one was needed."""

    body: bytes
    blob: str | None = None
    raw_bytes: int = 0


def encode(message: Message, put_blob: BlobPut) -> Encoded:
    """gzip the message; when still too large for a queue message, store it as a blob and send a pointer."""
    raw = jsonz.to_json(_document(message))
    body = jsonz.compress(raw)
    if fits_queue(body):
        return Encoded(body=body, raw_bytes=len(raw))
    blob = f"{message.connection}/{message.job_id}/{uuid.uuid4().hex}.json.gz"
    put_blob(blob, body)
    pointer = {"schema": CLAIM_SCHEMA, "version": VERSION, "blob": blob, "kind": message.schema,
               "job_id": message.job_id, "connection": message.connection, "entity": message.entity}
    return Encoded(body=jsonz.dumps(pointer), blob=blob, raw_bytes=len(raw))


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        doc = jsonz.loads(body)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise MessageError(f"message body is not gzip/JSON: {type(exc).__name__}", code="message.undecodable") from None
    if not isinstance(doc, dict):
        raise MessageError("message body is not a JSON object", code="message.undecodable")
    return doc


def claim_blob(body: bytes) -> str | None:
    """The claim-check blob a message points to, if any (to delete it once the message is done)."""
    doc = _load_json(body)
    return str(doc["blob"]) if doc.get("schema") == CLAIM_SCHEMA else None


def decode_document(body: bytes, get_blob: BlobGet) -> dict[str, Any]:
    """The message's JSON document, following a claim check to its blob."""
    doc = _load_json(body)
    if doc.get("schema") == CLAIM_SCHEMA:
        doc = _load_json(get_blob(str(doc["blob"])))
    return doc


def _build(cls: type, doc: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in doc]
    if missing:
        raise MessageError(f"{doc.get('schema')} message lacks field(s) {missing}", code="message.invalid")
    return cls(**{k: v for k, v in doc.items() if k in names})


def parse(doc: dict[str, Any]) -> Message:
    """Build the typed message from its document; unknown schema or version is a MessageError."""
    schema, version = doc.get("schema"), doc.get("version")
    if version != VERSION:
        raise MessageError(f"message schema {schema!r} version {version!r} is not supported (expected {VERSION})",
                           code="message.version")
    try:
        if schema == PAGE_SCHEMA:
            return _build(PageMessage, doc)
        if schema == WRITE_SCHEMA:
            rows = [WriteRow(**row) for row in doc.get("rows", [])]
            return _build(WriteMessage, {**doc, "rows": rows})
    except TypeError as exc:
        raise MessageError(f"{schema} message is malformed: {exc}", code="message.invalid") from None
    raise MessageError(f"unknown message schema {schema!r}", code="message.schema")


def decode(body: bytes, get_blob: BlobGet) -> Message:
    return parse(decode_document(body, get_blob))


def with_replay_count(doc: dict[str, Any], replay_count: int) -> dict[str, Any]:
    return {**doc, "replay_count": replay_count}


def encode_document(doc: dict[str, Any], put_blob: BlobPut) -> Encoded:
    """Encode an already-parsed document (replays): the same inline/claim-check rule as ``encode``."""
    return encode(parse(doc), put_blob)
