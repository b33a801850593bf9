"""The whole sync on the local stack: Azurite + both simulators + the local host running the real functions.

Per product (M3 and CSI) one stack with 10,000 suppliers and 10,000 customers is shared by the tests of this
module, which run in order: initial sync, a change, an idle poll, a duplicate delivery, a rejected record and
its replay, the audit trail. Reconciliation uses a small LN stack (no change stamps: full scans).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from localdev.stack import LocalStack, start_stack
from shared import audit, defaults, messages
from shared.config import get_settings
from shared.messages import PageMessage
from shared.pipeline.runtime import runtime

pytestmark = pytest.mark.integration
RECORDS = int(os.environ.get("E2E_RECORDS", "10000"))  # per entity; the figure by default
KEY = defaults.DATAVERSE_KEY_COLUMN


def _mapped_source(stack: LocalStack) -> dict[str, dict[str, dict[str, Any]]]:
    """Every CloudSuite record read through the real client and mapped: {table: {key: payload}}."""
    from shared.mapping import map_record

    rt = runtime(get_settings())
    conn = rt.connection(stack.connection)
    client = rt.cloudsuite(conn)
    mapping = rt.mapping(conn, client.product)
    expected: dict[str, dict[str, dict[str, Any]]] = {"account": {}, "contact": {}}
    for entity in conn.entities:
        for page in client.iter_changed(entity, None):
            for raw in page.records:
                for row in map_record(mapping, entity, raw).rows:
                    expected[row.table][row.key[KEY]] = dict(row.payload)
    return expected


def _dataverse_by_key(stack: LocalStack, table: str) -> dict[str, dict[str, Any]]:
    return {row[KEY]: row for row in stack.dataverse.rows(table)}


def _api_requests(stack: LocalStack) -> list[Any]:
    return stack.dataverse.requests(r"/api/data/v9\.2/(accounts|contacts|\$batch)")


def _operations(stack: LocalStack, since: int = 0) -> int:
    """Operations Dataverse accepted (a throttled or failed request that was retried is not a write)."""
    return sum(int(r.info.get("operations", 1)) for r in _api_requests(stack)[since:] if r.status < 300)


def _versions(stack: LocalStack) -> dict[tuple[str, str], int]:
    return {(t, r[KEY]): r["versionnumber"] for t in ("account", "contact") for r in stack.dataverse.rows(t)}


@pytest.fixture(scope="module", params=["m3", "csi"])
def stack(request) -> Iterator[LocalStack]:
    with start_stack(request.param, suppliers=RECORDS, customers=RECORDS) as local:
        local.start_host()
        yield local


def test_initial_sync_lands_every_record_exactly_as_mapped(stack):
    stack.sync(timeout_s=600)
    expected = _mapped_source(stack)
    assert len(expected["account"]) == 2 * RECORDS
    for table in ("account", "contact"):
        actual = _dataverse_by_key(stack, table)
        assert sorted(actual) == sorted(expected[table]), f"{table}: keys differ"
        accounts = _dataverse_by_key(stack, "account")
        for key, payload in expected[table].items():
            row = actual[key]
            for column, value in payload.items():
                if column.endswith("@odata.bind"):
                    parent_key = value.split("'", 1)[1].rsplit("'", 1)[0].replace("''", "'")
                    assert row["parentcustomerid"] == accounts[parent_key]["accountid"], key
                else:
                    assert row.get(column) == value, f"{table} {key} {column}"
    failed = [i for i in stack.host.invocations if not i.succeeded]
    assert failed == []


def test_a_change_in_cloudsuite_appears_after_the_next_poll_and_nothing_else_is_written(stack):
    entity_key = stack.cloudsuite.keys(stack.product, "supplier")[42]
    name_field = {"m3": "SUNM", "csi": "Name"}[stack.product]
    stack.cloudsuite.change_record(stack.product, "supplier", entity_key, **{name_field: "Brand New Name AS"})
    stack.cloudsuite.advance_clock(60)
    before, versions = len(_api_requests(stack)), _versions(stack)
    stack.sync()
    assert _operations(stack, since=before) == 1
    after = _versions(stack)
    changed = [key for key, version in versions.items() if after[key] != version]
    assert changed == [("account", f"{stack.connection}|S|{entity_key.strip()}")]
    assert _dataverse_by_key(stack, "account")[changed[0][1]]["name"] == "Brand New Name AS"


def test_a_poll_with_no_changes_sends_no_dataverse_request_and_no_write_message(stack):
    before_api = len(stack.dataverse.requests())
    before_writes = len(stack.host.invocations_of("write_dataverse"))
    stack.sync()
    assert stack.dataverse.requests()[before_api:] == []
    assert len(stack.host.invocations_of("write_dataverse")) == before_writes


def test_the_same_page_delivered_twice_gives_the_same_end_state_and_one_write(stack):
    product = stack.product
    name_field = {"m3": "CUNM", "csi": "Name"}[product]
    keys = stack.cloudsuite.keys(product, "customer")[:2]
    for i, key in enumerate(keys):
        stack.cloudsuite.change_record(product, "customer", key, **{name_field: f"Twice Delivered {i}"})
    rt = runtime(get_settings())
    client = rt.cloudsuite(rt.connection(stack.connection))
    page = next(iter(client.iter_changed("customer", None)))
    message = PageMessage(job_id="20261127T000000Z-dupdup", connection=stack.connection, product=page.product,
                          entity="customer", page=1, key_field=page.key_field, records=list(page.records),
                          polled_at="2026-11-27T00:00:00.000Z")
    before = len(_api_requests(stack))
    for _ in range(2):
        rt.send(defaults.PAGES_QUEUE, message)
    assert stack.host.wait_idle(timeout_s=120)
    assert _operations(stack, since=before) == 2  # the two changed accounts, once each
    names = sorted(r["name"] for r in stack.dataverse.rows("account") if r["name"].startswith("Twice Delivered"))
    assert names == ["Twice Delivered 0", "Twice Delivered 1"]


def test_a_record_dataverse_rejects_is_dead_lettered_and_a_replay_lands_it_after_the_fix(stack):
    product = stack.product
    name_field = {"m3": "SUNM", "csi": "Name"}[product]
    keys = stack.cloudsuite.keys(product, "supplier")[100:103]
    stack.dataverse.poison("account", "name", "Poisoned Supplier AS")
    stack.cloudsuite.change_record(product, "supplier", keys[0], **{name_field: "Poisoned Supplier AS"})
    for key in keys[1:]:
        stack.cloudsuite.change_record(product, "supplier", key, **{name_field: f"Fine Supplier {key.strip()}"})
    stack.cloudsuite.advance_clock(60)
    stack.sync()
    rt = runtime(get_settings())
    dead = [r for r in rt.deadletter.list_entities() if r.get("status") == "dead"]
    assert len(dead) == 1
    assert dead[0]["source_key"].endswith(keys[0].strip()) and dead[0]["stage"] == "write"
    assert dead[0]["code"].startswith("0x") and dead[0]["reason"]
    names = {r["name"] for r in stack.dataverse.rows("account")}
    assert {f"Fine Supplier {k.strip()}" for k in keys[1:]} <= names
    assert "Poisoned Supplier AS" not in names

    stack.dataverse.clear_poison()  # the fix: Dataverse accepts the value now
    host = stack.host
    dry = requests.post(f"{host.http_url}/api/replay", params={"dry_run": "true", "connection": stack.connection},
                        headers={"x-functions-key": host.function_key}, timeout=30).json()
    assert (dry["matched"], dry["replayed"]) == (1, 0)
    answer = requests.post(f"{host.http_url}/api/replay", params={"connection": stack.connection},
                           headers={"x-functions-key": host.function_key}, timeout=30)
    assert answer.status_code == 200 and answer.json()["replayed"] == 1
    assert host.wait_idle(timeout_s=120)
    assert "Poisoned Supplier AS" in {r["name"] for r in stack.dataverse.rows("account")}
    statuses = [r["status"] for r in rt.deadletter.list_entities() if r["source_key"] == dead[0]["source_key"]]
    assert statuses == ["replayed"]


def test_replay_without_a_function_key_is_refused(stack):
    assert requests.post(f"{stack.host.http_url}/api/replay", timeout=30).status_code == 401


def test_the_audit_trail_answers_for_a_record_and_for_a_job(stack):
    rt = runtime(get_settings())
    key = f"{stack.connection}|S|{stack.cloudsuite.keys(stack.product, 'supplier')[42].strip()}"
    history = audit.record_history(rt.audit, rt.state, rt.deadletter, stack.connection, "account", key)
    assert history["outcome"] in ("upserted", "created", "updated")
    assert history["job_id"] and history["batch_id"] and history["written_at"]
    report = audit.job_report(rt.audit, history["job_id"])
    assert report["run"]["status"] == "completed"
    assert report["written"] >= 1 and report["read"] >= 1
    jobs = audit.recent_jobs(rt.audit, stack.connection, limit=50)
    assert history["job_id"] in {j["job_id"] for j in jobs}


def test_poison_messages_are_drained_back_to_their_queue(stack):
    rt = runtime(get_settings())
    body = messages.encode(PageMessage(job_id="20261127T000000Z-poison", connection=stack.connection,
                                       product=stack.product, entity="supplier", page=9, key_field="X", records=[],
                                       polled_at="2026-11-27T00:00:00.000Z"), rt.put_blob).body
    poison = QueueClient.from_connection_string(stack.env["AzureWebJobsStorage"],
                                                defaults.PAGES_QUEUE + defaults.POISON_SUFFIX)
    with contextlib.suppress(ResourceExistsError):
        poison.create_queue()
    poison.send_message(base64.b64encode(body).decode())
    stack.fire("replay_deadletter_timer")
    assert poison.get_queue_properties().approximate_message_count == 0
    assert stack.host.wait_idle(timeout_s=60)
    page_runs = [i for i in stack.host.invocations_of("transform_records") if i.succeeded]
    assert page_runs  # the drained page went through transform_records again
    moves = list(rt.audit.query_entities("PartitionKey eq @pk", parameters={"pk": "job|20261127T000000Z-poison"}))
    assert any(json.dumps(m.get("action")) == '"replayed"' for m in moves)
