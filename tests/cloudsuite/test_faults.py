"""Transport faults: 429/503 with and without Retry-After, exhausted retries, 504 -> smaller pages,
connection resets, truncated bodies, TLS trust and HTTPS-only."""

from __future__ import annotations

import json
import math
import time

import pytest

from localdev.cloudsuite import CloudSuiteSimulator
from shared.cloudsuite import CloudSuiteClient, CloudSuiteConfig, parse_ionapi
from shared.cloudsuite.errors import HTTPStatusError, PagingError
from shared.errors import ConfigError, ThrottledError, TransientError
from tests.cloudsuite.support import list_requests

PRODUCTS = ("m3", "csi", "ln", "fsm")
LIST_PATH = {"m3": "CRS610MI/LstByNumber", "csi": "ido/load/SLCustomers", "ln": "/LN/lnapi/odata/",
             "fsm": "/FSM/fsm/"}


def _all_keys(client: CloudSuiteClient, entity: str = "customer") -> list[str]:
    return [k for p in client.iter_changed(entity) for k in p.key_values()]


@pytest.mark.parametrize("product", PRODUCTS)
def test_429_and_503_with_retry_after_are_survived(sim: CloudSuiteSimulator, make_client, product: str) -> None:
    client = make_client(sim, product, page_size=10, max_retries=4)
    path = LIST_PATH[product]
    sim.faults.add(path=path, status=429, retry_after=0.3, count=1, body={"message": "Quota policy exceeded"})
    sim.faults.add(path=path, status=503, retry_after=0.2, count=1)
    sim.faults.add(path=path, status=429, count=1)  # no Retry-After: exponential backoff with jitter
    sim.faults.add(path=path, status=502, count=1)
    started = time.monotonic()
    keys = _all_keys(client)
    assert sorted(keys) == sorted(sim.keys(product, "customer")) and len(keys) == len(set(keys))
    assert time.monotonic() - started >= 0.5  # both Retry-After values were honoured
    statuses = [r.status for r in list_requests(sim)]
    assert sorted(s for s in statuses if s != 200) == [429, 429, 502, 503]


def test_throttling_beyond_the_retry_budget_is_a_throttled_error(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", max_retries=2)
    sim.faults.add(path="LstByNumber", status=429, retry_after=0, count=10)
    with pytest.raises(ThrottledError) as info:
        _all_keys(client)
    assert info.value.retry_after == 0
    assert [r.status for r in list_requests(sim)].count(429) == 3


def test_other_4xx_is_not_retried(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3")
    sim.faults.add(path="LstByNumber", status=404, count=5)
    with pytest.raises(HTTPStatusError) as info:
        _all_keys(client)
    assert info.value.status == 404
    assert [r.status for r in list_requests(sim)].count(404) == 1


@pytest.mark.parametrize("product", PRODUCTS)
def test_repeated_504_halves_the_page_size(sim: CloudSuiteSimulator, make_client, product: str) -> None:
    client = make_client(sim, product, page_size=20)
    sim.faults.add(path=LIST_PATH[product], status=504, count=2)  # one retry, then the pager shrinks
    keys = _all_keys(client)
    assert sorted(keys) == sorted(sim.keys(product, "customer")) and len(keys) == len(set(keys))
    pages = list(client.iter_changed("customer"))
    assert max(len(p.records) for p in pages) == 20  # a new run starts at the configured size again
    ok = [r.path for r in list_requests(sim) if r.status == 200 and LIST_PATH[product] in r.path]
    sizes = {"m3": "maxrecs=11", "csi": "recordCap=10", "ln": "%24top=10", "fsm": "_limit=10"}
    assert sizes[product] in ok[0]


def test_504_at_page_size_one_gives_up_as_transient(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "fsm", page_size=1)
    sim.faults.add(path="/FSM/", status=504, count=10)
    with pytest.raises(TransientError, match="HTTP 504"):
        _all_keys(client)


def test_connection_reset_and_truncated_body_are_retried(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", page_size=10)
    sim.faults.add(path="LstByNumber", reset=True, count=1)
    sim.faults.add(path="LstByNumber", truncate=True, count=1)
    keys = _all_keys(client)
    assert sorted(keys) == sorted(sim.keys("m3", "customer")) and len(keys) == len(set(keys))


def test_max_pages_guard_stops_a_runaway_listing(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "csi", page_size=5, max_pages=3)
    with pytest.raises(PagingError, match="max_pages"):
        _all_keys(client)
    assert len(list_requests(sim)) == 3


def test_untrusted_certificate_is_a_config_error_and_verification_cannot_be_disabled(
        sim: CloudSuiteSimulator) -> None:
    config = CloudSuiteConfig.from_section({"product": "m3", "ionapi_secret": "x", "max_retries": 0})
    ionapi = parse_ionapi(json.dumps(sim.ionapi()))
    with CloudSuiteClient(config, ionapi, connection="acme") as client, pytest.raises(ConfigError) as info:
        client.start_watermark()  # system trust store does not know the simulator's private CA
    assert "TLS verification failed" in str(info.value)
    with pytest.raises(ConfigError, match="cannot be disabled"):
        CloudSuiteClient(config, ionapi, connection="acme", verify=False)


def test_floor_holds_for_page_sizes_that_do_not_divide_the_total(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", page_size=6)
    assert len(_all_keys(client)) == 45
    assert len(list_requests(sim)) == math.ceil(45 / 6) + 1
