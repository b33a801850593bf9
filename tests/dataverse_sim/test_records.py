"""Single-record Web API: create, upsert by alternate key (the reference 3.2 matrix), addressing and escaping,
@odata.bind, validation errors with their exact codes."""

from __future__ import annotations

import pytest

from tests.dataverse_sim.helpers import error_of

KEY = "accounts(cssync_sourcekey='SUP-1001')"
REPR = {"Prefer": "return=representation"}


def test_patch_upsert_creates_then_updates_with_204_and_key_entity_id(sim, api):
    r = api.patch(KEY, json={"name": "Fabrikam Metals BV", "customertypecode": 10})
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["OData-EntityId"] == sim.api_base + KEY
    assert r.headers["OData-Version"] == "4.0"
    r = api.patch(KEY, json={"name": "Fabrikam Metals"})
    assert r.status_code == 204
    assert r.headers["OData-EntityId"] == sim.api_base + KEY
    rows = sim.rows("account")
    assert len(rows) == 1
    assert rows[0]["name"] == "Fabrikam Metals"
    assert rows[0]["customertypecode"] == 10
    assert rows[0]["cssync_sourcekey"] == "SUP-1001"  # copied from the URL on create
    assert (rows[0]["statecode"], rows[0]["statuscode"]) == (0, 1)


def test_return_representation_gives_201_on_create_and_200_on_update(sim, api):
    created = api.patch(KEY + "?$select=accountid", json={"name": "Northwind"}, headers=REPR)
    assert created.status_code == 201
    assert created.headers["Preference-Applied"] == "return=representation"
    assert created.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    body = created.json()
    assert set(body) == {"@odata.context", "@odata.etag", "accountid"}
    assert body["@odata.context"] == sim.api_base + "$metadata#accounts(accountid)/$entity"
    assert created.headers["ETag"] == body["@odata.etag"]
    assert "OData-EntityId" not in created.headers
    updated = api.patch(KEY + "?$select=accountid", json={"name": "Northwind GmbH"}, headers=REPR)
    assert updated.status_code == 200
    assert updated.json()["accountid"] == body["accountid"]
    assert updated.json()["@odata.etag"] != body["@odata.etag"]


def test_if_match_star_is_update_only(sim, api):
    r = api.patch(KEY, json={"name": "x"}, headers={"If-Match": "*"})
    assert error_of(r) == (404, "0x80060891", "A record with the specified key values does not exist in account "
                                              "entity")
    assert sim.rows("account") == []
    api.patch(KEY, json={"name": "x"})
    assert api.patch(KEY, json={"name": "y"}, headers={"If-Match": "*"}).status_code == 204
    assert sim.rows("account")[0]["name"] == "y"


def test_if_none_match_star_is_create_only(sim, api):
    assert api.patch(KEY, json={"name": "x"}, headers={"If-None-Match": "*"}).status_code == 204
    r = api.patch(KEY, json={"name": "y"}, headers={"If-None-Match": "*"})
    assert error_of(r) == (412, "", "A record with matching key values already exists.")
    assert sim.rows("account")[0]["name"] == "x"


def test_if_match_etag_mismatch_is_412(api):
    etag = api.patch(KEY, json={"name": "x"}, headers=REPR).json()["@odata.etag"]
    assert api.patch(KEY, json={"name": "y"}, headers={"If-Match": etag}).status_code == 204
    r = api.patch(KEY, json={"name": "z"}, headers={"If-Match": etag})
    assert error_of(r)[:2] == (412, "0x80060882")


def test_guid_addressing_with_if_match_star_on_a_missing_record_is_0x80040217(api):
    guid = "0f3c6b8e-1a2b-4c3d-9e8f-001122334455"
    r = api.patch(f"accounts({guid})", json={"name": "x"}, headers={"If-Match": "*"})
    assert error_of(r) == (404, "0x80040217", f"account With Id = {guid} Does Not Exist")
    assert api.get(f"accounts({guid})").status_code == 404
    r = api.patch(f"accounts({guid})", json={"name": "x"})  # upsert by GUID creates with that id
    assert r.headers["OData-EntityId"].endswith(f"accounts({guid})")
    assert api.get(f"accounts(accountid={guid})?$select=name").json()["name"] == "x"


def test_key_columns_in_the_body_are_dropped_on_update_and_win_on_create(sim, api):
    api.patch(KEY, json={"name": "x", "cssync_sourcekey": "SUP-1001"})
    api.patch(KEY, json={"name": "y", "cssync_sourcekey": "OTHER"})
    rows = sim.rows("account")
    assert [(r["name"], r["cssync_sourcekey"]) for r in rows] == [("y", "SUP-1001")]
    api.patch("accounts(cssync_sourcekey='URL-VALUE')", json={"name": "z", "cssync_sourcekey": "BODY-VALUE"})
    assert sim.row_by_key("account", cssync_sourcekey="BODY-VALUE") is not None


