"""Wait on a condition with a deadline (tests, demo): never a bare sleep hoping something happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout_s: float = 30.0, interval_s: float = 0.05,
             message: str = "condition") -> T:
    """Poll ``condition`` until it returns a truthy value; raise AssertionError at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.1f} s waiting for {message}")
        time.sleep(interval_s)
