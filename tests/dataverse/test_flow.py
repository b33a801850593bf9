"""Flow control and error parsing: pure pieces of the client, with exact values."""

from __future__ import annotations

import threading

import pytest

from shared import defaults
from shared.dataverse.client import parse_error, parse_retry_after
from shared.dataverse.flow import ConcurrencyLimit, InFlightKeys, PauseGate


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pause_gate_keeps_the_longest_pause() -> None:
    clock = FakeClock()
    gate = PauseGate(clock)
    gate.pause(5)
    gate.pause(2)
    assert gate.remaining() == 5
    clock.now += 4
    assert gate.remaining() == 1
    clock.now += 1
    gate.wait_open()  # open: returns at once


def test_pause_gate_blocks_other_threads_until_resumed() -> None:
    gate = PauseGate()
    gate.pause(0.2)
    passed = threading.Event()
    thread = threading.Thread(target=lambda: (gate.wait_open(), passed.set()))
    thread.start()
    assert not passed.wait(0.05)  # still paused
    assert passed.wait(2.0)
    thread.join()


def test_concurrency_limit_follows_the_dop_hint_within_the_cap() -> None:
    limit = ConcurrencyLimit(cap=4, ramp_s=0)
    assert limit.limit == 1
    limit.hint(50)
    assert limit.limit == 4
    limit.hint(2)
    assert limit.limit == 2
    limit.hint(0)
    assert limit.limit == 1


def test_parallelism_ramps_up_one_step_per_quiet_interval_and_restarts_after_a_429() -> None:
    now = [100.0]
    limit = ConcurrencyLimit(cap=4, ramp_s=1.0, clock=lambda: now[0])
    limit.hint(4)
    assert limit.limit == 1
    now[0] += 1.0
    assert limit.limit == 2
    now[0] += 5.0
    assert limit.limit == 4  # never above the hint
    limit.throttled()
    assert limit.limit == 1
    now[0] += 2.5
    assert limit.limit == 3


def test_in_flight_keys_serialise_requests_sharing_a_record() -> None:
    keys = InFlightKeys()
    order: list[str] = []

    def second() -> None:
        with keys.hold(["b", "c"]):
            order.append("second")

    with keys.hold(["a", "b"]):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.05)  # it must still be waiting for "b"
        order.append("first")
    thread.join(2.0)
    assert order == ["first", "second"]


def test_dataverse_error_bodies_yield_code_and_message() -> None:
    body = b'{"error":{"code":"0x80044331","message":"A validation error occurred."}}'
    assert parse_error(400, body) == ("0x80044331", "A validation error occurred.")
    assert parse_error(502, b"<html>Bad gateway</html>") == ("", "<html>Bad gateway</html>")
    assert parse_error(500, b"") == ("", "HTTP 500")


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("27") == 27.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
    assert parse_retry_after("soon") is None


def test_a_429_teaches_the_gate_to_pace_just_under_the_rate_the_server_admitted() -> None:
    clock = FakeClock()
    gate = PauseGate(clock)
    sends = []
    for _ in range(21):  # 20 admitted, the 21st refused with Retry-After: 1
        sends.append(gate.wait_open())
        clock.now += 0.025
    straggler = gate.wait_open()  # sent before the 429 reached us
    clock.now += 0.001
    gate.pause(1.0, sent_at=sends[-1])
    # the straggler comes back with a longer wait (the server's penalty for the race): it lengthens the
    # pause, and it does not count as admitted
    gate.pause(2.0, sent_at=straggler)
    assert gate.remaining() == pytest.approx(2.0)
    assert gate.interval == pytest.approx(1.0 / (20 * defaults.DATAVERSE_PACE_SAFETY))
    clock.now += 2.0
    first = gate.wait_open()
    interval = gate.interval  # the interval this send imposed (loosened for the 2 s since it was learned)
    learned = 1.0 / (20 * defaults.DATAVERSE_PACE_SAFETY)
    assert interval == pytest.approx(learned * (1 - 2 * defaults.DATAVERSE_PACE_RELAX_PER_S))
    assert gate.remaining() == 0 and first == clock.now
    clock.now += interval / 2
    threading.Timer(0.01, lambda: setattr(clock, "now", first + interval)).start()
    assert gate.wait_open() == pytest.approx(first + interval)  # held back until one interval had passed


def test_a_429_despite_pacing_slows_the_pace_down() -> None:
    clock = FakeClock()
    gate = PauseGate(clock)
    sent = gate.wait_open()
    gate.pause(1.0, sent_at=sent)  # nothing admitted before: one per second
    paced = gate.interval
    clock.now += 1.0
    sent = gate.wait_open()
    gate.pause(1.0, sent_at=sent)
    assert gate.interval >= paced * defaults.DATAVERSE_PACE_BACKOFF * (1 - defaults.DATAVERSE_PACE_RELAX_PER_S)


def test_the_limit_a_429_message_declares_is_read_including_the_published_line_break() -> None:
    from shared.dataverse.client import parse_declared_limit

    assert parse_declared_limit("Number of requests exceeded the limit of 6000 over time window of 300 seconds.") == (
        6000, 300.0)
    assert parse_declared_limit("Number of requests exceeded the limit of\n8000 over time window of 300 seconds.") == (
        8000, 300.0)
    assert parse_declared_limit("Number of concurrent requests exceeded the limit of 52.") is None


def test_a_declared_limit_sets_the_pace_just_under_it() -> None:
    clock = FakeClock()
    gate = PauseGate(clock)
    sent = gate.wait_open()
    gate.pause(1.0, sent_at=sent, declared=(20, 1.0))
    assert gate.interval == pytest.approx(1.0 / (19 * defaults.DATAVERSE_PACE_DECLARED_SAFETY))
