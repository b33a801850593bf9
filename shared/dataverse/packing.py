"""Packing: validate and de-duplicate records, encode each operation once, and cut them into requests that
respect every limit, measured on the exact bytes that will be sent.

The pipeline's transform step calls ``plan_requests`` to pre-pack write batches; the writer calls the same code
at send time (its environment may need ``$batch``, whose encoding is larger), so the two can never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shared import defaults
from shared.dataverse import multipart
from shared.dataverse.keys import KeyValueError, check_key_value, key_path
from shared.dataverse.model import (
    CODE_INVALID_KEY,
    CODE_INVALID_RECORD,
    CODE_RECORD_TOO_LARGE,
    CODE_SUPERSEDED,
    CONTACT_PARENT_NAV,
    PARENT_TABLE,
    TABLES,
    Limits,
    Mode,
    RecordOutcome,
    Status,
    UpsertRecord,
)

UPSERT_MULTIPLE_OPEN = b'{"Targets":['
UPSERT_MULTIPLE_CLOSE = b"]}"


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON: the one serialisation used for measuring and for sending."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


@dataclass(frozen=True)
class Encoded:
    """One record encoded for one mode; ``data`` is the exact bytes it adds to a request body."""

    record: UpsertRecord
    data: bytes


@dataclass(frozen=True)
class Encoder:
    """Encodes records of one environment: knows the Web API path and the parent account's key column."""

    api_path: str = defaults.DATAVERSE_API_PATH  # absolute path, used by $batch part request lines
    parent_key_column: str = defaults.DATAVERSE_KEY_COLUMN
    return_representation: bool = True  # $batch parts ask for 201/200 + id (created vs updated for the audit)

    def body_fields(self, record: UpsertRecord) -> dict[str, Any]:
        """The columns to send: payload minus key columns (never repeated), plus the parent binding."""
        fields = {k: v for k, v in record.payload.items() if k not in record.key}
        if record.parent_key is not None:
            parent_set = TABLES[PARENT_TABLE][0]
            fields[f"{CONTACT_PARENT_NAV}@odata.bind"] = "/" + key_path(
                parent_set, {self.parent_key_column: record.parent_key})
        return fields

    def upsert_multiple_target(self, record: UpsertRecord) -> bytes:
        entity_set = TABLES[record.table][0]
        target = {"@odata.type": f"Microsoft.Dynamics.CRM.{record.table}",
                  "@odata.id": key_path(entity_set, record.key), **self.body_fields(record)}
        return dumps(target)

    def patch_url(self, record: UpsertRecord) -> str:
        entity_set, id_column = TABLES[record.table]
        url = f"{self.api_path}/{key_path(entity_set, record.key)}"
        return f"{url}?$select={id_column}" if self.return_representation else url

    def batch_part(self, record: UpsertRecord) -> bytes:
        headers = [("Prefer", "return=representation")] if self.return_representation else []
        return multipart.part_bytes("PATCH", self.patch_url(record), dumps(self.body_fields(record)), headers)

    def encode(self, record: UpsertRecord, mode: Mode) -> bytes:
        if mode is Mode.BATCH:
            return self.batch_part(record)
        return self.upsert_multiple_target(record)


def request_size(mode: Mode, sizes: Sequence[int]) -> int:
    """Exact body size of one request holding operations of these encoded sizes."""
    if mode is Mode.BATCH:
        return multipart.body_size(sizes)
    return len(UPSERT_MULTIPLE_OPEN) + sum(sizes) + max(len(sizes) - 1, 0) + len(UPSERT_MULTIPLE_CLOSE)


def upsert_multiple_body(targets: Iterable[bytes]) -> bytes:
    """The UpsertMultiple body for already-encoded targets (same bytes ``request_size`` measured)."""
    return UPSERT_MULTIPLE_OPEN + b",".join(targets) + UPSERT_MULTIPLE_CLOSE


@dataclass(frozen=True)
class RequestPlan:
    """Requests to send (each a tuple of encoded operations, in order) and records rejected before sending
    (with their outcome: FAILED with the reason, or SUPERSEDED by a later record with the same key)."""

    mode: Mode
    requests: tuple[tuple[Encoded, ...], ...]
    rejected: tuple[tuple[UpsertRecord, RecordOutcome], ...]

    @property
    def batches(self) -> list[list[UpsertRecord]]:
        return [[op.record for op in request] for request in self.requests]

    def sizes(self) -> list[int]:
        return [request_size(self.mode, [len(op.data) for op in request]) for request in self.requests]


def validate(record: UpsertRecord, key_columns: Sequence[str] | None = None) -> tuple[str, str] | None:
    """(code, reason) why ``record`` cannot be sent, or None when it can."""
    if record.table not in TABLES:
        return CODE_INVALID_RECORD, f"table '{record.table}' is not written by this connector (only {sorted(TABLES)})"
    if record.parent_key is not None and record.table != "contact":
        return CODE_INVALID_RECORD, "only contacts bind a parent account"
    if not record.key:
        return CODE_INVALID_KEY, "record has no alternate-key value"
    if key_columns is not None and sorted(record.key) != sorted(key_columns):
        return CODE_INVALID_KEY, (f"record key columns {sorted(record.key)} do not match the configured key "
                                  f"{sorted(key_columns)}")
    try:
        for column, value in record.key.items():
            check_key_value(column, value)
        if record.parent_key is not None:
            check_key_value("parent account key", record.parent_key)
    except KeyValueError as exc:
        return CODE_INVALID_KEY, str(exc)
    for name in record.payload:
        if name.startswith("@odata."):
            return CODE_INVALID_RECORD, f"payload field '{name}' is reserved for the writer"
    return None


