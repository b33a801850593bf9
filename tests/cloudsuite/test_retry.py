"""Unit tests: the urllib3 Retry policy (backoff with jitter, Retry-After parsing and cap, 504 budget)."""

from __future__ import annotations

from urllib3.util.retry import RequestHistory

from shared.cloudsuite.transport import TransportSettings, make_retry


def test_backoff_grows_exponentially_with_bounded_jitter_from_the_first_retry() -> None:
    retry = make_retry(TransportSettings(backoff_base_s=0.5, backoff_max_s=3.0))
    assert retry.get_backoff_time() == 0.0
    delays = []
    for _ in range(4):
        retry = retry.new(history=(*retry.history, RequestHistory("GET", "/x", None, 503, None)))
        delays.append(retry.get_backoff_time())
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 1.5 and 2.0 <= delays[2] <= 2.5
    assert delays[3] == 3.0  # capped
    assert retry.parse_retry_after("0.25") == 0.25 and retry.parse_retry_after("100000") == 120.0


def test_504_is_retried_once_then_handed_to_the_pager() -> None:
    retry = make_retry(TransportSettings())
    assert retry.is_retry("GET", 504)
    retry = retry.new(history=(RequestHistory("GET", "/x", None, 504, None),))
    assert not retry.is_retry("GET", 504)
    assert retry.is_retry("GET", 503) and retry.is_retry("GET", 429)
    assert not retry.is_retry("GET", 404) and not retry.is_retry("GET", 500)
