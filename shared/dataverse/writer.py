"""The production Dataverse writer: upsert accounts and contacts by alternate key, land every good record,
isolate every bad one with Dataverse's own reason, and use as few requests as the limits allow.

UpsertMultiple is the default (fewest bytes, one request per <= 256 KB / 1000 records). It is all-or-nothing,
so a request refused because of its data is re-sent as ``$batch`` with ``odata.continue-on-error``, which
applies every good record and returns each bad one's error. ``$batch`` is also the mode where UpsertMultiple
is unavailable (detected once per environment) or configured.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

import requests
from azure.core.credentials import TokenCredential

from shared import defaults
from shared.dataverse import flow, multipart
from shared.dataverse.auth import credential_for
from shared.dataverse.client import DataverseError, WebApiClient, backoff, error_body, parse_error
from shared.dataverse.config import DataverseConfig
from shared.dataverse.flow import concurrency_for, gate_for, in_flight_for
from shared.dataverse.keys import literal
from shared.dataverse.model import (
    CODE_INVALID_RECORD,
    CODE_KEY_NOT_FOUND,
    TABLES,
    Mode,
    RecordOutcome,
    Status,
    UpsertRecord,
)
from shared.dataverse.packing import Encoded, Encoder, PlanStream, RequestPlan, plan, upsert_multiple_body
from shared.errors import AuthError, TransientError
from shared.redaction import redact

log = logging.getLogger(__name__)

_GUID = re.compile(r"\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$")
_STATUS_OF_PART = {200: Status.UPDATED, 201: Status.CREATED, 204: Status.UPSERTED}
# Dataverse answers an unknown bound action with this (the environment lacks UpsertMultiple after all).
_CODE_RESOURCE_NOT_FOUND = "0x8006088a"

_capabilities_lock = threading.Lock()
_capabilities: dict[tuple[str, str], tuple[bool, float]] = {}


def supports_upsert_multiple(client: WebApiClient, table: str) -> bool:
    """Whether ``table`` supports UpsertMultiple in this environment (sdkmessagefilters; cached per process)."""
    cache_key = (client.config.url.lower(), table)
    with _capabilities_lock:
        cached = _capabilities.get(cache_key)
    if cached and time.monotonic() - cached[1] < defaults.DATAVERSE_CAPABILITY_CACHE_S:
        return cached[0]
    try:
        response = client.request("GET", "sdkmessagefilters", params={
            "$select": "sdkmessagefilterid",
            "$filter": f"sdkmessageid/name eq 'UpsertMultiple' and primaryobjecttypecode eq {literal(table)}"})
        supported = bool(response.json().get("value"))
    except (DataverseError, AuthError) as exc:
        # An app user without read access to sdkmessagefilter: try UpsertMultiple; an environment without it
        # answers 0x8006088a and the writer falls back to $batch for good.
        log.warning("cannot read sdkmessagefilters (%s); assuming UpsertMultiple on %s", exc, table)
        supported = True
    _remember_capability(client.config.url, table, supported)
    return supported


def forget_environment(url: str) -> None:
    """Forget the environment's learned pace, concurrency and capabilities (tests reuse loopback ports)."""
    flow.forget(url)
    with _capabilities_lock:
        for key in [k for k in _capabilities if k[0] == url.lower()]:
            del _capabilities[key]


def _remember_capability(url: str, table: str, supported: bool) -> None:
    with _capabilities_lock:
        _capabilities[(url.lower(), table)] = (supported, time.monotonic())


def _failed(record: UpsertRecord, code: str, message: str) -> RecordOutcome:
    """A record Dataverse refused; a contact whose parent account is missing is deferred, not failed."""
    message = redact(message)
    if record.parent_key is not None and code == CODE_KEY_NOT_FOUND:
        return RecordOutcome(record.ref, record.table, Status.DEFERRED, code=code, retryable=True,
                             message=f"parent account '{record.parent_key}' does not exist yet: {message}")
    return RecordOutcome(record.ref, record.table, Status.FAILED, code=code, message=message)


