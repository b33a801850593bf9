"""Flow control shared by every sender to one environment in this process (service protection counts per app
user, not per writer): the 429 pause gate, the concurrency limit and the in-flight key set (never two
concurrent requests for the same record)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager

from shared import defaults


class PauseGate:
    """Throttling shared by every sender of one environment.

    After a 429 every sender waits until the Retry-After has passed (requests already on the wire finish). The
    gate then keeps later sends out of the limit instead of bursting into it again (each request that arrives
    during a wait lengthens it):

    * When the 429 message states its limit ("limit of 6000 over time window of 300 seconds"), the gate keeps a
      send window: a send waits until fewer than that many of our requests count against the window. A request
      counts from when it was sent until ``window`` after its response came back; the server saw it somewhere in
      between, so no sliding window of the server's can hold more than the limit of ours, however the network
      delays them, and a request on the wire still counts. A 429 despite the window means others share the app
      user (other instances): the allowance drops by ``DATAVERSE_PACE_BACKOFF`` and recovers slowly.
    * Otherwise the pace is learned: the sends the server admitted during the last Retry-After span are what it
      tolerates, so later sends are spaced to a little under that rate. The pace relaxes slowly with time (its
      10% margin over about a minute), so a limit that was lifted is found again.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._resume_at = 0.0
        self._next_at = 0.0  # earliest next send under the learned pace
        self._interval = 0.0  # learned seconds between sends; 0 = not paced
        self._episode_at = -1.0  # when the latest 429 episode began (429s for earlier sends belong to it)
        self._episode_wait = 0.0  # shortest Retry-After of the episode (the others include race penalties)
        self._interval_before = 0.0  # the pace before the episode began
        self._allowance_before: float | None = None  # the send window's allowance before the episode began
        # Our sends, oldest first: [sent_at, done_at] (done_at is inf while the request is on the wire).
        self._sent: deque[list[float]] = deque(maxlen=defaults.DATAVERSE_PACE_HISTORY)
        self._relaxed_at = 0.0  # when the pace (or allowance) was last loosened (or learned)
        self._window: tuple[int, float] | None = None  # the declared limit: (requests, seconds)
        self._allowance = 0.0  # requests the send window lets us have in it (<= the declared limit)

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def window(self) -> tuple[int, float] | None:
        """The send window in force: (requests we allow ourselves, seconds), or None."""
        return None if self._window is None else (int(self._allowance), self._window[1])

    def pause(self, seconds: float, sent_at: float | None = None,
              declared: tuple[int, float] | None = None) -> None:
        """A request sent at ``sent_at`` (a ``wait_open`` result) was throttled for ``seconds``.

        ``declared`` is the limit the 429 message states ("limit of 6000 over time window of 300 seconds"):
        when present, sends keep within it (the send window) instead of the pace learned from admitted sends.
        """
        with self._cond:
            now = self._clock()
            self._resume_at = max(self._resume_at, now + max(seconds, 0.0))
            if sent_at is not None and seconds > 0:
                self._forget(sent_at)  # refused: it does not count as admitted, nor against the window
                self._learn(now, seconds, sent_at, declared)
            self._cond.notify_all()

    def finished(self, sent_at: float) -> None:
        """The request sent at ``sent_at`` has its response (or failed): its window time starts running out."""
        with self._cond:
            for entry in reversed(self._sent):
                if entry[0] == sent_at and entry[1] == math.inf:
                    entry[1] = self._clock()
                    break
            self._cond.notify_all()

    def _forget(self, sent_at: float) -> None:
        for entry in reversed(self._sent):
            if entry[0] == sent_at:
                self._sent.remove(entry)
                return

    def _learn(self, now: float, seconds: float, sent_at: float, declared: tuple[int, float] | None = None) -> None:
        if sent_at >= self._episode_at:  # sent after the last episode began: a new episode
            self._episode_at, self._episode_wait, self._interval_before = now, seconds, self._interval
            self._allowance_before = self._allowance if self._window is not None else None
        else:  # sent before we knew: its longer wait is the server's penalty for the race, not the limit
            self._episode_wait = min(self._episode_wait, seconds)
        self._relaxed_at = now
        if declared is not None and declared[0] > 0:
            limit, span = declared
            allowance = float(limit)
            if self._allowance_before is not None:  # throttled inside the window we kept: others share it
                allowance = min(allowance, self._allowance_before / defaults.DATAVERSE_PACE_BACKOFF)
            self._window, self._allowance, self._interval = (limit, span), max(allowance, 1.0), 0.0
            if self._sent.maxlen is not None and self._sent.maxlen <= limit:
                self._sent = deque(self._sent, maxlen=limit + 1)  # the window must see every send it counts
            return
        start, window = self._episode_at, self._episode_wait
        admitted = sum(1 for t, _ in self._sent if start - window < t < start)
        learned = window / (max(admitted, 1) * defaults.DATAVERSE_PACE_SAFETY)
        self._interval = max(learned, self._interval_before * defaults.DATAVERSE_PACE_BACKOFF)

    def remaining(self) -> float:
        with self._cond:
            return max(self._resume_at - self._clock(), 0.0)

    def _window_opens_at(self, now: float) -> float | None:
        """When the send window next has room (``now`` if it has room; None: when a request finishes)."""
        if self._window is None:
            return now
        span = self._window[1]
        room = int(self._allowance)
        expiries: list[float] = []
        counted = 0
        for sent_at, done_at in reversed(self._sent):
            if done_at + span > now:
                counted += 1
                if done_at != math.inf:
                    expiries.append(done_at + span)
            elif sent_at + span + defaults.DATAVERSE_READ_TIMEOUT_S < now:
                break  # older sends have all finished long ago
        if counted < room:
            return now
        excess = counted - room + 1  # this many must leave the window first
        if excess > len(expiries):
            return None
        return sorted(expiries)[excess - 1]

    def wait_open(self) -> float:
        """Block while paused or until the pace or send window allows the next send; return the send time."""
        with self._cond:
            while True:
                now = self._clock()
                self._relax(now)
                opens = self._window_opens_at(now)
                if opens is None:  # every counted request is still on the wire: wait for one to finish
                    self._cond.wait(timeout=1.0)
                    continue
                wait = max(self._resume_at, self._next_at, opens) - now
                if wait <= 0:
                    break
                self._cond.wait(timeout=wait)
            if self._interval:
                self._next_at = now + self._interval
            self._sent.append([now, math.inf])
            return now

    def _relax(self, now: float) -> None:
        """Loosen with time, not with sends: the safety margin lasts about a minute at any rate."""
        elapsed = now - self._relaxed_at
        if elapsed <= 0:
            return
        if self._interval:
            self._interval *= max(0.0, 1.0 - defaults.DATAVERSE_PACE_RELAX_PER_S * elapsed)
        if self._window is not None and self._allowance < self._window[0]:
            self._allowance = min(float(self._window[0]),
                                  self._allowance + self._window[0] * defaults.DATAVERSE_PACE_RELAX_PER_S * elapsed)
        self._relaxed_at = now