def _reject(record: UpsertRecord, code: str, message: str) -> tuple[UpsertRecord, RecordOutcome]:
    return record, RecordOutcome(ref=record.ref, table=record.table, status=Status.FAILED, code=code, message=message)


def dedupe(records: Iterable[UpsertRecord]) -> tuple[list[UpsertRecord], list[tuple[UpsertRecord, RecordOutcome]]]:
    """Keep the last record per (table, key) in first-seen order; earlier ones become SUPERSEDED outcomes."""
    ordered = list(records)
    last: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for index, record in enumerate(ordered):
        last[record.identity] = index
    kept, superseded = [], []
    for index, record in enumerate(ordered):
        winner = last[record.identity]
        if winner == index:
            kept.append(record)
        else:
            superseded.append((record, RecordOutcome(
                ref=record.ref, table=record.table, status=Status.SUPERSEDED, code=CODE_SUPERSEDED,
                message=f"a later record with the same key ({ordered[winner].ref}) was written instead")))
    return kept, superseded


def pack(encoded: Iterable[Encoded], limits: Limits, mode: Mode,
         too_large: list[Encoded] | None = None) -> Iterator[tuple[Encoded, ...]]:
    """Cut encoded operations, in order, into requests within ``limits`` (lazily: a request is yielded as soon
    as it is full). Operations that fit no request are appended to ``too_large``."""
    current: list[Encoded] = []
    empty_size = request_size(mode, [])
    current_size = empty_size
    for op in encoded:
        if request_size(mode, [len(op.data)]) > limits.max_request_bytes:
            if too_large is not None:
                too_large.append(op)
            continue
        # Adding one operation adds its bytes plus one separator (',' or a multipart delimiter line).
        added = len(op.data) + (multipart.delimiter_size() if mode is Mode.BATCH else (1 if current else 0))
        if current and (len(current) >= limits.max_operations or current_size + added > limits.max_request_bytes):
            yield tuple(current)
            current, current_size = [], empty_size
            added = len(op.data) + (multipart.delimiter_size() if mode is Mode.BATCH else 0)
        current.append(op)
        current_size += added
    if current:
        yield tuple(current)


class PlanStream:
    """A plan produced lazily: iterate for requests (encoding runs as you go); ``rejected`` is complete once
    the iteration has finished. Validation and de-duplication (last one wins) happen up front."""

    def __init__(self, records: Iterable[UpsertRecord], limits: Limits, mode: Mode, encoder: Encoder,
                 key_columns: dict[str, Sequence[str]] | None = None) -> None:
        if mode is Mode.AUTO:
            raise ValueError("plan a concrete mode (upsert_multiple or batch), not auto")
        self.mode, self.limits, self.encoder = mode, limits, encoder
        self.rejected: list[tuple[UpsertRecord, RecordOutcome]] = []
        valid: list[UpsertRecord] = []
        for record in records:
            problem = validate(record, (key_columns or {}).get(record.table))
            if problem:
                self.rejected.append(_reject(record, *problem))
            else:
                valid.append(record)
        self._kept, superseded = dedupe(valid)
        self.rejected.extend(superseded)

    def _encoded(self, table: str) -> Iterator[Encoded]:
        for record in self._kept:
            if record.table != table:
                continue
            try:
                yield Encoded(record, self.encoder.encode(record, self.mode))
            except (TypeError, ValueError) as exc:
                self.rejected.append(_reject(record, CODE_INVALID_RECORD, f"payload is not JSON-serialisable: {exc}"))

    def __iter__(self) -> Iterator[tuple[Encoded, ...]]:
        for table in TABLES:  # accounts before contacts: contacts bind their parent account
            too_large: list[Encoded] = []
            yield from pack(self._encoded(table), self.limits, self.mode, too_large)
            for op in too_large:
                self.rejected.append(_reject(op.record, CODE_RECORD_TOO_LARGE,
                                             f"record needs {request_size(self.mode, [len(op.data)])} bytes in one "
                                             f"request; the limit is {self.limits.max_request_bytes}"))


def plan(records: Iterable[UpsertRecord], limits: Limits, mode: Mode, encoder: Encoder,
         key_columns: dict[str, Sequence[str]] | None = None) -> RequestPlan:
    """Validate, de-duplicate (last wins), encode and pack ``records`` (any tables, order kept per table)."""
    stream = PlanStream(records, limits, mode, encoder, key_columns)
    requests = tuple(stream)
    return RequestPlan(mode=mode, requests=requests, rejected=tuple(stream.rejected))


def plan_requests(table: str, records: Iterable[UpsertRecord], limits: Limits | None = None, *,
                  mode: Mode | str = Mode.UPSERT_MULTIPLE, parent_key_column: str = defaults.DATAVERSE_KEY_COLUMN,
                  api_path: str = defaults.DATAVERSE_API_PATH) -> RequestPlan:
    """Pre-pack one table's records for the pipeline: ``plan.batches`` are the write batches (one request
    each), ``plan.rejected`` the records to dead-letter now (bad key, too large) or skip (superseded)."""
    records = list(records)
    others = sorted({r.table for r in records if r.table != table})
    if others:
        raise ValueError(f"plan_requests('{table}', ...) got records of {others}")
    mode = Mode(mode)
    if mode is Mode.AUTO:
        mode = Mode.UPSERT_MULTIPLE
    encoder = Encoder(api_path=api_path, parent_key_column=parent_key_column)
    return plan(records, limits or Limits(), mode, encoder)
