"""Flow control shared by every thread of a writer: the 429 pause gate, the concurrency limit and the
in-flight key set (never two concurrent requests for the same record)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager

from shared import defaults


class PauseGate:
    """After a 429 every sender waits until the Retry-After has passed; requests already on the wire finish."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._resume_at = 0.0

    def pause(self, seconds: float) -> None:
        with self._cond:
            self._resume_at = max(self._resume_at, self._clock() + max(seconds, 0.0))
            self._cond.notify_all()

    def remaining(self) -> float:
        with self._cond:
            return max(self._resume_at - self._clock(), 0.0)

    def wait_open(self) -> None:
        """Block while paused (a pause set during the wait extends it)."""
        with self._cond:
            while True:
                wait = self._resume_at - self._clock()
                if wait <= 0:
                    return
                self._cond.wait(timeout=wait)


class ConcurrencyLimit:
    """A semaphore whose size can change (x-ms-dop-hint may raise or lower it, never above ``cap``)."""

    def __init__(self, cap: int, initial: int = defaults.DATAVERSE_DEFAULT_DOP_HINT) -> None:
        self.cap = max(cap, 1)
        self._limit = min(max(initial, 1), self.cap)
        self._active = 0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        return self._limit

    def hint(self, dop: int) -> None:
        """Apply the server's recommended degree of parallelism, within [1, cap]."""
        with self._cond:
            self._limit = min(max(dop, 1), self.cap)
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            while self._active >= self._limit:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()


class InFlightKeys:
    """Holds the record identities of requests on the wire; a request waits until none of its keys is held."""

    def __init__(self) -> None:
        self._held: set[Hashable] = set()
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, keys: Iterable[Hashable]) -> Iterator[None]:
        wanted = set(keys)
        with self._cond:
            while self._held & wanted:
                self._cond.wait()
            self._held |= wanted
        try:
            yield
        finally:
            with self._cond:
                self._held -= wanted
                self._cond.notify_all()


_gates_lock = threading.Lock()
_gates: dict[str, PauseGate] = {}


def gate_for(environment_url: str) -> PauseGate:
    """The process-wide pause gate of one environment (service protection counts per user, not per writer)."""
    with _gates_lock:
        return _gates.setdefault(environment_url.rstrip("/").lower(), PauseGate())