class ConcurrencyLimit:
    """A semaphore whose size follows the server: x-ms-dop-hint (never above ``cap``), reached gradually.

    Parallelism ramps up (Microsoft's advice for service protection): one request at a time at first, one more
    per ``ramp_s`` without throttling, up to the hint. Any 429 restarts the ramp: requests already on the wire
    when the first 429 comes back arrive during the penalty and lengthen it, so fewer in flight costs less.
    """

    def __init__(self, cap: int, initial: int = defaults.DATAVERSE_DEFAULT_DOP_HINT,
                 ramp_s: float = defaults.DATAVERSE_RAMP_INTERVAL_S, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.cap = max(cap, 1)
        self._target = min(max(initial, 1), self.cap)
        self._ramp_s = ramp_s
        self._clock = clock
        self._ramp_from = clock()
        self._suppress_hint_until = 0.0
        self._active = 0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        """How many requests may be in flight now (the ramp's current step, at most the target)."""
        if self._ramp_s <= 0:
            return self._target
        steps = int((self._clock() - self._ramp_from) / self._ramp_s)
        return min(self._target, 1 + steps)

    def lower_cap(self, cap: int) -> None:
        with self._cond:
            self.cap = max(cap, 1)
            self._target = min(self._target, self.cap)

    def halve(self) -> None:
        """The server refused concurrency: halve the target (a later x-ms-dop-hint may raise it again)."""
        with self._cond:
            self._target = max(self.limit // 2, 1)
            self._suppress_hint_until = time.monotonic() + defaults.DATAVERSE_CONCURRENCY_COOLDOWN_S

    def throttled(self) -> None:
        """A 429: start the ramp again from one request at a time."""
        with self._cond:
            self._ramp_from = self._clock()

    def hint(self, dop: int) -> None:
        """Apply the server's recommended degree of parallelism, within [1, cap] (not right after a refusal)."""
        with self._cond:
            if time.monotonic() < self._suppress_hint_until:
                return
            self._target = min(max(dop, 1), self.cap)
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            while self._active >= self.limit:
                # Re-check when a request finishes or when the ramp may have opened another slot.
                self._cond.wait(timeout=self._ramp_s if self._ramp_s > 0 else None)
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


_registry_lock = threading.Lock()
_gates: dict[str, PauseGate] = {}
_in_flight: dict[str, InFlightKeys] = {}
_concurrency: dict[str, ConcurrencyLimit] = {}


def _environment(url: str) -> str:
    return url.rstrip("/").lower()


def gate_for(environment_url: str) -> PauseGate:
    """The process-wide pause gate of one environment (service protection counts per user, not per writer)."""
    with _registry_lock:
        return _gates.setdefault(_environment(environment_url), PauseGate())


def in_flight_for(environment_url: str) -> InFlightKeys:
    """The process-wide in-flight key set of one environment (two writers may share an environment)."""
    with _registry_lock:
        return _in_flight.setdefault(_environment(environment_url), InFlightKeys())


def concurrency_for(environment_url: str, cap: int) -> ConcurrencyLimit:
    """The process-wide concurrency limit of one environment; the lowest configured cap wins."""
    with _registry_lock:
        limit = _concurrency.get(_environment(environment_url))
        if limit is None:
            limit = _concurrency[_environment(environment_url)] = ConcurrencyLimit(cap)
        elif cap < limit.cap:
            limit.lower_cap(cap)
        return limit


def forget(environment_url: str) -> None:
    """Drop what this process learned about an environment (tests start simulators on reused ports)."""
    with _registry_lock:
        for registry in (_gates, _in_flight, _concurrency):
            registry.pop(_environment(environment_url), None)
