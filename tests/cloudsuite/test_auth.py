"""Tokens: password and client-credentials grants, Basic or body client auth, one refresh on a 401, a second
401 is fatal, proactive refresh (refresh_token grant when issued), single-flight across threads."""

from __future__ import annotations

import json
import threading

import pytest

from localdev.cloudsuite import CloudSuiteSimulator
from shared.cloudsuite.auth import TokenPolicy, TokenProvider
from shared.cloudsuite.ionapi import parse_ionapi
from shared.cloudsuite.transport import TransportSettings, make_session
from shared.errors import AuthError
from tests.cloudsuite.support import capture_tokens, list_requests, remember_ionapi_secrets

PRODUCTS = ("m3", "csi", "ln", "fsm")


@pytest.mark.parametrize("product", PRODUCTS)
def test_token_expiring_mid_pagination_is_refreshed_once(sim: CloudSuiteSimulator, make_client,
                                                         product: str) -> None:
    client = make_client(sim, product, page_size=10)
    pages = client.iter_changed("customer")
    first = next(pages)  # token obtained, first page read
    sim.expire_tokens()  # the gateway now refuses that token
    rest = list(pages)
    keys = [k for p in [first, *rest] for k in p.key_values()]
    assert sorted(keys) == sorted(sim.keys(product, "customer"))  # nothing skipped
    assert len(keys) == len(set(keys))  # nothing read twice
    assert sim.tokens_issued == 2
    calls = list_requests(sim)
    assert [r.status for r in calls].count(401) == 1
    # exactly one repeated request: the page that met the 401
    assert len(calls) == len({p.number for p in [first, *rest]}) + 1 + (product == "m3")


def test_second_401_is_an_auth_error(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", page_size=10)
    sim.faults.add(path="/M3/", status=401, count=2, body={"error": "invalid_token"})
    with pytest.raises(AuthError, match="HTTP 401"):
        list(client.iter_changed("customer"))
    assert sim.tokens_issued == 2  # one refresh, then give up


def test_client_credentials_grant_and_basic_client_auth(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", grant="client_credentials", token_client_auth="basic")
    assert len([k for p in client.iter_changed("supplier") for k in p.key_values()]) == 40
    assert sim.tokens_issued_by_grant == {"client_credentials": 1}


def test_wrong_credentials_are_an_auth_error_without_the_secret(sim: CloudSuiteSimulator, make_client) -> None:
    doc = sim.ionapi()
    doc["sask"] = "definitely-not-the-secret-key"
    client = make_client(sim, "m3", ionapi_text=json.dumps(doc))
    with pytest.raises(AuthError) as info:
        client.start_watermark()
    assert "HTTP 400" in str(info.value) and "invalid" in str(info.value).lower()
    assert "definitely-not-the-secret-key" not in str(info.value)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _provider(sim: CloudSuiteSimulator, clock: FakeClock) -> TokenProvider:
    remember_ionapi_secrets(sim)
    session = make_session(TransportSettings(verify=sim.ca_bundle))
    session.hooks["response"].append(capture_tokens)
    return TokenProvider(parse_ionapi(json.dumps(sim.ionapi())), session, TokenPolicy(refresh_share=0.75),
                         timeout=(5, 10), clock=clock)


def test_token_is_cached_then_refreshed_proactively_with_the_refresh_token() -> None:
    with CloudSuiteSimulator(suppliers=1, customers=1, products=("m3",), token_lifetime_s=7200,
                             issue_refresh_tokens=True) as sim:
        clock = FakeClock()
        tokens = _provider(sim, clock)
        first = tokens.get()
        clock.now += 5399
        assert tokens.get() == first  # cached until 3/4 of the lifetime
        clock.now += 1
        second = tokens.get()
        assert second != first
        assert sim.tokens_issued_by_grant == {"password": 1, "refresh_token": 1}


def test_without_refresh_token_a_new_grant_is_made() -> None:
    with CloudSuiteSimulator(suppliers=1, customers=1, products=("m3",)) as sim:
        clock = FakeClock()
        tokens = _provider(sim, clock)
        tokens.get()
        clock.now += 7200 * 0.75
        tokens.get()
        assert sim.tokens_issued_by_grant == {"password": 2}


def test_refresh_is_single_flight_across_threads() -> None:
    with CloudSuiteSimulator(suppliers=1, customers=1, products=("m3",)) as sim:
        clock = FakeClock()
        tokens = _provider(sim, clock)
        first = tokens.get()
        tokens.invalidate(first)
        barrier = threading.Barrier(8)
        seen: list[str] = []

        def worker() -> None:
            barrier.wait()
            seen.append(tokens.get())

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert len(seen) == 8 and len(set(seen)) == 1 and seen[0] != first
        assert sim.tokens_issued == 2
