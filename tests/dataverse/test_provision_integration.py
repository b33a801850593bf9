"""Provisioning against the simulator: creates key columns and alternate keys on an empty environment, waits
for the index jobs, reports a Failed index clearly, and is a no-op the second time."""

from __future__ import annotations

import pytest

from shared.dataverse import Status, UpsertRecord, provision
from tests.dataverse.conftest import CLIENT_SECRET, account, config_for, contact, make_sim, writer_for

pytestmark = pytest.mark.integration

POLL_S = 0.05  # the simulator builds an index in key_activation_s; production polls every few seconds


def test_provisioning_creates_columns_and_keys_on_an_empty_environment_and_is_a_no_op_the_second_time() -> None:
    with make_sim(keys={}, custom_columns={}, key_activation_s=0.3) as sim:
        config = config_for(sim, solution="cssync")
        before = provision(config, create=False, secret=CLIENT_SECRET)
        assert not before.ok and not before.changed
        assert [t.missing_columns for t in before.tables] == [("cssync_sourcekey",), ("cssync_sourcekey",)]
        assert "do not exist on account" in before.summary()

        created = provision(config, create=True, secret=CLIENT_SECRET, timeout_s=30, poll_s=POLL_S)
        assert created.ok, created.summary()
        assert [(t.table, t.created_columns, t.key_created, t.key_status) for t in created.tables] == [
            ("account", ("cssync_sourcekey",), True, "Active"), ("contact", ("cssync_sourcekey",), True, "Active")]
        creates = [r for r in sim.requests(r"EntityDefinitions") if r.method == "POST"]
        assert len(creates) == 4  # two columns, two keys

        again = provision(config, create=True, secret=CLIENT_SECRET, timeout_s=30, poll_s=POLL_S)
        assert again.ok and not again.changed
        assert len([r for r in sim.requests(r"EntityDefinitions") if r.method == "POST"]) == 4

        outcomes = writer_for(sim).upsert([account("P-1"), contact("P-1-1", parent="P-1")])
        assert [o.status for o in outcomes] == [Status.UPSERTED, Status.UPSERTED]


def test_a_failed_index_is_reported_clearly() -> None:
    with make_sim(keys={}, key_activation_s=0.1) as sim:  # columns exist, keys do not
        sim.key_index_outcome = "Failed"
        report = provision(config_for(sim), create=True, secret=CLIENT_SECRET, timeout_s=30, poll_s=POLL_S)
        assert not report.ok
        assert [t.key_status for t in report.tables] == ["Failed", "Failed"]
        assert [t.created_columns for t in report.tables] == [(), ()]
        assert "FAILED to build" in report.summary() and "ReactivateEntityKey" in report.summary()


def test_an_index_still_building_at_the_deadline_is_reported_not_ready() -> None:
    with make_sim(keys={}, key_activation_s=60) as sim:
        report = provision(config_for(sim), create=True, secret=CLIENT_SECRET, timeout_s=0.2, poll_s=POLL_S)
        assert not report.ok
        assert {t.key_status for t in report.tables} <= {"Pending", "InProgress"}
        assert "index job has not finished" in report.summary()


@pytest.mark.parametrize("mode", ["upsert_multiple", "batch"])
def test_a_composite_contact_key_is_provisioned_and_written_through_end_to_end(mode: str) -> None:
    composite = {"account": "cssync_sourcekey", "contact": ["cssync_company", "cssync_sourcekey"]}
    with make_sim(keys={}, custom_columns={}, key_activation_s=0.1) as sim:
        config = config_for(sim, key_column=composite)
        created = provision(config, create=True, secret=CLIENT_SECRET, timeout_s=30, poll_s=POLL_S)
        assert created.ok, created.summary()
        assert created.tables[1].key_columns == ("cssync_company", "cssync_sourcekey")
        assert created.tables[1].created_columns == ("cssync_company", "cssync_sourcekey")

        writer = writer_for(sim, key_column=composite, mode=mode)
        parent = account("C-1")
        # The same source key in two companies: two contacts, each addressed by both columns.
        def person(company: str, firstname: str) -> UpsertRecord:
            return UpsertRecord("contact", {"cssync_company": company, "cssync_sourcekey": "O'Brien 1"},
                                {"firstname": firstname, "lastname": "O'Brien"}, ref=f"contact:{company}",
                                parent_key="C-1")

        people = [person("100", "Anna"), person("200", "Jörg")]
        first = writer.upsert([parent, *people])
        assert all(o.status.written for o in first), first
        rows = sorted(sim.rows("contact"), key=lambda r: r["cssync_company"])
        assert [(r["cssync_company"], r["cssync_sourcekey"], r["firstname"]) for r in rows] == [
            ("100", "O'Brien 1", "Anna"), ("200", "O'Brien 1", "Jörg")]
        account_id = sim.row_by_key("account", cssync_sourcekey="C-1")["accountid"]
        assert {r["parentcustomerid"] for r in rows} == {account_id}

        ids = [r["contactid"] for r in rows]
        # A change to one: it is updated in place, the other keeps its row and values.
        assert all(o.status.written for o in writer.upsert([person("200", "Zoë")]))
        rows = sorted(sim.rows("contact"), key=lambda r: r["cssync_company"])
        assert [(r["contactid"], r["firstname"]) for r in rows] == [(ids[0], "Anna"), (ids[1], "Zoë")]