def test_quotes_are_doubled_and_percent_encoding_is_decoded(sim, api):
    r = api.patch("accounts(cssync_sourcekey='SUP-O''Neil%201')", json={"name": "x"})
    assert r.status_code == 204
    assert sim.rows("account")[0]["cssync_sourcekey"] == "SUP-O'Neil 1"
    assert r.headers["OData-EntityId"] == sim.api_base + "accounts(cssync_sourcekey='SUP-O''Neil 1')"
    got = api.get("accounts(cssync_sourcekey=%27SUP-O%27%27Neil%201%27)?$select=name")
    assert got.status_code == 200
    assert got.json()["name"] == "x"
    encoded = api.get("accounts%28cssync_sourcekey%3D%27SUP-O%27%27Neil%201%27%29?$select=name")
    assert encoded.json()["name"] == "x"


def test_key_lookup_is_case_insensitive_like_sql_collation(sim, api):
    api.patch(KEY, json={"name": "x"})
    api.patch("accounts(cssync_sourcekey='sup-1001')", json={"name": "y"})
    assert [r["name"] for r in sim.rows("account")] == ["y"]


@pytest.mark.parametrize("value", ["A/B", "A<B", "A>B", "A*B", "A%B", "A&B", "A:B", "A\\B", "A?B", "A+B"])
def test_forbidden_key_characters_are_rejected(sim, api, value):
    from urllib.parse import quote
    r = api.patch(f"accounts(cssync_sourcekey='{quote(value, safe='')}')", json={"name": "x"})
    status, code, message = error_of(r)
    assert (status, code) == (400, "0x0")
    assert message.startswith("A potentially dangerous Request.Path value was detected from the client")
    assert sim.rows("account") == []


def test_unknown_key_and_unknown_property_errors(sim, api):
    r = api.patch("accounts(accountnumber='A-1')", json={"name": "x"})
    assert error_of(r) == (400, "0x80060888",
                           "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.account'. "
                           "Ensure that the names and number of key properties match the declared or alternate key "
                           "properties for the resource 'Microsoft.Dynamics.CRM.account'.")
    r = api.patch(KEY, json={"Name": "x"})
    status, code, message = error_of(r)
    assert (status, code) == (400, "0x0")
    assert message.startswith("An error occurred while validating input parameters: Microsoft.Crm.CrmException: "
                              "Invalid property 'Name' was found in entity 'Microsoft.Dynamics.CRM.account'.")
    assert sim.rows("account") == []


def test_values_longer_than_max_length_are_0x80044331(sim, api):
    r = api.patch(KEY, json={"name": "N" * 161})
    assert error_of(r) == (400, "0x80044331", "A validation error occurred.  The length of the 'name' attribute of "
                                              "the 'account' entity exceeded the maximum allowed length of '160'.")
    assert api.patch(KEY, json={"name": "N" * 160}).status_code == 204
    long_key = "K" * 101
    r = api.patch(f"accounts(cssync_sourcekey='{long_key}')", json={"name": "x"})
    assert error_of(r)[:2] == (400, "0x80044331")
    r = api.patch("contacts(cssync_sourcekey='C-1')", json={"lastname": "L" * 51})
    assert "'lastname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'" in error_of(r)[2]


def test_custom_column_max_length_comes_from_the_constructor(sim_factory):
    from tests.dataverse_sim.helpers import api_for
    sim = sim_factory(custom_columns={"account": {"cssync_sourcekey": 10}}, keys={"account": ["cssync_sourcekey"]})
    api = api_for(sim)
    assert api.patch("accounts(cssync_sourcekey='0123456789')", json={"name": "x"}).status_code == 204
    assert error_of(api.patch("accounts(cssync_sourcekey='0123456789A')", json={"name": "x"}))[:2] == \
        (400, "0x80044331")


def test_post_creates_with_204_and_entity_id_or_201_with_representation(sim, api):
    r = api.post("accounts", json={"name": "Contoso"})
    assert r.status_code == 204
    row = sim.rows("account")[0]
    assert r.headers["OData-EntityId"] == sim.api_base + f"accounts({row['accountid']})"
    r = api.post("accounts?$select=name", json={"name": "Litware"}, headers=REPR)
    assert r.status_code == 201
    assert r.json()["name"] == "Litware"
    assert set(r.json()) == {"@odata.context", "@odata.etag", "name", "accountid"}


