"""Queue messages: versioned schemas, gzip inline encoding, claim check beyond 64 KB, clear decode errors."""

from __future__ import annotations

import base64
import gzip
import json
import random
import string

import pytest

from shared import messages
from shared.messages import MessageError, PageMessage, WriteMessage, WriteRow


def _page(n: int, seed: int = 1) -> PageMessage:
    rng = random.Random(seed)
    records = [{"SUNO": f"S{i:06d}", "SUNM": "".join(rng.choices(string.ascii_letters + " ", k=30)),
                "PHNO": f"+47 {rng.randint(10000000, 99999999)}", "CSCD": rng.choice(["NO", "DE", "US"])}
               for i in range(n)]
    return PageMessage(job_id="20261127T000000Z-abc123", connection="acme-m3", product="m3", entity="supplier",
                       page=1, key_field="SUNO", records=records, polled_at="2026-11-27T00:00:00.000Z")


def test_small_message_travels_inline_and_round_trips():
    blobs: dict[str, bytes] = {}
    msg = _page(10)
    encoded = messages.encode(msg, blobs.__setitem__)
    assert encoded.blob is None and blobs == {}
    assert encoded.body[:2] == b"\x1f\x8b"
    assert messages.decode(encoded.body, blobs.__getitem__) == msg


def test_encoding_is_deterministic():
    assert messages.encode(_page(50), {}.__setitem__).body == messages.encode(_page(50), {}.__setitem__).body


def test_message_too_large_for_a_queue_message_goes_to_a_blob_with_a_pointer():
    blobs: dict[str, bytes] = {}
    msg = _page(6000, seed=7)  # random names compress poorly: well over 64 KB even gzipped
    encoded = messages.encode(msg, blobs.__setitem__)
    assert encoded.blob is not None and list(blobs) == [encoded.blob]
    assert messages.fits_queue(encoded.body)
    assert messages.claim_blob(encoded.body) == encoded.blob
    assert messages.decode(encoded.body, blobs.__getitem__) == msg


def test_every_encoded_body_fits_the_64_kb_queue_limit_after_base64():
    for n in (1, 100, 500, 1000, 3000):
        body = messages.encode(_page(n, seed=n), {}.__setitem__).body
        assert len(base64.b64encode(body)) <= 64 * 1024


def test_write_message_round_trips_with_typed_rows():
    row = WriteRow(table="contact", key={"cssync_sourcekey": "a|C|1|x"}, payload={"lastname": "O'Neil"},
                   ref="a|C|1|x", hash="h1", parent_key="a|C|1")
    msg = WriteMessage(job_id="j", connection="c", entity="customer", table="contact", batch_id="b-1", rows=[row])
    decoded = messages.decode(messages.encode(msg, {}.__setitem__).body, {}.__getitem__)
    assert decoded == msg and isinstance(decoded.rows[0], WriteRow)


@pytest.mark.parametrize(("body", "message"), [
    (b"not gzip and not json", "message body is not gzip/JSON"),
    (gzip.compress(b"[1, 2]"), "message body is not a JSON object"),
    (gzip.compress(json.dumps({"schema": messages.PAGE_SCHEMA, "version": 99}).encode()),
     "version 99 is not supported"),
    (gzip.compress(json.dumps({"schema": "other", "version": 1}).encode()), "unknown message schema 'other'"),
    (gzip.compress(json.dumps({"schema": messages.PAGE_SCHEMA, "version": 1, "job_id": "j"}).encode()),
     "lacks field(s)"),
])
def test_undecodable_messages_raise_a_specific_message_error(body, message):
    with pytest.raises(MessageError) as err:
        messages.decode(body, {}.__getitem__)
    assert message in err.value.reason


def test_missing_claim_check_blob_is_reported_by_the_getter():
    blobs: dict[str, bytes] = {}
    encoded = messages.encode(_page(6000, seed=7), blobs.__setitem__)

    def gone(name: str) -> bytes:
        raise MessageError(f"claim-check blob {name!r} is missing")

    with pytest.raises(MessageError, match="claim-check blob"):
        messages.decode(encoded.body, gone)
