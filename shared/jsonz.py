"""Compact, deterministic gzip'd JSON: the one encoding of queue messages, table properties and claim-check blobs."""

from __future__ import annotations

import gzip
import json
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"
_LEVEL = 6  # zlib's default trade-off: most of the size gain at a fraction of level 9's CPU on large pages


def to_json(obj: Any) -> bytes:
    """Canonical UTF-8 JSON (sorted keys, no spaces): equal objects always give equal bytes."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def compress(data: bytes) -> bytes:
    # mtime=0 keeps the bytes deterministic.
    return gzip.compress(data, compresslevel=_LEVEL, mtime=0)


def dumps(obj: Any) -> bytes:
    return compress(to_json(obj))


def loads(data: bytes | bytearray) -> Any:
    """Inverse of ``dumps``; plain (uncompressed) JSON is accepted too."""
    raw = bytes(data)
    return json.loads(gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw)
