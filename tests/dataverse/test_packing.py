"""Packing: exact-byte measurement, limits, de-duplication, validation and the UpsertMultiple body shape."""

from __future__ import annotations

import json

import pytest

from shared.dataverse import multipart
from shared.dataverse.model import Limits, Mode, Status, UpsertRecord
from shared.dataverse.packing import Encoder, plan, plan_requests, upsert_multiple_body

ENCODER = Encoder()


def account(key: str, name: str = "Fabrikam", **extra: object) -> UpsertRecord:
    return UpsertRecord("account", {"cssync_sourcekey": key}, {"name": name, **extra}, ref=f"ref-{key}")


def built(request_plan, index: int) -> bytes:
    ops = request_plan.requests[index]
    if request_plan.mode is Mode.BATCH:
        return multipart.build_body((op.data for op in ops), multipart.new_boundary())
    return upsert_multiple_body(op.data for op in ops)


def test_upsert_multiple_target_has_type_and_key_url_and_never_repeats_the_key_in_the_body() -> None:
    record = UpsertRecord("contact", {"cssync_sourcekey": "C-1"},
                          {"cssync_sourcekey": "C-1", "lastname": "O'Neil"}, ref="r1", parent_key="SUP 1")
    target = json.loads(ENCODER.upsert_multiple_target(record))
    assert target == {"@odata.type": "Microsoft.Dynamics.CRM.contact",
                      "@odata.id": "contacts(cssync_sourcekey='C-1')",
                      "lastname": "O'Neil",
                      "parentcustomerid_account@odata.bind": "/accounts(cssync_sourcekey='SUP%201')"}


def test_batch_part_patches_the_key_url_and_asks_for_the_id() -> None:
    part = ENCODER.batch_part(account("A'1", "Zoë"))
    assert part == ("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                    "PATCH /api/data/v9.2/accounts(cssync_sourcekey='A''1')?$select=accountid HTTP/1.1\r\n"
                    "Content-Type: application/json; type=entry\r\nPrefer: return=representation\r\n\r\n"
                    '{"name":"Zoë"}\r\n').encode()


@pytest.mark.parametrize("mode", [Mode.UPSERT_MULTIPLE, Mode.BATCH])
def test_planned_sizes_equal_the_bytes_built_and_stay_within_the_byte_limit(mode: Mode) -> None:
    records = [account(f"K{i}", "x" * (i % 700), description="é🚀" * (i % 50)) for i in range(3000)]
    limits = Limits(max_request_bytes=64 * 1024, max_operations=1000)
    request_plan = plan(records, limits, mode, ENCODER)
    assert not request_plan.rejected
    sizes = request_plan.sizes()
    for i, size in enumerate(sizes):
        assert len(built(request_plan, i)) == size <= limits.max_request_bytes
    assert sum(len(r) for r in request_plan.requests) == 3000
    # greedy packing wastes less than one record per request
    floor = -(-sum(sizes) // limits.max_request_bytes)
    assert len(sizes) <= floor + 1


def test_operation_limit_splits_small_records() -> None:
    request_plan = plan_requests("account", [account(f"K{i}") for i in range(2500)])
    assert [len(b) for b in request_plan.batches] == [1000, 1000, 500]


def test_a_record_too_large_for_any_request_is_rejected_with_the_reason() -> None:
    records = [account("small"), account("huge", "x", description="y" * 5000), account("small2")]
    request_plan = plan_requests("account", records, Limits(max_request_bytes=4096))
    assert request_plan.batches == [[records[0], records[2]]]
    [(record, outcome)] = request_plan.rejected
    assert record is records[1]
    assert outcome.status is Status.FAILED and outcome.code == "cssync.record_too_large"
    assert "the limit is 4096" in outcome.message


def test_duplicate_keys_last_one_wins_and_earlier_ones_are_superseded() -> None:
    first, other, last = account("K1", "old"), account("K2"), account("k1 ", "new")  # same row in Dataverse
    request_plan = plan_requests("account", [first, other, last])
    assert request_plan.batches == [[other, last]]
    [(record, outcome)] = request_plan.rejected
    assert record is first and outcome.status is Status.SUPERSEDED and "ref-k1 " in outcome.message


def test_forbidden_key_characters_are_rejected_before_sending() -> None:
    records = [account("M&M"), UpsertRecord("contact", {"cssync_sourcekey": "C1"}, {}, "c", parent_key="A/1")]
    request_plan = plan(records, Limits(), Mode.UPSERT_MULTIPLE, ENCODER)
    assert request_plan.requests == ()
    assert [(o.code, "does not accept" in o.message) for _, o in request_plan.rejected] == [
        ("cssync.invalid_key", True), ("cssync.invalid_key", True)]


def test_accounts_are_planned_before_contacts() -> None:
    contact = UpsertRecord("contact", {"cssync_sourcekey": "C1"}, {"lastname": "X"}, "c", parent_key="A1")
    request_plan = plan([contact, account("A1")], Limits(), Mode.UPSERT_MULTIPLE, ENCODER)
    assert [[r.table for r in b] for b in request_plan.batches] == [["account"], ["contact"]]
