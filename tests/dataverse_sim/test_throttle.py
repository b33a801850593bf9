"""Service protection (reference section 6): 429 + Retry-After with the exact codes and messages, per token subject,
longer waits for clients that keep sending, and the request log that lets writer tests prove good behaviour."""

from __future__ import annotations

import threading
import time

from azure.identity import ManagedIdentityCredential

from tests.dataverse_sim.helpers import Api, api_for, error_of, wait_for


def test_request_limit_gives_429_with_exact_code_message_and_headers(sim, api):
    sim.throttle(requests_per_window=3, window_s=300)
    assert [api.get("WhoAmI").status_code for _ in range(3)] == [200, 200, 200]
    r = api.get("WhoAmI")
    assert r.status_code == 429
    assert r.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    assert r.headers["OData-Version"] == "4.0"
    assert 299 <= int(r.headers["Retry-After"]) <= 300
    assert r.json() == {"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit of 3 over "
                                                                   "time window of 300 seconds."}}


def test_sending_during_the_penalty_lengthens_retry_after_and_is_logged(sim, api):
    sim.throttle(requests_per_window=1, window_s=5)
    api.get("WhoAmI")
    first = int(api.get("WhoAmI").headers["Retry-After"])
    second = api.get("WhoAmI")
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) >= first
    assert second.json()["error"]["code"] == "0x80072322"
    offenders = sim.sent_during_retry_after()
    assert len(offenders) == 1 and offenders[0].info["during_penalty"] is True


def test_per_second_rate_and_a_client_that_waits_retry_after(sim, api):
    sim.throttle(requests_per_s=2)
    assert [api.get("WhoAmI").status_code for _ in range(2)] == [200, 200]
    r = api.get("WhoAmI")
    assert error_of(r) == (429, "0x80072322", "Number of requests exceeded the limit of 2 over time window of 1 "
                                              "seconds.")
    assert r.headers["Retry-After"] == "1"
    resume_at = time.monotonic() + int(r.headers["Retry-After"])
    wait_for(lambda: time.monotonic() >= resume_at, timeout_s=3)
    assert api.get("WhoAmI").status_code == 200
    assert sim.sent_during_retry_after() == []
    throttled = [e for e in sim.requests("WhoAmI") if e.status == 429]
    assert len(throttled) == 1 and throttled[0].info["retry_after"] == 1


def test_limits_are_per_token_subject(sim, api, monkeypatch):
    sim.throttle(requests_per_window=1)
    assert api.get("WhoAmI").status_code == 200
    assert api.get("WhoAmI").status_code == 429
    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", sim.msi_header)
    other = Api(sim, ManagedIdentityCredential().get_token(sim.scope).token)
    assert other.get("WhoAmI").status_code == 200


def test_concurrency_limit_is_0x80072326(sim_factory):
    sim = sim_factory(execution_delay_s=0.3)
    sim.throttle(concurrency=1)
    api = api_for(sim)
    results: list[int] = []
    started = threading.Event()

    def slow() -> None:
        started.set()
        results.append(api.get("WhoAmI").status_code)

    worker = threading.Thread(target=slow)
    worker.start()
    started.wait(5)
    wait_for(lambda: sim.throttler.inflight() == 1)
    second = Api(sim, api.session.headers["Authorization"][7:]).get("WhoAmI")
    worker.join(10)
    assert results == [200]
    assert error_of(second) == (429, "0x80072326", "Number of concurrent requests exceeded the limit of 1.")
    assert second.headers["Retry-After"] == "1"


def test_execution_time_limit_is_0x80072321(sim_factory):
    sim = sim_factory(execution_delay_s=0.06)
    sim.throttle(execution_ms_per_window=50, window_s=300)
    api = api_for(sim)
    assert api.get("WhoAmI").status_code == 200
    r = api.get("WhoAmI")
    assert error_of(r) == (429, "0x80072321", "Combined execution time of incoming requests exceeded limit of 50  "
                                              "milliseconds over time window of 300 seconds. Decrease number of "
                                              "concurrent requests or reduce the duration of requests and try again "
                                              "later.")


def test_a_batch_counts_as_one_request(sim, api):
    sim.throttle(requests_per_window=2)
    crlf = "\r\n"
    part = (f"--b{crlf}Content-Type: application/http{crlf}Content-Transfer-Encoding: binary{crlf}{crlf}"
            f"PATCH /api/data/v9.2/accounts(cssync_sourcekey='A') HTTP/1.1{crlf}Content-Type: application/json"
            f"{crlf}{crlf}{{\"name\":\"a\"}}{crlf}")
    body = (part * 5) + f"--b--{crlf}"
    r = api.post("$batch", data=body.encode(), headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert r.status_code == 200
    assert api.get("WhoAmI").status_code == 200
    assert api.get("WhoAmI").status_code == 429


def test_stats_report_request_sizes_and_operations(sim, api):
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": f"accounts(cssync_sourcekey='K{i}')",
                "name": f"n{i}"} for i in range(25)]
    r = api.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets})
    assert r.status_code == 204
    stats = sim.stats()
    entry = sim.requests("UpsertMultiple")[0]
    assert entry.info["operations"] == 25
    assert stats["max_operations"] == 25
    assert stats["max_request_bytes"] == entry.request_bytes == len(r.request.body)
    assert stats["by_kind"]["upsert_multiple"] == 1
    assert stats["rows"] == {"account": 25, "contact": 0}
