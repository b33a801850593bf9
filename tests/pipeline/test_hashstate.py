"""Hash shards on real Azurite: lookups by key range, merges, splits, tail extension, concurrent writers."""

from __future__ import annotations

import threading
import uuid

import pytest
from azure.data.tables import TableServiceClient

from shared import defaults
from shared.hashstate import Entry, HashShards


@pytest.fixture
def table(azurite):
    client = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(
        f"hs{uuid.uuid4().hex[:10]}")
    client.create_table()
    yield client
    client.delete_table()


def _keys(lo: int, hi: int) -> list[str]:
    return [f"acme|S|S{i:06d}" for i in range(lo, hi)]


def _shards(table) -> list[tuple[str, int]]:
    return [(r["RowKey"], r["n"]) for r in table.list_entities(select=["RowKey", "n"]) if r["RowKey"]]


def test_first_page_creates_one_shard_ending_at_its_last_key(table):
    shards = HashShards(table, "c1", "account")
    shards.record({k: Entry("h" + k[-3:], "b-1") for k in _keys(0, 1000)})
    assert _shards(table) == [("acme|S|S000999", 1000)]
    found = shards.lookup(["acme|S|S000010", "acme|S|S000999", "acme|S|S001000"])
    assert found == {"acme|S|S000010": Entry("h010", "b-1"), "acme|S|S000999": Entry("h999", "b-1")}


def test_later_pages_extend_the_last_shard_and_split_it_when_full(table):
    shards = HashShards(table, "c1", "account")
    for lo in range(0, 5000, 1000):
        shards.record({k: Entry("x", f"b-{lo}") for k in _keys(lo, lo + 1000)})
    layout = _shards(table)
    assert sum(n for _, n in layout) == 5000
    assert all(n <= defaults.HASH_SHARD_MAX_ENTRIES for _, n in layout)
    assert layout[-1][0] == "acme|S|S004999"
    assert shards.lookup(["acme|S|S002500"]) == {"acme|S|S002500": Entry("x", "b-2000")}


def test_updates_overwrite_entries_inside_existing_shards(table):
    shards = HashShards(table, "c1", "contact")
    shards.record({k: Entry("old", "b-1") for k in _keys(0, 3000)})
    shards.record({"acme|S|S001500": Entry("new", "b-2"), "acme|S|S000001": Entry("new", "b-2")})
    found = shards.lookup(_keys(0, 3000))
    assert len(found) == 3000
    assert found["acme|S|S001500"] == Entry("new", "b-2") and found["acme|S|S000002"] == Entry("old", "b-1")


def test_keys_before_the_first_shard_land_in_it(table):
    shards = HashShards(table, "c1", "account")
    shards.record({k: Entry("a", "b-1") for k in _keys(500, 600)})
    shards.record({k: Entry("b", "b-2") for k in _keys(0, 10)})
    assert _shards(table) == [("acme|S|S000599", 110)]
    assert shards.lookup(["acme|S|S000003"]) == {"acme|S|S000003": Entry("b", "b-2")}


def test_unsafe_key_characters_round_trip(table):
    shards = HashShards(table, "c1", "account")
    keys = ["acme|S|A/B", "acme|S|C#1", "acme|S|100%", "acme|S|Ø?"]
    shards.record({k: Entry("h", "b") for k in keys})
    assert sorted(shards.lookup(keys)) == sorted(keys)
    assert sorted(k for k, _ in shards.iter_all()) == sorted(keys)


def test_concurrent_writers_lose_no_entry(table):
    shards = HashShards(table, "c1", "account")
    errors: list[BaseException] = []

    def write(lo: int) -> None:
        try:
            HashShards(table, "c1", "account").record({k: Entry("c", f"b-{lo}") for k in _keys(lo, lo + 300)})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(lo,)) for lo in range(0, 2400, 300)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(shards.lookup(_keys(0, 2400))) == 2400


def test_concurrent_first_pages_with_overlapping_keys_never_put_a_key_in_two_shards(table):
    """Like an LN supplier page and customer page sharing the partners that have both roles."""
    from shared.hashstate import _bytes, _decode

    for round_ in range(3):
        shards = HashShards(table, f"c{round_}", "account")
        barrier = threading.Barrier(2)
        suppliers = {k: Entry("s", "b-s") for k in _keys(100, 400)}
        customers = {k: Entry("c", "b-c") for k in _keys(110, 700)}

        def write(entries: dict[str, Entry], conn: str, gate: threading.Barrier) -> None:
            gate.wait()
            HashShards(table, conn, "account").record(entries)

        threads = [threading.Thread(target=write, args=(e, f"c{round_}", barrier)) for e in (suppliers, customers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seen: dict[str, int] = {}
        for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": shards.partition}):
            if row["RowKey"]:
                for key in _decode(_bytes(row["d"])):
                    seen[key] = seen.get(key, 0) + 1
        assert [k for k, n in seen.items() if n > 1] == []
        assert len(seen) == 600