def test_create_colliding_with_an_alternate_key_is_412_0x80060892(api):
    api.post("accounts", json={"name": "a", "cssync_sourcekey": "DUP"})
    status, code, message = error_of(api.post("accounts", json={"name": "b", "cssync_sourcekey": "dup"}))
    assert (status, code) == (412, "0x80060892")
    assert message.startswith("Entity Key cssync_sourcekey_key violated. A record with the same value for "
                              "cssync_sourcekey already exists.")


def test_contact_binds_to_an_account_by_key_url_or_guid(sim, api):
    api.patch(KEY, json={"name": "Fabrikam"})
    account_id = sim.rows("account")[0]["accountid"]
    r = api.patch("contacts(cssync_sourcekey='SUP-1001-01')",
                  json={"firstname": "Anna", "lastname": "de Vries",
                        "parentcustomerid_account@odata.bind": "/accounts(cssync_sourcekey='SUP-1001')"})
    assert r.status_code == 204
    assert r.headers["OData-EntityId"] == sim.api_base + "contacts(cssync_sourcekey='SUP-1001-01')"
    contact = sim.row_by_key("contact", cssync_sourcekey="SUP-1001-01")
    assert contact["parentcustomerid"] == account_id
    assert contact["parentcustomerid_type"] == "account"
    assert contact["fullname"] == "Anna de Vries"
    r = api.patch("contacts(cssync_sourcekey='SUP-1001-02')",
                  json={"lastname": "Jansen", "parentcustomerid_account@odata.bind": f"accounts({account_id})"})
    assert r.status_code == 204
    got = api.get("contacts(cssync_sourcekey='SUP-1001-02')?$select=_parentcustomerid_value,fullname",
                  headers={"Prefer": 'odata.include-annotations="*"'}).json()
    assert got["_parentcustomerid_value"] == account_id
    assert got["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"


def test_binding_a_missing_account_fails_the_request(sim, api):
    r = api.patch("contacts(cssync_sourcekey='C-1')",
                  json={"lastname": "x", "parentcustomerid_account@odata.bind": "/accounts(cssync_sourcekey='NOPE')"})
    assert error_of(r) == (404, "0x80060891", "A record with the specified key values does not exist in account "
                                              "entity")
    assert sim.rows("contact") == []


def test_bare_parentcustomerid_bind_is_0x80048d19(api):
    r = api.patch("contacts(cssync_sourcekey='C-1')",
                  json={"lastname": "x", "parentcustomerid@odata.bind": "/accounts(cssync_sourcekey='A')"})
    status, code, message = error_of(r)
    assert (status, code) == (400, "0x80048d19")
    assert "An undeclared property 'parentcustomerid' which only has property annotations in the payload but no " \
           "property value was found in the payload." in message


def test_deactivation_sets_state_and_status(sim, api):
    api.patch(KEY, json={"name": "x"})
    assert api.patch(KEY, json={"statecode": 1, "statuscode": 2}, headers={"If-Match": "*"}).status_code == 204
    row = sim.rows("account")[0]
    assert (row["statecode"], row["statuscode"]) == (1, 2)
    api.patch(KEY, json={"statuscode": 1})
    row = sim.rows("account")[0]
    assert (row["statecode"], row["statuscode"]) == (0, 1)
    assert error_of(api.patch(KEY, json={"statecode": 0, "statuscode": 2}))[:2] == (400, "0x80040203")
    assert error_of(api.patch(KEY, json={"customertypecode": 99}))[:2] == (400, "0x8004431a")


def test_poisoned_value_fails_with_a_dataverse_shaped_400(sim, api):
    sim.poison("account", "name", "BAD RECORD")
    status, code, message = error_of(api.patch(KEY, json={"name": "BAD RECORD"}))
    assert (status, code) == (400, "0x80040265")
    assert "BAD RECORD" in message
    assert api.patch(KEY, json={"name": "good"}).status_code == 204


def test_get_by_key_with_select_and_404_when_missing(api):
    api.patch(KEY, json={"name": "x", "telephone1": "+31 20 555 0100"})
    r = api.get(KEY + "?$select=name,telephone1")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "x" and body["telephone1"] == "+31 20 555 0100"
    assert set(body) == {"@odata.context", "@odata.etag", "name", "telephone1", "accountid"}
    assert error_of(api.get(KEY + "?$select=Name")) == (
        400, "0x0", "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'.")
    assert error_of(api.get("accounts(cssync_sourcekey='NONE')"))[:2] == (404, "0x80060891")
    assert error_of(api.get("Account"))[:2] == (404, "0x8006088a")


def test_delete_by_key(sim, api):
    api.patch(KEY, json={"name": "x"})
    assert api.delete(KEY).status_code == 204
    assert sim.rows("account") == []
    assert api.delete(KEY).status_code == 404
