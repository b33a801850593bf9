"""Independent client: Microsoft's official SDK (powerplatform-dataverse-client, a dev dependency) with the real
azure-identity ClientSecretCredential against the simulator. Where SDK and simulator disagree, the simulator is wrong
unless the reference says otherwise."""

from __future__ import annotations

import pytest

pytest.importorskip("PowerPlatform.Dataverse", reason="powerplatform-dataverse-client is a dev-only dependency")

from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models.upsert import UpsertItem

from tests.dataverse_sim.helpers import credential


@pytest.fixture
def client(sim, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_bundle)  # the SDK's requests session trusts the env bundle
    return DataverseClient(sim.url, credential(sim))


def test_sdk_creates_upserts_and_reads_records(sim, client):
    account_id = client.records.create("account", {"name": "Contoso", "cssync_sourcekey": "SDK-1",
                                                   "customertypecode": "Supplier"})  # label -> 10 via metadata
    client.records.upsert("account", [UpsertItem(alternate_key={"cssync_sourcekey": "SDK-2"},
                                                 record={"name": "Fabrikam"})])  # PATCH by key
    client.records.upsert("account", [  # several items -> UpsertMultiple
        UpsertItem(alternate_key={"cssync_sourcekey": "SDK-1"}, record={"name": "Contoso Ltd"}),
        UpsertItem(alternate_key={"cssync_sourcekey": "SDK-3"}, record={"name": "Litware"})])
    record = client.records.retrieve("account", account_id, select=["name", "cssync_sourcekey", "customertypecode"])
    assert record is not None
    assert (record["name"], record["cssync_sourcekey"], record["customertypecode"]) == ("Contoso Ltd", "SDK-1", 10)
    assert sorted((r["cssync_sourcekey"], r["name"]) for r in sim.rows("account")) == [
        ("SDK-1", "Contoso Ltd"), ("SDK-2", "Fabrikam"), ("SDK-3", "Litware")]
    kinds = [e.info.get("kind") for e in sim.requests(r"^/api/data/")]
    assert kinds == ["metadata", "metadata", "create", "upsert", "upsert_multiple", "retrieve"]
    assert client.records.retrieve("account", "0f3c6b8e-1a2b-4c3d-9e8f-001122334455") is None


def test_sdk_lists_with_a_filter_across_pages(sim, client):
    for i in range(7):
        sim.seed("account", {"name": f"n{i}", "cssync_sourcekey": f"K{i}"})
    pages = list(client.records.list_pages("account", select=["cssync_sourcekey"], page_size=3))
    assert [len(page) for page in pages] == [3, 3, 1]
    matches = [r["cssync_sourcekey"] for page in client.records.list_pages(
        "account", select=["cssync_sourcekey"], filter="cssync_sourcekey eq 'K4'") for r in page]
    assert matches == ["K4"]


def test_sdk_batch_with_a_change_set_and_continue_on_error(sim, client):
    batch = client.batch.new()
    with batch.changeset() as cs:
        ref = cs.records.create("account", {"name": "In change set", "cssync_sourcekey": "CS-1"})
        cs.records.create("contact", {"lastname": "Jansen", "cssync_sourcekey": "CS-1-01",
                                      "parentcustomerid_account@odata.bind": ref})
    batch.records.upsert("account", [UpsertItem(alternate_key={"cssync_sourcekey": "B-1"}, record={"name": "b"})])
    batch.records.upsert("account", [UpsertItem(alternate_key={"cssync_sourcekey": "B-2"},
                                                record={"name": "N" * 161})])
    result = batch.execute(continue_on_error=True)
    assert [r.status_code for r in result.responses] == [204, 204, 204, 400]
    assert result.responses[-1].error_code == "0x80044331"
    account = sim.row_by_key("account", cssync_sourcekey="CS-1")
    assert result.responses[0].entity_id == account["accountid"]
    assert sim.row_by_key("contact", cssync_sourcekey="CS-1-01")["parentcustomerid"] == account["accountid"]
    assert sim.row_by_key("account", cssync_sourcekey="B-2") is None


def test_sdk_sees_429_as_transient_with_retry_after(sim, client):
    client.records.upsert("account", [UpsertItem(alternate_key={"cssync_sourcekey": "T-1"}, record={"name": "t"})])
    sim.throttle(requests_per_window=1, window_s=60)
    client.records.upsert("account", [UpsertItem(alternate_key={"cssync_sourcekey": "T-2"}, record={"name": "t"})])
    with pytest.raises(HttpError) as info:
        client.records.upsert("account", [UpsertItem(alternate_key={"cssync_sourcekey": "T-3"},
                                                     record={"name": "t"})])
    assert info.value.status_code == 429
    assert info.value.is_transient
    assert 59 <= info.value.details["retry_after"] <= 60
    assert info.value.details["service_error_code"] == "0x80072322"


def test_sdk_manages_alternate_keys(sim_factory, monkeypatch):
    sim = sim_factory(keys={}, key_activation_reads=1)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_bundle)
    client = DataverseClient(sim.url, credential(sim))
    created = client.tables.create_alternate_key("account", "cssync_sourcekey_key", ["cssync_sourcekey"])
    keys = client.tables.get_alternate_keys("account")
    assert [(k.schema_name, k.key_attributes, k.status) for k in keys] == \
        [("cssync_sourcekey_key", ["cssync_sourcekey"], "Active")]
    assert keys[0].metadata_id == created.metadata_id
    client.tables.delete_alternate_key("account", created.metadata_id)
    assert client.tables.get_alternate_keys("account") == []


def test_sdk_bulk_create_and_update_use_create_and_update_multiple(sim, client):
    ids = client.records.create("account", [{"name": "a", "cssync_sourcekey": "M-1"},
                                            {"name": "b", "cssync_sourcekey": "M-2"}])
    assert ids == [r["accountid"] for r in sim.rows("account")]
    client.records.update("account", ids, {"telephone1": "+31 20 555 0100"})
    assert [r["telephone1"] for r in sim.rows("account")] == ["+31 20 555 0100"] * 2
    kinds = [e.info.get("kind") for e in sim.requests(r"^/api/data/") if e.info.get("kind") != "metadata"]
    assert kinds == ["create_multiple", "update_multiple"]


def test_sdk_parses_a_failed_change_set_as_one_part_with_its_content_id(sim, client):
    batch = client.batch.new()
    with batch.changeset() as cs:
        cs.records.create("account", {"name": "ok", "cssync_sourcekey": "CS-1"})
        cs.records.create("account", {"name": "N" * 161, "cssync_sourcekey": "CS-2"})
    batch.records.create("account", {"name": "after"})
    result = batch.execute(continue_on_error=True)
    assert [(r.status_code, r.content_id, r.error_code) for r in result.responses] == \
        [(400, "2", "0x80044331"), (204, None, None)]
    assert [r["name"] for r in sim.rows("account")] == ["after"]  # the change set rolled back
