"""The ``$batch`` wire format: build a multipart/mixed request body and parse the multipart response.

Every line ends in CRLF (Dataverse answers LF-only bodies with "Stream was not readable"). We send independent
operations only (no change sets: one bad record must not roll back its neighbours); the parser still understands
change-set responses so an unexpected nested part is reported, not misread.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CRLF = b"\r\n"
BOUNDARY_PREFIX = "batch_"
# uuid4().hex is always 32 characters, so every boundary has the same length and the packer can measure
# a request before the boundary is chosen.
BOUNDARY_LENGTH = len(BOUNDARY_PREFIX) + 32


def new_boundary() -> str:
    return BOUNDARY_PREFIX + uuid.uuid4().hex


def part_bytes(method: str, url: str, body: bytes | None, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """One operation part without its leading delimiter line (the same bytes whatever the boundary)."""
    lines = [b"Content-Type: application/http", b"Content-Transfer-Encoding: binary", b"",
             f"{method} {url} HTTP/1.1".encode("ascii")]
    if body is not None:
        lines.append(b"Content-Type: application/json; type=entry")
    lines.extend(f"{name}: {value}".encode("ascii") for name, value in headers)
    lines.append(b"")
    lines.append(body if body is not None else b"")
    return CRLF.join(lines) + CRLF


def delimiter_size() -> int:
    """Bytes of ``--<boundary>\\r\\n`` before each part."""
    return 2 + BOUNDARY_LENGTH + 2


def closing_size() -> int:
    """Bytes of the final ``--<boundary>--\\r\\n``."""
    return 2 + BOUNDARY_LENGTH + 4


def body_size(part_sizes: Iterable[int]) -> int:
    """Exact size of ``build_body`` for parts of these sizes."""
    sizes = list(part_sizes)
    return sum(sizes) + len(sizes) * delimiter_size() + closing_size()


def build_body(parts: Iterable[bytes], boundary: str) -> bytes:
    """The multipart/mixed request body for already-encoded parts."""
    if len(boundary) != BOUNDARY_LENGTH:
        raise ValueError("boundary length must be BOUNDARY_LENGTH (the packer measured with it)")
    delimiter = b"--" + boundary.encode("ascii") + CRLF
    out = bytearray()
    for part in parts:
        out += delimiter
        out += part
    out += b"--" + boundary.encode("ascii") + b"--" + CRLF
    return bytes(out)


def content_type(boundary: str) -> str:
    return f'multipart/mixed; boundary="{boundary}"'


@dataclass(frozen=True)
class PartResponse:
    """One operation's response inside a $batch response."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    content_id: str | None = None

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


class MultipartError(ValueError):
    """The $batch response could not be parsed (treated as a transient failure of the whole request)."""


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_STATUS_LINE = re.compile(rb"^HTTP/\d\.\d\s+(\d{3})")


def boundary_of(content_type_value: str) -> str:
    match = _BOUNDARY.search(content_type_value or "")
    if not match:
        raise MultipartError(f"no multipart boundary in Content-Type {content_type_value!r}")
    return match.group(1).strip()


def _split_headers(block: bytes) -> tuple[dict[str, str], bytes]:
    """Split ``headers CRLF CRLF rest`` (LF tolerated) into lower-cased headers and the rest."""
    match = re.search(rb"\r?\n\r?\n", block)
    head, rest = (block[: match.start()], block[match.end():]) if match else (block, b"")
    headers: dict[str, str] = {}
    for line in re.split(rb"\r?\n", head):
        if b":" in line:
            name, _, value = line.partition(b":")
            headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    return headers, rest


def _parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode("ascii")
    chunks = body.split(delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(chunk[2:] if chunk.startswith(CRLF) else chunk.lstrip(b"\n"))
    return parts


def _http_response(raw: bytes, content_id: str | None) -> PartResponse:
    match = _STATUS_LINE.match(raw)
    if not match:
        raise MultipartError("a $batch part does not hold an HTTP response")
    line_end = raw.find(b"\n")
    headers, body = _split_headers(raw[line_end + 1:] if line_end >= 0 else b"")
    # Trailing CRLFs belong to the framing (before the next delimiter), never to a JSON body.
    return PartResponse(int(match.group(1)), headers, body.rstrip(b"\r\n"), content_id)


def parse_response(body: bytes, content_type_value: str) -> list[PartResponse]:
    """Responses in order; a change set's responses are flattened in their own order."""
    responses: list[PartResponse] = []
    for part in _parts(body, boundary_of(content_type_value)):
        headers, rest = _split_headers(part)
        kind = headers.get("content-type", "")
        if kind.lower().startswith("multipart/mixed"):
            responses.extend(parse_response(rest, kind))
            continue
        responses.append(_http_response(rest, headers.get("content-id")))
    return responses
