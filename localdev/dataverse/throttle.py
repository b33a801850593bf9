"""Service-protection emulation (reference section 6): per-token-subject request, rate, time and concurrency limits."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from localdev.dataverse.odata import DvError

DEFAULT_WINDOW_REQUESTS = 6000  # documented limit; only reported in headers unless a threshold is configured
DEFAULT_WINDOW_EXECUTION_MS = 1_200_000


@dataclass
class ThrottleSettings:
    requests_per_s: int | None = None
    requests_per_window: int | None = None
    window_s: float = 300.0
    concurrency: int | None = None
    execution_ms_per_window: int | None = None
    penalty_extension_s: float = 1.0  # each request sent during a Retry-After wait lengthens the wait by this


@dataclass
class _Subject:
    window: deque[float] = field(default_factory=deque)
    second: deque[float] = field(default_factory=deque)
    execution: deque[tuple[float, float]] = field(default_factory=deque)  # (finished, ms)
    inflight: int = 0
    penalty_until: float = 0.0
    penalty_error: tuple[str, str] = ("", "")


class Throttle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = ThrottleSettings()
        self._subjects: dict[str, _Subject] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def configure(self, **settings: float | int | None) -> None:
        with self._lock:
            self.settings = ThrottleSettings(**{k: v for k, v in settings.items() if v is not None or
                                                k in ("requests_per_s", "requests_per_window", "concurrency",
                                                      "execution_ms_per_window")})
            self._subjects.clear()

    def _prune(self, st: _Subject, now: float) -> None:
        window = self.settings.window_s
        while st.window and st.window[0] <= now - window:
            st.window.popleft()
        while st.second and st.second[0] <= now - 1.0:
            st.second.popleft()
        while st.execution and st.execution[0][0] <= now - window:
            st.execution.popleft()

    def enter(self, subject: str) -> tuple[dict[str, str], dict[str, object]]:
        """Admit a request (returns rate-limit headers and log info) or raise the 429 DvError."""
        s = self.settings
        now = self._clock()
        with self._lock:
            st = self._subjects.setdefault(subject, _Subject())
            self._prune(st, now)
            if now < st.penalty_until:
                st.penalty_until += s.penalty_extension_s
                raise self._error(st, now, *st.penalty_error, during_penalty=True)
            if s.concurrency is not None and st.inflight >= s.concurrency:
                # Fails at once and opens no penalty window: the next request may pass if one has finished.
                err = DvError(429, "0x80072326", f"Number of concurrent requests exceeded the limit of "
                                                 f"{s.concurrency}.", {"Retry-After": "1"})
                err.info = {"retry_after": 1, "during_penalty": False}  # type: ignore[attr-defined]
                raise err
            if s.requests_per_window is not None and len(st.window) >= s.requests_per_window:
                raise self._penalise(st, now, st.window[0] + s.window_s, "0x80072322",
                                     f"Number of requests exceeded the limit of {s.requests_per_window} over time "
                                     f"window of {_num(s.window_s)} seconds.")
            if s.requests_per_s is not None and len(st.second) >= s.requests_per_s:
                raise self._penalise(st, now, st.second[0] + 1.0, "0x80072322",
                                     f"Number of requests exceeded the limit of {s.requests_per_s} over time window "
                                     "of 1 seconds.")
            used_ms = sum(ms for _, ms in st.execution)
            if s.execution_ms_per_window is not None and used_ms >= s.execution_ms_per_window:
                raise self._penalise(st, now, st.execution[0][0] + s.window_s, "0x80072321",
                                     "Combined execution time of incoming requests exceeded limit of "
                                     f"{s.execution_ms_per_window:,}  milliseconds over time window of "
                                     f"{_num(s.window_s)} seconds. Decrease number of concurrent requests or reduce "
                                     "the duration of requests and try again later.")
            st.window.append(now)
            st.second.append(now)
            st.inflight += 1
            limit = s.requests_per_window or DEFAULT_WINDOW_REQUESTS
            time_limit = s.execution_ms_per_window or DEFAULT_WINDOW_EXECUTION_MS
            headers = {"x-ms-ratelimit-burst-remaining-xrm-requests": str(max(0, limit - len(st.window))),
                       "x-ms-ratelimit-time-remaining-xrm-requests": f"{max(0.0, time_limit - used_ms):.2f}"}
            return headers, {}

    def leave(self, subject: str, duration_s: float) -> None:
        with self._lock:
            st = self._subjects.get(subject)
            if st is None:
                return
            st.inflight = max(0, st.inflight - 1)
            st.execution.append((self._clock(), duration_s * 1000.0))

    def inflight(self) -> int:
        """Requests currently being executed, all subjects together."""
        with self._lock:
            return sum(st.inflight for st in self._subjects.values())

    def _penalise(self, st: _Subject, now: float, until: float, code: str, message: str) -> DvError:
        st.penalty_until = max(until, now + 1.0)
        st.penalty_error = (code, message)
        return self._error(st, now, code, message)

    def _error(self, st: _Subject, now: float, code: str, message: str, during_penalty: bool = False) -> DvError:
        retry_after = max(1, math.ceil(st.penalty_until - now))
        err = DvError(429, code, message, {"Retry-After": str(retry_after)})
        err.info = {"retry_after": retry_after, "during_penalty": during_penalty,  # type: ignore[attr-defined]
                    "penalty_until": st.penalty_until}
        return err


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
