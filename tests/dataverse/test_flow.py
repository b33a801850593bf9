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


def _wait_open_at(gate: PauseGate, clock: FakeClock, ticks: list[float]) -> float:
    """``gate.wait_open()`` on a fake clock: each time the gate waits, the clock jumps to the next tick."""
    result: list[float] = []
    thread = threading.Thread(target=lambda: result.append(gate.wait_open()))
    thread.start()
    for tick in ticks:
        thread.join(0.05)
        if not thread.is_alive():
            break
        clock.now = tick
        with gate._cond:  # wake the waiter so it reads the new time
            gate._cond.notify_all()
    thread.join(2.0)
    assert result, "wait_open never returned"
    return result[0]


def test_a_declared_limit_keeps_every_window_within_it_counting_until_the_response_plus_the_window() -> None:
    clock = FakeClock()
    gate = PauseGate(clock)
    for sent_at, done_at in ((100.0, 100.5), (100.5, 100.6), (100.6, 100.9)):  # three admitted sends
        clock.now = sent_at
        assert gate.wait_open() == sent_at
        clock.now = done_at
        gate.finished(sent_at)
    refused = gate.wait_open()  # the fourth is refused: 3 per 2 s
    clock.now = 100.95
    gate.finished(refused)
    gate.pause(1.0, sent_at=refused, declared=(3, 2.0))
    assert gate.interval == 0  # no fixed pace: the window decides
    assert gate.window == (3, 2.0)
    # The Retry-After ends at 101.95, but the three admitted sends count until 2 s after their responses.
    assert _wait_open_at(gate, clock, [101.95, 102.5]) == 102.5
    # That one is on the wire; the next waits for the second response's window (the refused one never counts).
    assert _wait_open_at(gate, clock, [102.55, 102.6]) == 102.6


def _refused(gate: PauseGate, declared: tuple[int, float]) -> None:
    """Send one request and have it refused with a 429 that declares ``declared`` (Retry-After: 1)."""
    sent = gate.wait_open()
    gate.finished(sent)
    gate.pause(1.0, sent_at=sent, declared=declared)


def test_a_request_on_the_wire_holds_its_place_in_the_send_window() -> None:
    clock = FakeClock()
    gate = PauseGate(clock)
    _refused(gate, (1, 1.0))
    clock.now += 5.0
    on_the_wire = gate.wait_open()
    waiter: list[float] = []
    thread = threading.Thread(target=lambda: waiter.append(gate.wait_open()))
    thread.start()
    clock.now += 10.0  # long after the window: still blocked, because the request has no response yet
    thread.join(0.1)
    assert not waiter
    gate.finished(on_the_wire)  # answered now: it counts for one more window
    clock.now += 1.0
    with gate._cond:
        gate._cond.notify_all()
    thread.join(2.0)
    assert waiter == [clock.now]


def test_a_429_inside_the_declared_window_means_a_shared_user_and_lowers_the_allowance() -> None:
    clock = FakeClock()
    gate = PauseGate(clock)
    _refused(gate, (30, 1.0))
    assert gate.window == (30, 1.0)
    clock.now += 1.5
    _refused(gate, (30, 1.0))  # sent inside the window we keep, and still refused: somebody else uses it too
    assert gate.window == (int(30 / defaults.DATAVERSE_PACE_BACKOFF), 1.0)
    clock.now += 100.0  # the allowance recovers with time, never above the declared limit
    gate.wait_open()
    assert gate.window == (int(20 + 30 * defaults.DATAVERSE_PACE_RELAX_PER_S * 100.0), 1.0)
    clock.now += 10_000.0
    gate.wait_open()
    assert gate.window == (30, 1.0)
