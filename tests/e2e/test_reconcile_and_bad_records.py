"""Reconciliation (LN: no change stamps, full scans) and records the mapping rejects, on the local stack."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from localdev.stack import LocalStack, start_stack
from shared import audit, defaults
from shared.config import get_settings
from shared.pipeline.runtime import runtime

pytestmark = pytest.mark.integration
KEY = defaults.DATAVERSE_KEY_COLUMN


@pytest.fixture(scope="module")
def ln_stack() -> Iterator[LocalStack]:
    # reconcile_days tiny: every poll after the first is a reconciliation run.
    with start_stack("ln", suppliers=120, customers=120,
                     connection_overrides={"cloudsuite": {"reconcile_days": 1e-9}}) as local:
        local.start_host()
        local.sync(timeout_s=120)
        yield local


def _account(stack: LocalStack, bp: str) -> dict:
    rows = [r for r in stack.dataverse.rows("account") if r[KEY] == f"{stack.connection}|BP|{bp}"]
    assert len(rows) == 1, bp
    return rows[0]


def _supplier_only(stack: LocalStack) -> list[str]:
    """Active partners that are suppliers only (a both-roles partner would still be listed as a customer)."""
    customers = set(stack.cloudsuite.keys("ln", "customer"))
    return [r["BusinessPartner"] for r in stack.cloudsuite.records("ln", "supplier")
            if r["BusinessPartner"] not in customers and r["BusinessPartnerStatus"] == "Active"]


def test_partners_in_both_roles_become_one_account(ln_stack):
    suppliers = set(ln_stack.cloudsuite.keys("ln", "supplier"))
    customers = set(ln_stack.cloudsuite.keys("ln", "customer"))
    assert suppliers & customers, "the simulated tenant has partners in both roles"
    assert len(ln_stack.dataverse.rows("account")) == len(suppliers | customers)


def test_reconciliation_deactivates_deleted_and_deactivated_source_records(ln_stack):
    deleted, deactivated, untouched = _supplier_only(ln_stack)[:3]
    ln_stack.cloudsuite.delete("ln", "supplier", deleted)
    ln_stack.cloudsuite.deactivate("ln", "supplier", deactivated)
    ln_stack.sync(timeout_s=120)
    for bp in (deleted, deactivated):
        row = _account(ln_stack, bp)
        assert (row["statecode"], row["statuscode"]) == (1, 2), bp
    assert _account(ln_stack, untouched)["statecode"] == 0
    assert len(ln_stack.dataverse.rows("account")) == len(set(ln_stack.cloudsuite.keys("ln", "supplier")) |
                                                          set(ln_stack.cloudsuite.keys("ln", "customer"))) + 1


def test_an_unchanged_full_scan_writes_nothing(ln_stack):
    before = len(ln_stack.dataverse.requests())
    ln_stack.sync(timeout_s=120)
    assert ln_stack.dataverse.requests()[before:] == []


def test_a_record_the_mapping_rejects_is_dead_lettered_and_the_rest_of_its_page_lands(ln_stack):
    bad, good = _supplier_only(ln_stack)[5:7]
    ln_stack.cloudsuite.change_record("ln", "supplier", bad, Name="")
    ln_stack.cloudsuite.change_record("ln", "supplier", good, Name="Still Fine GmbH")
    ln_stack.sync(timeout_s=120)
    assert _account(ln_stack, good)["name"] == "Still Fine GmbH"
    rt = runtime(get_settings())
    dead = [r for r in rt.deadletter.list_entities() if r.get("stage") == "transform"]
    assert [r["source_key"] for r in dead] == [f"{ln_stack.connection}|BP|{bad}"]
    assert "has no name" in dead[0]["reason"]
    report = audit.job_report(rt.audit, dead[0]["job_id"])
    assert report["invalid"] == 1 and report["written"] >= 1


def test_no_secret_reaches_logs_tables_or_messages(ln_stack):
    """Real secret values (.ionapi keys, the Dataverse client secret) never appear in logs or storage."""
    ionapi = ln_stack.cloudsuite.ionapi()
    secrets = [ionapi[k] for k in ("ci", "cs", "saak", "sask")] + [ln_stack.dataverse.entra.client_secret]
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Capture(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        ln_stack.cloudsuite.change_record("ln", "supplier", _supplier_only(ln_stack)[9], Name="Logged Change AG")
        ln_stack.cloudsuite.expire_tokens()  # forces a new token grant inside the captured window
        ln_stack.sync(timeout_s=120)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    rt = runtime(get_settings())
    stored = [str(dict(e)) for t in (rt.state, rt.audit, rt.deadletter) for e in t.list_entities()]
    assert len(records) > 50 and stored
    for secret in secrets:
        assert not [line for line in records if secret in line]
        assert not [row for row in stored if secret in row]


def test_operator_cli_answers_for_jobs_records_and_keys(ln_stack, capsys):
    from shared.cli import main

    assert main(["provision", "--connection", ln_stack.connection]) == 0  # keys exist and are Active: no-op
    assert "account" in capsys.readouterr().out
    assert main(["jobs", "--connection", ln_stack.connection, "--limit", "3"]) == 0
    jobs = json.loads(capsys.readouterr().out)
    assert len(jobs) == 3 and all(j["job_id"] for j in jobs)
    key = f"{ln_stack.connection}|BP|{_supplier_only(ln_stack)[20]}"
    assert main(["record", "--connection", ln_stack.connection, "--key", key]) == 0
    history = json.loads(capsys.readouterr().out)
    assert history["outcome"] in ("upserted", "created", "updated") and history["job_id"]
    assert main(["job", history["job_id"]]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["status"] == "completed"
    assert main(["record", "--connection", ln_stack.connection, "--key", "nope|BP|X"]) == 1
    capsys.readouterr()
    assert main(["job", "no-such-job"]) == 1


def test_a_dataverse_outage_longer_than_the_writers_retries_is_retried_by_the_queue(ln_stack):
    """The writer gives up (TransientError), the host redelivers the message, the claim is handed back."""
    bp = _supplier_only(ln_stack)[12]
    ln_stack.cloudsuite.change_record("ln", "supplier", bp, Name="Outage Survivor GmbH")
    fault = ln_stack.dataverse.faults.add(path=r"UpsertMultiple|\$batch", status=503, count=7)
    before = len(ln_stack.host.invocations_of("write_dataverse"))
    ln_stack.sync(timeout_s=180)
    writes = ln_stack.host.invocations_of("write_dataverse")[before:]
    assert fault.hits == 7
    assert [w.succeeded for w in writes][-1] and not all(w.succeeded for w in writes)
    assert _account(ln_stack, bp)["name"] == "Outage Survivor GmbH"
