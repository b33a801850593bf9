"""OData $batch (multipart/mixed) for the simulator: CRLF-only parsing, change sets, Content-ID, continue-on-error."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

from localdev.dataverse.odata import DvError
from localdev.dataverse.store import API_PREFIX, Context, Txn
from localdev.dataverse.webapi import JSON_TYPE, Call, split_target
from localdev.simserver import Faults, Response

if TYPE_CHECKING:
    from localdev.dataverse.simulator import DataverseSimulator

MAX_BATCH_OPERATIONS = 1000  # documented: requests per $batch, change-set parts included
CRLF = b"\r\n"
STREAM_NOT_READABLE = ("Error identified in Payload provided by the user for Entity :'', For more information on this "
                       "error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  "
                       "InnerException : Microsoft.OData.ODataException: Stream was not readable.")


@dataclass
class Operation:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


def _boundary(content_type: str) -> str | None:
    if not content_type.lower().startswith("multipart/mixed"):
        return None
    match = re.search(r'boundary\s*=\s*"?([^";]+)"?', content_type, re.IGNORECASE)
    return match.group(1).strip() if match else None


def _headers(block: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.split(CRLF):
        if b":" in line:
            name, _, value = line.decode("utf-8", "replace").partition(":")
            out[name.strip().lower()] = value.strip()
    return out


def _split_multipart(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        raise DvError(400, "0x80048d19", STREAM_NOT_READABLE)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts
        line_end = chunk.find(CRLF)
        if line_end < 0:
            raise DvError(400, "0x80048d19", STREAM_NOT_READABLE)
        chunk = chunk[line_end + 2:]
        parts.append(chunk[:-2] if chunk.endswith(CRLF) else chunk)
    raise DvError(400, "0x0", f"The batch has no closing delimiter '--{boundary}--'.")


def _parse_http(part_headers: dict[str, str], content: bytes) -> Operation:
    if "application/http" not in part_headers.get("content-type", "").lower():
        raise DvError(400, "0x0", "A batch part must have 'Content-Type: application/http'.")
    head, _, body = content.partition(CRLF + CRLF)
    lines = head.split(CRLF)
    while lines and not lines[0].strip():
        lines.pop(0)
    request_line = lines[0].decode("utf-8", "replace").split(" ") if lines else []
    if len(request_line) != 3 or not request_line[2].startswith("HTTP/"):
        raise DvError(400, "0x0", f"Invalid request line in a batch part: {b' '.join(lines[:1])!r}")
    headers = _headers(CRLF.join(lines[1:]))
    return Operation(request_line[0].upper(), request_line[1], headers, body,
                     part_headers.get("content-id"))


def parse_batch(body: bytes, boundary: str) -> list[Operation | ChangeSet]:
    items: list[Operation | ChangeSet] = []
    for part in _split_multipart(body, boundary):
        head, _, content = part.partition(CRLF + CRLF)
        headers = _headers(head)
        inner = _boundary(headers.get("content-type", ""))
        if inner is None:
            items.append(_parse_http(headers, content))
            continue
        changeset = ChangeSet()
        for sub in _split_multipart(content, inner):
            sub_head, _, sub_content = sub.partition(CRLF + CRLF)
            sub_headers = _headers(sub_head)
            if _boundary(sub_headers.get("content-type", "")):
                raise DvError(400, "0x0", "Change sets can't be nested.")
            changeset.operations.append(_parse_http(sub_headers, sub_content))
        items.append(changeset)
    return items


def _http_part(response: Response, content_id: str | None = None) -> bytes:
    head = [b"Content-Type: application/http", b"Content-Transfer-Encoding: binary"]
    if content_id is not None:
        head.append(f"Content-ID: {content_id}".encode())
    reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {response.status} {reason}".encode()]
    lines += [f"{k}: {v}".encode() for k, v in response.headers.items()]
    return CRLF.join(head) + CRLF + CRLF + CRLF.join(lines) + CRLF + CRLF + response.body + CRLF


def _error_part(err: DvError) -> Response:
    body = json.dumps(err.body(), ensure_ascii=False, separators=(",", ":")).encode()
    return Response(err.status, body, {"REQ_ID": str(uuid.uuid4()), "Content-Type": JSON_TYPE,
                                       "OData-Version": "4.0", **err.headers})


@dataclass
class _PartTarget:
    """What a fault rule matches a $batch part on (the rule's ``path`` regex is searched in the part's target)."""

    method: str
    raw_path: str


class Batch:
    def __init__(self, sim: DataverseSimulator) -> None:
        self.sim = sim
        self.store = sim.store
        # Faults for single operations inside a $batch (the request itself succeeds; that part fails):
        # ``status`` (default body: Dataverse's generic 0x80040216) and ``retry_after`` are used, ``count`` too.
        self.part_faults = Faults()

    def handle(self, call: Call) -> Response:
        call.info.update(kind="batch", operations=0)
        if call.method != "POST":
            raise DvError(405, "0x0", "$batch only accepts POST.")
        boundary = _boundary(call.headers.get("content-type", ""))
        if boundary is None:
            raise DvError(400, "0x0", "The $batch request needs 'Content-Type: multipart/mixed; boundary=...'.")
        out_boundary = f"batchresponse_{uuid.uuid4()}"
        if re.search(rb"(?<!\r)\n", call.body):  # documented: every line must end in CRLF
            call.info["error_code"] = "0x80048d19"
            return self._response(400, out_boundary, [_http_part(_error_part(DvError(400, "0x80048d19",
                                                                                        STREAM_NOT_READABLE)))])
        items = parse_batch(call.body, boundary)
        count = sum(len(i.operations) if isinstance(i, ChangeSet) else 1 for i in items)
        call.info["operations"] = count
        if count > MAX_BATCH_OPERATIONS:
            raise DvError(400, "0x8005f103", f"The number of requests in the batch ({count}) exceeds the maximum of "
                                             f"{MAX_BATCH_OPERATIONS}.")
        continue_on_error = "odata.continue-on-error" in call.prefer
        parts: list[bytes] = []
        status = 200
        failed = 0
        for item in items:
            ok = self._changeset(call, item, parts) if isinstance(item, ChangeSet) else self._single(call, item, parts)
            if not ok:
                failed += 1
                if not continue_on_error:
                    status = 400
                    break
        call.info["failed_parts"] = failed
        response = self._response(status, out_boundary, parts)
        if continue_on_error:
            response.headers["Preference-Applied"] = "odata.continue-on-error"
        return response

    @staticmethod
    def _response(status: int, boundary: str, parts: list[bytes]) -> Response:
        delimiter = f"--{boundary}".encode()
        body = b"".join(delimiter + CRLF + p for p in parts) + delimiter + b"--" + CRLF
        return Response(status, body, {"Content-Type": f"multipart/mixed; boundary={boundary}"})

    def _run(self, call: Call, op: Operation, ctx: Context) -> Response:
        target = op.target
        if target.startswith("$"):
            content_id, _, rest = target[1:].partition("/")
            if content_id not in ctx.content_ids:
                raise DvError(400, "0x0", f"Content-ID Reference: '${content_id}' does not exist in the batch "
                                          "context.")
            target = ctx.content_ids[content_id] + ("/" + rest if rest else "")
        elif target.lower().startswith(("https://", "http://")):
            at = target.find(API_PREFIX)
            if at < 0:
                raise DvError(404, "0x8006088a", f"Resource not found for the segment '{target}'.")
            target = target[at + len(API_PREFIX):]
        elif target.startswith(API_PREFIX):
            target = target[len(API_PREFIX):]
        elif target.startswith("/"):
            raise DvError(404, "0x8006088a", f"Resource not found for the segment '{target}'.")
        rel, query = split_target(target)
        if rel == "$batch":
            raise DvError(400, "0x0", "A $batch can't contain another $batch.")
        headers = {**{k: v for k, v in call.headers.items() if k in ("prefer",) and k not in op.headers},
                   **op.headers}
        inner = Call(op.method, rel, query, headers, op.body, ctx, info={"subject": call.info.get("subject")})
        response = self.sim.api.call(inner)
        response.headers = {"OData-Version": "4.0", **response.headers}  # first, as in the documented parts
        path = inner.info.get("entity_path")
        if path and op.method == "POST" and response.status in (201, 204):
            response.headers.setdefault("Location", self.sim.api_base + path)
        if path and op.content_id is not None:
            ctx.content_ids[op.content_id] = path
        return response

    def _single(self, call: Call, op: Operation, parts: list[bytes]) -> bool:
        rule = self.part_faults.pick(_PartTarget(op.method, op.target))  # type: ignore[arg-type]
        if rule is not None and rule.status is not None:
            retry_after = {"Retry-After": str(int(rule.retry_after))} if rule.retry_after is not None else None
            response = _error_part(DvError(rule.status, "0x80040216", "An unexpected error occurred.", retry_after))
            if rule.body is not None:
                response.body = json.dumps(rule.body).encode()
            parts.append(_http_part(response, op.content_id))
            call.info["part_faults"] = call.info.get("part_faults", 0) + 1
            return False
        try:
            response = self._run(call, op, Context(self.sim.api_base))
        except DvError as err:
            parts.append(_http_part(_error_part(err), op.content_id))
            return False
        parts.append(_http_part(response, op.content_id))
        return response.status < 400

    def _changeset(self, call: Call, changeset: ChangeSet, parts: list[bytes]) -> bool:
        """Atomic: all operations commit, or one part with the failing operation's error (and Content-ID)."""
        with self.store.lock:
            txn = Txn(self.store)
            ctx = Context(self.sim.api_base, txn=txn)
            responses: list[bytes] = []
            for op in changeset.operations:
                try:
                    if op.method == "GET":
                        raise DvError(400, "0x0", "GET requests are not allowed inside a change set.")
                    response = self._run(call, op, ctx)
                except DvError as err:
                    txn.rollback()
                    parts.append(_http_part(_error_part(err), op.content_id))
                    return False
                responses.append(_http_part(response, op.content_id))
        boundary = f"changesetresponse_{uuid.uuid4()}"
        delimiter = f"--{boundary}".encode()
        inner = b"".join(delimiter + CRLF + r for r in responses) + delimiter + b"--" + CRLF
        parts.append(f"Content-Type: multipart/mixed; boundary={boundary}".encode() + CRLF + CRLF + inner)
        return True

