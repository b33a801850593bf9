"""State table on real Azurite: watermarks, the run lock, written batches and their unconfirmed keys."""

from __future__ import annotations

import uuid

import pytest
from azure.data.tables import TableServiceClient

from shared import state


@pytest.fixture
def table(azurite):
    client = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(
        f"state{uuid.uuid4().hex[:10]}")
    client.create_table()
    yield client
    client.delete_table()


@pytest.mark.parametrize("value", ["a/b#c?d%e\\f", "plain", "x%", "é\x01", "acme|S|O'Neil & Co"])
def test_table_key_encoding_is_reversible_and_table_safe(value):
    encoded = state.table_key(value)
    assert state.untable_key(encoded) == value
    assert not set(encoded) & {"/", "\\", "#", "?"}


def test_watermark_is_absent_until_set_then_read_back(table):
    assert state.get_watermark(table, "c1", "supplier") is None
    state.set_watermark(table, "c1", "supplier", "1764201600000", "job-1")
    assert state.get_watermark(table, "c1", "supplier") == "1764201600000"
    assert state.get_watermark(table, "c1", "customer") is None


def test_lock_is_exclusive_until_released(table):
    assert state.acquire_lock(table, "c1", "job-a")
    assert not state.acquire_lock(table, "c1", "job-b")
    state.release_lock(table, "c1", "job-b")  # not the holder: no effect
    assert not state.acquire_lock(table, "c1", "job-b")
    state.release_lock(table, "c1", "job-a")
    assert state.acquire_lock(table, "c1", "job-b")


def test_expired_lock_of_a_crashed_run_is_taken_over(table):
    assert state.acquire_lock(table, "c1", "crashed", ttl_s=-1)
    assert state.acquire_lock(table, "c1", "next")
    assert not state.acquire_lock(table, "c1", "third")


def test_written_batches_remember_their_unconfirmed_keys(table):
    assert not state.batch_written(table, "c1", "b-1")
    state.mark_batch_written(table, "c1", "b-1", "job-1", {"written": 3})
    state.mark_batch_written(table, "c1", "b-2", "job-1", {"written": 1, "failed": 1}, unconfirmed=["k9"])
    assert state.batch_written(table, "c1", "b-1")
    assert state.written_batches(table, "c1", ["b-1", "b-2", "b-3"]) == {"b-1": frozenset(), "b-2": frozenset({"k9"})}
    assert state.batch_info(table, "c1", "b-2")["unconfirmed"] == ["k9"]


def test_a_batch_claim_blocks_a_second_writer_until_released_or_expired(table):
    assert state.claim_batch(table, "c1", "b-9", owner="first")
    assert not state.claim_batch(table, "c1", "b-9", owner="second")
    state.release_claim(table, "c1", "b-9", owner="second")  # not the holder: no effect
    assert not state.claim_batch(table, "c1", "b-9", owner="second")
    state.release_claim(table, "c1", "b-9", owner="first")
    assert state.claim_batch(table, "c1", "b-9", owner="second")
    assert state.claim_batch(table, "c1", "b-10", owner="crashed", ttl_s=-1)
    assert state.claim_batch(table, "c1", "b-10", owner="retry")
