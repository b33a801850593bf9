"""In-memory tables with pre-sorted keys (O(page) reads via bisect) and the simulator's own clock.

Rows are lists in column order, not dicts: 100k rows x 40 columns as dicts cost ~10x the memory, and a page is
turned into dicts only when it is served.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any


class Table:
    """Rows keyed by a string whose plain sort order is the product's key order."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.pos = {name: i for i, name in enumerate(self.columns)}
        self.rows: dict[str, list[Any]] = {}
        self.keys: list[str] = []
        self.version = 0  # bumped on every change; caches of other orders compare it

    def load(self, items: Iterable[tuple[str, list[Any]]]) -> None:
        self.rows = dict(items)
        self.keys = sorted(self.rows)
        self.version += 1

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def get(self, key: str) -> list[Any] | None:
        return self.rows.get(key)

    def put(self, key: str, row: list[Any]) -> None:
        if key not in self.rows:
            insort(self.keys, key)
        self.rows[key] = row
        self.version += 1

    def remove(self, key: str) -> None:
        if self.rows.pop(key, None) is not None:
            del self.keys[bisect_left(self.keys, key)]
            self.version += 1

    def set(self, key: str, **values: Any) -> None:
        row = self.rows[key]
        for name, value in values.items():
            row[self.pos[name]] = value
        self.version += 1

    def value(self, key: str, column: str) -> Any:
        return self.rows[key][self.pos[column]]

    def iter_from(self, start: str, *, inclusive: bool = True) -> Iterator[str]:
        """Keys >= start (or > start) in key order; O(log n) to position."""
        keys = self.keys
        i = bisect_left(keys, start) if inclusive else bisect_right(keys, start)
        while i < len(keys):
            yield keys[i]
            i += 1

    def as_dict(self, row: Sequence[Any], columns: Sequence[str] | None = None) -> dict[str, Any]:
        if columns is None:
            return dict(zip(self.columns, row, strict=True))
        pos = self.pos
        return {name: row[pos[name]] for name in columns}


class ResultCache:
    """Matching keys of a filtered/ordered scan, reused while the table is unchanged.

    Offset-paged APIs (LN ``$skip``, FSM ``_offset``) repeat the same filter on every page; without this a 100k-row
    listing would scan every row once per page.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: dict[tuple[Any, ...], tuple[int, int, list[str]]] = {}
        self._lock = threading.Lock()

    def get(self, table: Table, key: tuple[Any, ...], compute: Callable[[], list[str]]) -> list[str]:
        full_key = (id(table), *key)
        with self._lock:
            hit = self._entries.get(full_key)
            if hit is not None and hit[0] == table.version and hit[1] == id(table):
                return hit[2]
        result = compute()
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[full_key] = (table.version, id(table), result)
        return result


class Clock:
    """Real time plus an offset tests can advance; never goes backwards."""

    def __init__(self) -> None:
        self._wall0 = time.time()
        self._mono0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._wall0 + (time.monotonic() - self._mono0) + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulator clock only moves forward")
        with self._lock:
            self._offset += seconds
