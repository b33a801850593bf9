"""Provisioning: EntityDefinitions, custom columns, alternate keys with their index status transitions."""

from __future__ import annotations

from tests.dataverse_sim.helpers import api_for, error_of, wait_for

KEY_BODY = {"@odata.type": "Microsoft.Dynamics.CRM.EntityKeyMetadata", "SchemaName": "cssync_sourcekey_key",
            "DisplayName": {"@odata.type": "Microsoft.Dynamics.CRM.Label", "LocalizedLabels": [
                {"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": "Source key",
                 "LanguageCode": 1033}]},
            "KeyAttributes": ["cssync_sourcekey"]}
COLUMN_BODY = {"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "AttributeType": "String",
               "AttributeTypeName": {"Value": "StringType"}, "SchemaName": "cssync_sourcekey", "MaxLength": 100,
               "FormatName": {"Value": "Text"},
               "RequiredLevel": {"Value": "None", "CanBeChanged": True,
                                 "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"}}
DEFS = "EntityDefinitions(LogicalName='account')"


def key_status(api) -> str:
    keys = api.get(DEFS + "/Keys?$select=SchemaName,KeyAttributes,EntityKeyIndexStatus").json()["value"]
    return keys[0]["EntityKeyIndexStatus"]


def test_entity_definitions_filter_query_as_the_sdk_sends_it(sim, api):
    r = api.get("EntityDefinitions", params={"$select": "LogicalName,EntitySetName,PrimaryIdAttribute",
                                             "$filter": "LogicalName eq 'account'"})
    assert r.status_code == 200
    (item,) = r.json()["value"]
    assert {k: item[k] for k in ("LogicalName", "EntitySetName", "PrimaryIdAttribute")} == \
        {"LogicalName": "account", "EntitySetName": "accounts", "PrimaryIdAttribute": "accountid"}
    assert api.get("EntityDefinitions", params={"$filter": "LogicalName eq 'nothing'"}).json()["value"] == []


def test_provisioning_a_column_and_a_key_in_an_empty_environment(sim_factory):
    sim = sim_factory(keys={}, custom_columns={}, key_activation_reads=3)
    api = api_for(sim)
    assert error_of(api.patch("accounts(cssync_sourcekey='A')", json={"name": "x"}))[:2] == (400, "0x80060888")
    r = api.post(DEFS + "/Attributes", json=COLUMN_BODY, headers={"MSCRM.SolutionUniqueName": "cssync"})
    assert r.status_code == 204
    attr_id = r.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    assert r.headers["OData-EntityId"] == sim.api_base + f"{DEFS}/Attributes({attr_id})"
    got = api.get(DEFS + "/Attributes(LogicalName='cssync_sourcekey')?$select=LogicalName,MaxLength").json()
    assert (got["LogicalName"], got["MaxLength"], got["MetadataId"]) == ("cssync_sourcekey", 100, attr_id)
    assert api.post(DEFS + "/Attributes", json=COLUMN_BODY).status_code == 400  # exists already

    r = api.post(DEFS + "/Keys", json=KEY_BODY)
    assert r.status_code == 204
    assert "/Keys(" in r.headers["OData-EntityId"]
    # undefined-as-far-as-OData until Active
    assert error_of(api.patch("accounts(cssync_sourcekey='A')", json={"name": "x"}))[:2] == (400, "0x80060888")
    statuses = [key_status(api) for _ in range(3)]
    assert statuses == ["Pending", "InProgress", "Active"]
    assert api.patch("accounts(cssync_sourcekey='A')", json={"name": "x"}).status_code == 204


def test_key_activation_by_time(sim_factory):
    sim = sim_factory(keys={}, key_activation_s=0.3)
    api = api_for(sim)
    api.post(DEFS + "/Keys", json=KEY_BODY)
    assert key_status(api) == "Pending"
    wait_for(lambda: key_status(api) == "Active", timeout_s=5)
    assert api.patch("accounts(cssync_sourcekey='A')", json={"name": "x"}).status_code == 204


def test_key_index_can_be_made_to_fail(sim_factory):
    sim = sim_factory(keys={}, key_activation_reads=1)
    sim.key_index_outcome = "Failed"
    api = api_for(sim)
    api.post(DEFS + "/Keys", json=KEY_BODY)
    assert key_status(api) == "Failed"
    assert error_of(api.patch("accounts(cssync_sourcekey='A')", json={"name": "x"}))[:2] == (400, "0x80060888")


def test_key_over_duplicate_data_fails_to_build(sim_factory):
    sim = sim_factory(keys={}, key_activation_reads=1)
    sim.seed("account", {"name": "a", "cssync_sourcekey": "SAME"})
    sim.seed("account", {"name": "b", "cssync_sourcekey": "same"})
    api = api_for(sim)
    api.post(DEFS + "/Keys", json=KEY_BODY)
    assert key_status(api) == "Failed"


def test_keys_can_be_deleted(sim, api):
    (key,) = api.get(DEFS + "/Keys").json()["value"]
    assert key["EntityKeyIndexStatus"] == "Active"
    assert key["KeyAttributes"] == ["cssync_sourcekey"]
    assert api.delete(DEFS + f"/Keys({key['MetadataId']})").status_code == 204
    assert api.get(DEFS + "/Keys").json()["value"] == []
    assert error_of(api.patch("accounts(cssync_sourcekey='A')", json={"name": "x"}))[:2] == (400, "0x80060888")


def test_key_on_a_missing_column_is_rejected(sim, api):
    r = api.post(DEFS + "/Keys", json={**KEY_BODY, "SchemaName": "x_key", "KeyAttributes": ["nope"]})
    assert r.status_code == 400


def test_picklist_cast_returns_the_options(api):
    r = api.get(DEFS + "/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
                params={"$select": "LogicalName", "$expand": "OptionSet($select=Options)"})
    (item,) = r.json()["value"]
    assert item["LogicalName"] == "customertypecode"
    labels = {o["Value"]: o["Label"]["LocalizedLabels"][0]["Label"] for o in item["OptionSet"]["Options"]}
    assert (labels[10], labels[11]) == ("Supplier", "Vendor")
