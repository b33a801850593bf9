"""The writer against the HTTPS simulator: every good record lands once, every bad one is isolated with
Dataverse's own code, limits hold on the wire, throttling is respected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared import defaults
from shared.dataverse import DataverseWriter, Status
from shared.errors import AuthError, ThrottledError, TransientError
from tests.dataverse.conftest import CLIENT_SECRET, account, config_for, contact, make_sim, writer_for

pytestmark = pytest.mark.integration

VOLATILE = {"modifiedon", "versionnumber"}


def stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in rows),
                  key=lambda r: r["cssync_sourcekey"])


def data_requests(sim: Any) -> list[Any]:
    return [r for r in sim.requests(r"^/api/data/v9\.2/") if r.info.get("kind") not in ("sdkmessagefilters",)]


def test_ten_thousand_accounts_and_contacts_land_exactly_once_and_resending_changes_nothing(sim: Any) -> None:
    accounts = [account(f"SUP-{i:05d}") for i in range(5000)]
    contacts = [contact(f"SUP-{i:05d}-01", parent=f"SUP-{i:05d}") for i in range(5000)]
    writer = writer_for(sim)
    outcomes = writer.upsert(accounts + contacts)
    assert [o.ref for o in outcomes] == [r.ref for r in accounts + contacts]
    assert {o.status for o in outcomes} == {Status.UPSERTED}
    assert len(sim.rows("account")) == 5000 and len(sim.rows("contact")) == 5000
    ids = {r["cssync_sourcekey"]: r["accountid"] for r in sim.rows("account")}
    assert all(c["parentcustomerid"] == ids[c["cssync_sourcekey"][:-3]] for c in sim.rows("contact"))
    first = (stable(sim.rows("account")), stable(sim.rows("contact")))

    assert all(o.status is Status.UPSERTED for o in writer.upsert(accounts + contacts))
    assert (stable(sim.rows("account")), stable(sim.rows("contact"))) == first

    sent = data_requests(sim)
    assert all(r.status == 204 for r in sent)
    assert max(r.request_bytes for r in sent) <= defaults.DATAVERSE_MAX_REQUEST_BYTES
    assert max(r.info["operations"] for r in sent) <= defaults.DATAVERSE_MAX_OPERATIONS
    assert sum(r.info["operations"] for r in sent) == 20000  # nothing sent twice


def test_one_invalid_record_in_500_is_isolated_with_dataverses_code_and_the_other_499_land(sim: Any) -> None:
    records = [account(f"A{i:03d}") for i in range(500)]
    records[237] = account("A237", name="x" * 161)  # account.name holds 160 characters
    writer = DataverseWriter(config_for(sim), secret=CLIENT_SECRET)
    outcomes = writer.upsert(records)
    bad = [o for o in outcomes if o.status is Status.FAILED]
    assert [(o.ref, o.code, o.retryable) for o in bad] == [("account:A237", "0x80044331", False)]
    assert "exceeded the maximum allowed length of '160'" in bad[0].message
    assert sum(o.status.written for o in outcomes) == 499
    assert len(sim.rows("account")) == 499 and sim.row_by_key("account", cssync_sourcekey="A237") is None
    # one refused UpsertMultiple, then $batch with per-operation results (no bisection cascade)
    assert [r.info["kind"] for r in data_requests(sim)] == ["upsert_multiple", "batch"]
    assert writer.requests_sent == len(sim.requests(r"^/api/data/"))


def test_a_plugin_rejection_comes_back_with_the_plugin_code(sim: Any) -> None:
    sim.poison("account", "address1_city", "Poisonville")
    records = [account("P1"), account("P2", address1_city="Poisonville"), account("P3")]
    outcomes = writer_for(sim).upsert(records)
    assert [o.status for o in outcomes] == [Status.CREATED, Status.FAILED, Status.CREATED]
    assert outcomes[1].code == "0x80040265" and "Poisonville" in outcomes[1].message
    assert outcomes[0].record_id == sim.row_by_key("account", cssync_sourcekey="P1")["accountid"]


@pytest.fixture
def own_sim() -> Iterator[Any]:
    """A simulator of its own (another URL): the pace a writer learns from 429s stays with this environment."""
    with make_sim() as sim:
        yield sim


def test_throttled_at_20_per_second_everything_lands_and_nothing_is_sent_during_retry_after(own_sim: Any) -> None:
    sim = own_sim
    sim.throttle(requests_per_s=20)
    writer = writer_for(sim, max_operations=20)
    outcomes = writer.upsert([account(f"T{i:04d}") for i in range(1000)])  # 50 requests
    assert all(o.status.written for o in outcomes)
    assert len(sim.rows("account")) == 1000
    throttled = [r for r in sim.requests(r"^/api/data/") if r.status == 429]
    assert throttled, "the test must actually be throttled"
    # A request the client had already sent when the 429 left the server could not know about it; allow for
    # that (this 2-core machine runs server and client in one process), far below the >= 1 s waits themselves.
    in_transit_s = 0.25
    offenders = []
    for late in sim.sent_during_retry_after():
        waits = [t for t in throttled if t.finished <= late.started < t.finished + t.info["retry_after"]]
        if waits and late.started - min(t.finished for t in waits) > in_transit_s:
            offenders.append(late)
    assert offenders == []
    # The 429 states its limit ("20 over time window of 1 seconds"): once the client has read it, its send window
    # keeps every later request inside the limit, so no request sent after that is refused.
    learned_at = min(t.finished for t in throttled) + in_transit_s
    assert [t.started for t in throttled if t.started > learned_at] == []


@pytest.mark.parametrize("key", ["O'Neil and Sons BV", 'Say "cheese"', "Zoë Ærø Straße",
                                 "北京-供应商", "Rocket 🚀 Supplies", "it''s  two"])
def test_quotes_non_ascii_and_emoji_round_trip_in_names_and_keys(sim: Any, key: str) -> None:
    name = f"{key} — ünïcødé 🚀"
    writer = writer_for(sim)
    parent = account(key, name=name)
    child = contact(key + "-c", parent=key, lastname="O'Brien 😀")
    assert [o.status for o in writer.upsert([parent, child])] == [Status.UPSERTED, Status.UPSERTED]
    row = sim.row_by_key("account", cssync_sourcekey=key)
    assert row is not None and row["name"] == name and row["cssync_sourcekey"] == key
    crow = sim.row_by_key("contact", cssync_sourcekey=key + "-c")
    assert crow["lastname"] == "O'Brien 😀" and crow["parentcustomerid"] == row["accountid"]
    # and again through $batch, whose keys travel on request lines
    assert [o.status for o in writer_for(sim, mode="batch").upsert([parent, child])] == [Status.UPDATED] * 2


def test_keys_dataverse_cannot_address_are_rejected_before_sending(sim: Any) -> None:
    outcomes = writer_for(sim).upsert([account("M&M"), account("OK-1"), account("A/B")])
    assert [(o.status, o.code) for o in outcomes] == [
        (Status.FAILED, "cssync.invalid_key"), (Status.UPSERTED, ""), (Status.FAILED, "cssync.invalid_key")]
    assert "'&'" in outcomes[0].message and "'/'" in outcomes[2].message
    assert len(sim.rows("account")) == 1


def test_a_contact_whose_account_does_not_exist_yet_is_deferred_then_lands(sim: Any) -> None:
    writer = writer_for(sim)
    records = [contact("C-1", parent="NOT-YET"), contact("C-2", parent=None), contact("C-3", parent="NOT-YET")]
    outcomes = writer.upsert(records)
    assert [o.status for o in outcomes] == [Status.DEFERRED, Status.CREATED, Status.DEFERRED]
    assert outcomes[0].retryable and outcomes[0].code == "0x80060891" and "NOT-YET" in outcomes[0].message
    assert writer.upsert([account("NOT-YET")])[0].status is Status.UPSERTED
    assert all(o.status.written for o in writer.upsert([records[0], records[2]]))
    assert len(sim.rows("contact")) == 3


def test_duplicate_keys_in_one_call_last_one_wins(sim: Any) -> None:
    outcomes = writer_for(sim).upsert([account("D1", name="old"), account("d1", name="new")])
    assert [o.status for o in outcomes] == [Status.SUPERSEDED, Status.UPSERTED]
    assert [r["name"] for r in sim.rows("account")] == ["new"]


def test_a_record_too_large_for_one_request_is_rejected_with_the_reason(sim: Any) -> None:
    big = account("BIG", description="é" * 1900, address1_line1="l" * 250, address1_line2="m" * 250)
    outcomes = writer_for(sim, max_request_bytes=4096).upsert([big, account("SMALL")])
    assert [(o.status, o.code) for o in outcomes] == [(Status.FAILED, "cssync.record_too_large"),
                                                      (Status.UPSERTED, "")]
    assert "the limit is 4096" in outcomes[0].message


def test_transient_faults_are_retried_and_the_records_land(sim: Any) -> None:
    sim.faults.add(path=r"CRM\.UpsertMultiple", status=503, count=2)
    sim.faults.add(path=r"CRM\.UpsertMultiple", reset=True, count=1)
    outcomes = writer_for(sim).upsert([account(f"F{i}") for i in range(10)])
    assert all(o.status.written for o in outcomes) and len(sim.rows("account")) == 10


def test_transient_exhaustion_raises_transient_error(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "DATAVERSE_BACKOFF_BASE_S", 0.01)
    sim.faults.add(path=r"CRM\.UpsertMultiple", status=500)
    with pytest.raises(TransientError):
        writer_for(sim).upsert([account("X1")])


def test_batch_mode_works_where_upsert_multiple_is_unavailable() -> None:
    with make_sim(upsert_multiple=False) as sim:
        writer = writer_for(sim)  # mode auto: detects the missing message via sdkmessagefilters
        records = [account(f"B{i:03d}") for i in range(300)] + [contact(f"B{i:03d}-1", f"B{i:03d}") for i in range(300)]
        outcomes = writer.upsert(records)
        assert {o.status for o in outcomes} == {Status.CREATED}
        assert all(o.record_id for o in outcomes)
        assert {o.status for o in writer.upsert(records)} == {Status.UPDATED}
        assert len(sim.rows("account")) == 300 and len(sim.rows("contact")) == 300
        assert not sim.requests(r"CRM\.UpsertMultiple")
        assert len(sim.requests("sdkmessagefilters")) == 2  # once per table, then cached


def test_a_batch_part_that_fails_with_5xx_is_resent_alone_and_every_record_lands(
        sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "DATAVERSE_BACKOFF_BASE_S", 0.01)
    sim.batch.part_faults.add(path=r"cssync_sourcekey='PF007'", status=503, count=2)
    sim.batch.part_faults.add(path=r"cssync_sourcekey='PF013'", status=500, count=1)
    outcomes = writer_for(sim, mode="batch").upsert([account(f"PF{i:03d}") for i in range(20)])
    assert {o.status for o in outcomes} == {Status.CREATED} and len(outcomes) == 20
    assert len(sim.rows("account")) == 20
    batches = sim.requests(r"\$batch")
    # all 20 parts, then the two failed ones, then the one that failed twice: nothing sent twice that had landed
    assert [r.info["operations"] for r in batches] == [20, 2, 1]
    assert [r.info.get("part_faults", 0) for r in batches] == [2, 1, 0]


def test_a_batch_part_failing_beyond_its_retries_is_a_transient_error_and_the_other_parts_stay_written(
        sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "DATAVERSE_BACKOFF_BASE_S", 0.01)
    sim.batch.part_faults.add(path=r"cssync_sourcekey='PX003'", status=503)
    with pytest.raises(TransientError, match="1 \\$batch operations still failing"):
        writer_for(sim, mode="batch").upsert([account(f"PX{i:03d}") for i in range(10)])
    assert sorted(r["cssync_sourcekey"] for r in sim.rows("account")) == [f"PX{i:03d}" for i in range(10) if i != 3]
    ops = [r.info["operations"] for r in sim.requests(r"\$batch")]
    assert ops == [10] + [1] * defaults.DATAVERSE_TRANSIENT_PART_RETRIES  # the queue retries the message later


def test_a_wrong_client_secret_is_an_auth_error(sim: Any) -> None:
    writer = DataverseWriter(config_for(sim, client_id="99999999-2222-3333-4444-555555555555"),
                             secret="not-the-secret-123")
    with pytest.raises(AuthError) as info:
        writer.upsert([account("X")])
    assert "not-the-secret-123" not in str(info.value)


def test_managed_identity_credential_works_against_the_simulated_endpoint(sim: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", sim.msi_header)
    writer = DataverseWriter(config_for(sim, auth="managed_identity", tenant_id=None, client_secret_name=None))
    assert writer.upsert([account("MI-1")])[0].status is Status.UPSERTED


def test_a_token_dataverse_refuses_before_it_expires_is_renewed_once_and_the_write_goes_on(sim: Any) -> None:
    writer = writer_for(sim)
    assert writer.upsert([account("E1")])[0].status is Status.UPSERTED
    issued = sim.stats()["tokens_issued"]
    sim.expire_tokens()  # server-side: the SDK's cache still thinks the token is good for an hour
    assert writer.upsert([account("E2")])[0].status is Status.UPSERTED
    assert sim.stats()["tokens_issued"] == issued + 1
    assert [r.status for r in sim.requests(r"CRM\.UpsertMultiple")][-2:] == [401, 204]


def test_a_retry_after_too_long_to_sleep_through_is_handed_to_the_queue_as_throttled_error(own_sim: Any) -> None:
    own_sim.faults.add(path=r"CRM\.UpsertMultiple", status=429, retry_after=900, count=1)
    with pytest.raises(ThrottledError) as info:
        writer_for(own_sim).upsert([account("L1")])
    assert info.value.retry_after == 900
    with pytest.raises(ThrottledError):  # every sender of the environment stays away, without a request
        writer_for(own_sim).upsert([account("L2")])
    assert len(own_sim.requests(r"CRM\.UpsertMultiple")) == 1


def test_a_server_body_limit_below_ours_is_met_by_halving() -> None:
    with make_sim(max_request_bytes=60_000) as sim:
        outcomes = writer_for(sim).upsert([account(f"H{i:04d}") for i in range(1000)])
        assert all(o.status.written for o in outcomes) and len(sim.rows("account")) == 1000
        assert {r.status for r in sim.requests(r"CRM\.UpsertMultiple")} == {204, 413}


def _max_overlap(entries: list[Any]) -> int:
    edges = sorted([(e.started, 1) for e in entries] + [(e.finished, -1) for e in entries])
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


@pytest.mark.parametrize(("dop_hint", "cap", "expected"), [(2, 4, 2), (8, 3, 3)])
def test_parallelism_follows_the_dop_hint_within_the_configured_cap(sim: Any, dop_hint: int, cap: int,
                                                                    expected: int) -> None:
    writer = writer_for(sim, max_operations=25, max_concurrency=cap)
    sim.dop_hint = dop_hint
    writer.upsert([account("WARM-UP")])  # the hint arrives with every response
    sim.server.clear_log()
    sim.faults.add(path=r"CRM\.UpsertMultiple", latency_s=0.05)  # long enough for requests to overlap
    assert all(o.status.written for o in writer.upsert([account(f"P{i:04d}") for i in range(500)]))
    assert 2 <= _max_overlap(sim.requests(r"CRM\.UpsertMultiple")) <= expected  # parallel, never above the limit


def test_without_read_access_to_sdkmessagefilters_a_missing_upsert_multiple_is_found_by_trying() -> None:
    with make_sim(upsert_multiple=False) as sim:
        denied = {"error": {"code": "0x80040220", "message": "Principal user is missing prvReadSdkMessageFilter"}}
        sim.faults.add(path="sdkmessagefilters", status=403, body=denied)
        writer = writer_for(sim)
        assert {o.status for o in writer.upsert([account(f"N{i}") for i in range(5)])} == {Status.CREATED}
        assert {o.status for o in writer.upsert([account(f"N{i}") for i in range(5)])} == {Status.UPDATED}
        assert [r.status for r in sim.requests(r"CRM\.UpsertMultiple")] == [404]  # tried once, then remembered


def test_a_concurrency_refusal_halves_parallelism_and_everything_lands(own_sim: Any) -> None:
    own_sim.throttle(concurrency=1)  # as if other instances used up the app user's concurrent requests
    own_sim.execution_delay_s = 0.05  # requests stay in flight long enough to meet
    writer = writer_for(own_sim, max_operations=25)
    writer.upsert([account("WARM-UP")])  # learn the dop hint (4)
    # 48 requests of >= 50 ms: parallelism ramps past one request after the first quiet second and meets the limit.
    assert all(o.status.written for o in writer.upsert([account(f"Q{i:04d}") for i in range(1200)]))
    assert len(own_sim.rows("account")) == 1201
    refused = [r for r in own_sim.requests(r"CRM\.UpsertMultiple") if r.status == 429]
    assert refused and {r.info["error_code"] for r in refused} == {"0x80072326"}
    assert writer.client.concurrency.limit < 4  # halved at least once, and the hint does not undo it
    assert writer.client.gate.interval == 0  # a concurrency limit is not a rate limit: no pacing learned
