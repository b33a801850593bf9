"""Last-sent content hashes per Dataverse row, stored compactly as key-range shards in Table storage.

One entity per row would cost one table write per record (Azure allows ~2,000 entity writes/s per partition;
Azurite far fewer), so hashes live in shards: entities of partition ``hs|<connection>|<table>`` whose RowKey is
the LAST key they hold and whose binary property ``d`` is gzip'd JSON of up to a few thousand
``key -> (hash, batch id)`` entries. Shard i holds the keys in (RowKey of shard i-1, RowKey of shard i].
A page of key-ordered records touches one or two shards: one range query to read them, one entity-group
transaction (ETag-guarded, retried on conflict) to update them; oversized shards split in the same
transaction. Keys are compared in their table-safe encoding (shared.state.table_key) so RowKey order and
shard order agree.

An entry says "this content was handed to batch B"; it counts as written only once batch B is recorded as
written and the key is not among that batch's unconfirmed (failed or deferred) keys (see shared.state).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared import defaults, jsonz
from shared.errors import TransientError
from shared.state import table_key, untable_key

LAYOUT_ROW = ""  # RowKey of the layout row: sorts before every key, so range queries never return it
HASH_CHARS = 16  # 64 bits of the sha256 content hash: a collision would only skip one update


def short_hash(full: str) -> str:
    return full[:HASH_CHARS]


@dataclass(frozen=True)
class Entry:
    hash: str
    batch_id: str


@dataclass
class _Shard:
    row_key: str  # encoded last key
    etag: str | None
    entries: dict[str, Entry]  # encoded key -> entry
    existed: bool = True


def _encode(entries: Mapping[str, Entry]) -> bytes:
    keys = sorted(entries)
    batches = sorted({entries[k].batch_id for k in keys})
    index = {b: i for i, b in enumerate(batches)}
    doc = {"v": 1, "b": batches, "k": keys, "h": [entries[k].hash for k in keys],
           "i": [index[entries[k].batch_id] for k in keys]}
    return jsonz.dumps(doc)


def _decode(data: bytes) -> dict[str, Entry]:
    doc = jsonz.loads(data)
    batches = doc["b"]
    return {k: Entry(h, batches[i]) for k, h, i in zip(doc["k"], doc["h"], doc["i"], strict=True)}


class HashShards:
    """The hash shards of one connection and table."""

    def __init__(self, table: TableClient, connection: str, table_name: str) -> None:
        self.table = table
        self.partition = f"hs|{table_key(connection)}|{table_name}"

    def _read_layout_etag(self) -> str | None:
        """ETag of the layout row (RowKey ""), bumped by every change to the set of shards; None if absent."""
        try:
            return self.table.get_entity(self.partition, LAYOUT_ROW, select=["v"]).metadata.get("etag")
        except ResourceNotFoundError:
            return None

    def _read_from(self, lo: str, hi: str) -> list[_Shard]:
        """Shards that may hold keys in [lo, hi]: from the first whose last key >= lo to the first >= hi."""
        shards = []
        rows = self.table.query_entities("PartitionKey eq @pk and RowKey ge @lo",
                                         parameters={"pk": self.partition, "lo": lo})
        for row in rows:
            shards.append(_Shard(str(row["RowKey"]), row.metadata.get("etag"), _decode(_bytes(row["d"]))))
            if row["RowKey"] >= hi:
                break
        return shards

    def _last_shard(self) -> _Shard | None:
        """The shard with the greatest RowKey (new keys beyond every shard extend it)."""
        last = None
        for row in self.table.query_entities("PartitionKey eq @pk", parameters={"pk": self.partition},
                                             select=["RowKey"]):
            if row["RowKey"] != LAYOUT_ROW:
                last = str(row["RowKey"])
        if last is None:
            return None
        row = self.table.get_entity(self.partition, last)  # ResourceNotFoundError if replaced meanwhile: retried
        return _Shard(last, row.metadata.get("etag"), _decode(_bytes(row["d"])))

    def lookup(self, keys: list[str]) -> dict[str, Entry]:
        """Stored entries for ``keys`` (raw keys in, raw keys out; absent keys are left out)."""
        encoded = sorted({table_key(k) for k in keys})
        if not encoded:
            return {}
        shards = self._read_from(encoded[0], encoded[-1])
        found: dict[str, Entry] = {}
        for shard in shards:
            for key in encoded:
                entry = shard.entries.get(key)
                if entry is not None:
                    found[untable_key(key)] = entry
        return found

    def record(self, entries: Mapping[str, Entry]) -> int:
        """Merge ``entries`` (raw key -> Entry) into the shards; returns the attempts it took (conflicts retry)."""
        updates = {table_key(k): v for k, v in entries.items()}
        if not updates:
            return 0
        ordered = sorted(updates)
        for attempt in range(1, defaults.HASH_SHARD_MAX_ATTEMPTS + 1):
            try:
                layout = self._read_layout_etag()  # before the shards: a layout change after it fails our write
                shards = self._read_from(ordered[0], ordered[-1])
                if not shards:
                    tail = self._last_shard()
                    shards = [tail] if tail is not None else []
                self._apply(shards, updates, ordered, layout)
                return attempt
            except (TableTransactionError, ResourceNotFoundError):
                # Another writer changed (412), created (409) or replaced (404) a shard first: re-read, re-merge.
                continue
            except HttpResponseError as exc:
                if exc.status_code not in (409, 412):
                    raise
        raise TransientError(f"hash shards of {self.partition}: too many concurrent updates, retry later")

    def _apply(self, shards: list[_Shard], updates: dict[str, Entry], ordered: list[str], layout: str | None) -> None:
        bounds = [s.row_key for s in shards]
        plan: dict[int, dict[str, Entry]] = {}
        new: dict[str, Entry] = {}
        for key in ordered:
            i = bisect.bisect_left(bounds, key)
            if i < len(shards):
                plan.setdefault(i, {})[key] = updates[key]
            elif shards:  # past every shard (the last one read is the partition's last): extend it
                plan.setdefault(len(shards) - 1, {})[key] = updates[key]
            else:
                new[key] = updates[key]
        groups = []
        for i, changes in plan.items():
            shard = shards[i]
            groups.append(self._write_ops(shard, {**shard.entries, **changes}, max(shard.row_key, max(changes))))
        if new:
            groups.append(self._write_ops(_Shard(max(new), None, {}, existed=False), new, max(new)))
        # Creating, deleting or renaming a shard changes which shard owns which keys: those operations go in one
        # transaction with an ETag-guarded bump of the layout row, so two writers can never both add a shard for
        # overlapping keys (the second fails, re-reads the new layout and merges into it).
        structural = [ops for ops in groups if any(op[0] in ("create", "delete") for op in ops)]
        contents = [ops for ops in groups if not any(op[0] in ("create", "delete") for op in ops)]
        if structural:
            first = [op for ops in structural for op in ops] + [self._layout_op(layout)]
            if len(first) > defaults.TABLE_TRANSACTION_MAX_OPS:
                raise TransientError(f"hash shards of {self.partition}: too many shard changes in one page")
            self.table.submit_transaction(first)
        batch: list[tuple[Any, ...]] = []
        for ops in contents:  # each content update is ETag-guarded on its own shard
            if len(batch) + len(ops) > defaults.TABLE_TRANSACTION_MAX_OPS:
                self.table.submit_transaction(batch)
                batch = []
            batch += ops
        if batch:
            self.table.submit_transaction(batch)

    def _layout_op(self, etag: str | None) -> tuple[Any, ...]:
        row = {"PartitionKey": self.partition, "RowKey": LAYOUT_ROW, "v": 1}
        if etag is None:
            return ("create", row)
        return ("update", row, {"mode": UpdateMode.REPLACE, "etag": etag,
                                "match_condition": MatchConditions.IfNotModified})

    def _write_ops(self, shard: _Shard, merged: dict[str, Entry], new_last: str) -> list[tuple[Any, ...]]:
        """Operations writing ``merged`` as one or more shards replacing ``shard`` (split when too big)."""
        keys = sorted(merged)
        parts = max(1, -(-len(keys) // defaults.HASH_SHARD_MAX_ENTRIES))
        while True:
            size = -(-len(keys) // parts)
            chunks = [keys[i:i + size] for i in range(0, len(keys), size)]
            blobs = [_encode({k: merged[k] for k in chunk}) for chunk in chunks]
            if max(len(b) for b in blobs) <= defaults.HASH_SHARD_MAX_BYTES or size == 1:
                break
            parts += 1
        ops: list[tuple[Any, ...]] = []
        guard = {"etag": shard.etag, "match_condition": MatchConditions.IfNotModified} if shard.existed else {}
        for n, (chunk, blob) in enumerate(zip(chunks, blobs, strict=True)):
            last = new_last if n == len(chunks) - 1 else chunk[-1]
            entity = {"PartitionKey": self.partition, "RowKey": last, "d": blob, "n": len(chunk)}
            if shard.existed and last == shard.row_key:
                ops.append(("update", entity, {"mode": UpdateMode.REPLACE, **guard}))
            else:
                ops.append(("create", entity))
        if shard.existed and shard.row_key not in {op[1]["RowKey"] for op in ops}:
            ops.append(("delete", {"PartitionKey": self.partition, "RowKey": shard.row_key}, guard))
        return ops

    def iter_all(self) -> Iterator[tuple[str, Entry]]:
        """Every (raw key, entry) of this table, shard by shard (reconciliation)."""
        for row in self.table.query_entities("PartitionKey eq @pk", parameters={"pk": self.partition}):
            if row["RowKey"] == LAYOUT_ROW:
                continue
            for key, entry in _decode(_bytes(row["d"])).items():
                yield untable_key(key), entry


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes | bytearray) else bytes(value)