class DataverseWriter:
    """Upserts records into one Dataverse environment. Thread-safe; create one per connection and reuse it."""

    def __init__(self, config: DataverseConfig, credential: TokenCredential | None = None,
                 session: requests.Session | None = None, *, secret: str | None = None) -> None:
        self.config = config
        renew = None if credential else lambda: credential_for(config, secret, renew=True)
        self.client = WebApiClient(config, credential or credential_for(config, secret), session,
                                   gate=gate_for(config.url),
                                   concurrency=concurrency_for(config.url, config.max_concurrency),
                                   renew_credential=renew)
        self.encoder = Encoder(api_path=config.api_path, parent_key_column=config.key_column("account"))
        self._in_flight = in_flight_for(config.url)

    @property
    def requests_sent(self) -> int:
        """HTTP attempts so far (throttled and retried ones included), for audit rows and logs."""
        return self.client.requests_sent

    def close(self) -> None:
        self.client.close()

    # --- planning -----------------------------------------------------------------------------------
    def mode_for(self, table: str) -> Mode:
        """The concrete mode for ``table``: configured, or detected (auto)."""
        if self.config.mode is not Mode.AUTO:
            return self.config.mode
        return Mode.UPSERT_MULTIPLE if supports_upsert_multiple(self.client, table) else Mode.BATCH

    def plan(self, table: str, records: Sequence[UpsertRecord]) -> RequestPlan:
        """The requests this writer would send for ``records`` of ``table`` (same packing as ``upsert``)."""
        return plan(records, self.config.limits, self.mode_for(table), self.encoder, dict(self.config.key_columns))

    # --- writing ------------------------------------------------------------------------------------
    def upsert(self, records: Iterable[UpsertRecord]) -> list[RecordOutcome]:
        """Upsert ``records`` (accounts before contacts); one outcome per record, in input order.

        Data errors come back as outcomes; ``TransientError`` (incl. ``ThrottledError``) means retry the whole
        call later (it is idempotent); ``FatalError`` means configuration or access is wrong.
        """
        records = list(records)
        position = {id(r): i for i, r in enumerate(records)}
        outcomes: dict[int, RecordOutcome] = {}

        def record(pairs: Iterable[tuple[UpsertRecord, RecordOutcome]]) -> None:
            for rec, outcome in pairs:
                outcomes[position[id(rec)]] = outcome

        workers = self.client.concurrency.cap
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataverse-write") as pool:
            earlier: list[Future[list[tuple[UpsertRecord, RecordOutcome]]]] = []
            for table in TABLES:
                group = [r for r in records if r.table == table]
                if not group:
                    continue
                mode = self.mode_for(table)
                stream = PlanStream(group, self.config.limits, mode, self.encoder, dict(self.config.key_columns))
                requests: Iterable[tuple[Encoded, ...]] = stream
                if earlier:
                    # Contacts bind accounts: encode them while the accounts are in flight, send once they landed.
                    requests = list(stream)
                    record(_gather(earlier))
                # Requests go out as soon as they are packed: encoding overlaps sending.
                earlier = [pool.submit(self._send_planned, mode, ops) for ops in requests]
                record(stream.rejected)
            record(_gather(earlier))
        for i, rec in enumerate(records):
            if i not in outcomes:  # a table this connector does not write
                outcomes[i] = RecordOutcome(rec.ref, rec.table, Status.FAILED, code=CODE_INVALID_RECORD,
                                            message=f"table '{rec.table}' is not written by this connector")
        return [outcomes[i] for i in range(len(records))]

    def _send_planned(self, mode: Mode, ops: tuple[Encoded, ...]) -> list[tuple[UpsertRecord, RecordOutcome]]:
        with self._in_flight.hold(op.record.identity for op in ops):
            if mode is Mode.UPSERT_MULTIPLE:
                return self._upsert_multiple(ops)
            return self._batch(ops)

    def _upsert_multiple(self, ops: Sequence[Encoded]) -> list[tuple[UpsertRecord, RecordOutcome]]:
        table = ops[0].record.table
        entity_set = TABLES[table][0]
        body = upsert_multiple_body(op.data for op in ops)
        self._check_size(body, len(ops))
        try:
            self.client.request("POST", f"{entity_set}/Microsoft.Dynamics.CRM.UpsertMultiple", body=body,
                                headers={"Content-Type": "application/json; charset=utf-8"})
        except DataverseError as exc:
            if exc.code == _CODE_RESOURCE_NOT_FOUND:
                _remember_capability(self.config.url, table, False)
            if exc.status == 413 and len(ops) > 1:  # the server's limit is below ours: halve and go on
                half = len(ops) // 2
                return self._upsert_multiple(ops[:half]) + self._upsert_multiple(ops[half:])
            if len(ops) == 1 and exc.code != _CODE_RESOURCE_NOT_FOUND:
                return [(ops[0].record, _failed(ops[0].record, exc.code, exc.dv_message))]
            # All-or-nothing: nothing was written. $batch applies the good ones and names the bad ones.
            log.info("UpsertMultiple of %d %s records refused (%s); re-sending as $batch", len(ops), table, exc.code)
            return self._batch_records([op.record for op in ops])
        return [(op.record, RecordOutcome(op.record.ref, table, Status.UPSERTED)) for op in ops]

    def _batch_records(self, records: Sequence[UpsertRecord]) -> list[tuple[UpsertRecord, RecordOutcome]]:
        """Re-encode records for $batch (larger than UpsertMultiple) and send them in as many batches as needed."""
        request_plan = plan(records, self.config.limits, Mode.BATCH, self.encoder)
        results = list(request_plan.rejected)
        for ops in request_plan.requests:
            results.extend(self._batch(ops))
        return results

    def _batch(self, ops: Sequence[Encoded]) -> list[tuple[UpsertRecord, RecordOutcome]]:
        """Send ops as one $batch; re-send parts that failed transiently; per-record outcomes."""
        results: list[tuple[UpsertRecord, RecordOutcome]] = []
        pending = list(ops)
        attempt = 0
        while pending:
            answered = self._batch_once(pending)
            retry: list[Encoded] = []
            for op, part in zip(pending, answered + [None] * (len(pending) - len(answered)), strict=True):
                if part is None or part.status == 429 or part.status >= 500:
                    retry.append(op)
                else:
                    results.append((op.record, self._part_outcome(op.record, part)))
            if not retry:
                break
            attempt += 1
            if attempt > defaults.DATAVERSE_TRANSIENT_PART_RETRIES:
                raise TransientError(f"{len(retry)} $batch operations still failing transiently after "
                                     f"{attempt} attempts")
            self.client.sleep(backoff(attempt))
            pending = retry
        return results

    def _batch_once(self, ops: Sequence[Encoded]) -> list[multipart.PartResponse]:
        boundary = multipart.new_boundary()
        body = multipart.build_body((op.data for op in ops), boundary)
        self._check_size(body, len(ops))
        try:
            response = self.client.request("POST", "$batch", body=body, headers={
                "Content-Type": multipart.content_type(boundary), "Prefer": "odata.continue-on-error"})
        except DataverseError as exc:
            # With continue-on-error only a malformed request is refused as a whole: isolate it by halving.
            if len(ops) == 1:
                return [multipart.PartResponse(exc.status, {}, error_body(exc.code, exc.dv_message))]
            half = len(ops) // 2
            return self._batch_once(ops[:half]) + self._batch_once(ops[half:])
        try:
            return multipart.parse_response(response.content, response.headers.get("Content-Type", ""))
        except multipart.MultipartError as exc:
            raise TransientError(f"unreadable $batch response: {exc}") from None

    def _part_outcome(self, record: UpsertRecord, part: multipart.PartResponse) -> RecordOutcome:
        status = _STATUS_OF_PART.get(part.status)
        if status is None:
            code, message = parse_error(part.status, part.body)
            return _failed(record, code, message or f"HTTP {part.status}")
        id_column = TABLES[record.table][1]
        body = part.json()
        record_id = body.get(id_column) if isinstance(body, dict) else None
        if record_id is None:
            match = _GUID.search(part.headers.get("odata-entityid", ""))
            record_id = match.group(1).lower() if match else None
        return RecordOutcome(record.ref, record.table, status, record_id=record_id)

    def _check_size(self, body: bytes, operations: int) -> None:
        # The packer measured these exact bytes; this guards the invariant against a future encoding change.
        limits = self.config.limits
        if len(body) > limits.max_request_bytes or operations > limits.max_operations:
            raise AssertionError(f"packer produced a request of {len(body)} bytes / {operations} operations")


def _gather(futures: list[Future[list[tuple[UpsertRecord, RecordOutcome]]]]
            ) -> list[tuple[UpsertRecord, RecordOutcome]]:
    """Results of every request; the first exception cancels what has not started and is raised."""
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for future in futures:
        if future in done and future.exception() is not None:
            for other in pending:
                other.cancel()
            raise future.exception()  # type: ignore[misc]
    return [pair for future in futures for pair in future.result()]
