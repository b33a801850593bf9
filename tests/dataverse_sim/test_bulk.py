"""UpsertMultiple / CreateMultiple / UpdateMultiple (reference section 5): shapes, the key-in-body quirk,
duplicates, and all-or-nothing on standard tables."""

from __future__ import annotations

from tests.dataverse_sim.helpers import api_for, error_of

ACCOUNT = "Microsoft.Dynamics.CRM.account"


def target(key: str, **values):
    return {"@odata.type": ACCOUNT, "@odata.id": f"accounts(cssync_sourcekey='{key}')", **values}


def upsert_multiple(api, targets, table="accounts"):
    return api.post(f"{table}/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets})


def test_upsert_multiple_creates_and_updates_with_204_no_body(sim, api):
    r = upsert_multiple(api, [target("SUP-1", name="One"), target("SUP-2", name="Two", customertypecode=11)])
    assert r.status_code == 204
    assert r.content == b""
    r = upsert_multiple(api, [target("SUP-1", name="One BV"), target("SUP-3", name="Three")])
    assert r.status_code == 204
    rows = {row["cssync_sourcekey"]: row for row in sim.rows("account")}
    assert {k: v["name"] for k, v in rows.items()} == {"SUP-1": "One BV", "SUP-2": "Two", "SUP-3": "Three"}
    assert rows["SUP-2"]["customertypecode"] == 11
    assert sim.requests("UpsertMultiple")[0].info["operations"] == 2


def test_odata_type_is_required_per_target(sim, api):
    r = upsert_multiple(api, [target("SUP-1", name="One"), {"@odata.id": "accounts(cssync_sourcekey='SUP-2')",
                                                             "name": "Two"}])
    status, code, _ = error_of(r)
    assert (status, code) == (400, "0x80048d19")
    assert sim.rows("account") == []


def test_key_in_body_fails_the_create_path_with_0x80040216_but_not_the_update_path(sim, api):
    r = upsert_multiple(api, [target("SUP-5", name="Five", cssync_sourcekey="SUP-5")])
    assert error_of(r) == (400, "0x80040216", "An unexpected error occurred.")
    assert sim.rows("account") == []
    assert upsert_multiple(api, [target("SUP-5", name="Five")]).status_code == 204
    r = upsert_multiple(api, [target("SUP-5", name="Five BV", cssync_sourcekey="SUP-5")])
    assert r.status_code == 204
    assert sim.rows("account")[0]["name"] == "Five BV"


def test_duplicate_keys_in_one_request_fail_it(sim, api):
    r = upsert_multiple(api, [target("SUP-1", name="a"), target("sup-1", name="b")])
    status, code, _ = error_of(r)
    assert (status, code) == (400, "0x80040237")
    assert sim.rows("account") == []


def test_one_bad_target_rolls_back_the_whole_request(sim, api):
    upsert_multiple(api, [target("SUP-1", name="Original")])
    sim.poison("account", "name", "POISON")
    r = upsert_multiple(api, [target("SUP-1", name="Changed"), target("SUP-2", name="New"),
                              target("SUP-3", name="POISON"), target("SUP-4", name="Later")])
    status, code, message = error_of(r)
    assert (status, code) == (400, "0x80040265")
    assert "POISON" in message  # the error names the failure
    assert [(row["cssync_sourcekey"], row["name"]) for row in sim.rows("account")] == [("SUP-1", "Original")]
    assert sim.requests("UpsertMultiple")[-1].info["failed_target"] == 2


def test_too_long_value_in_one_target_rolls_back(sim, api):
    r = upsert_multiple(api, [target("SUP-1", name="ok"), target("SUP-2", name="N" * 161)])
    assert error_of(r) == (400, "0x80044331", "A validation error occurred.  The length of the 'name' attribute of "
                                              "the 'account' entity exceeded the maximum allowed length of '160'.")
    assert sim.rows("account") == []


def test_contacts_upsert_multiple_with_bind(sim, api):
    upsert_multiple(api, [target("SUP-1", name="One")])
    r = upsert_multiple(api, [{"@odata.type": "Microsoft.Dynamics.CRM.contact",
                               "@odata.id": "contacts(cssync_sourcekey='SUP-1-01')", "lastname": "Jansen",
                               "parentcustomerid_account@odata.bind": "/accounts(cssync_sourcekey='SUP-1')"}],
                        table="contacts")
    assert r.status_code == 204
    assert sim.rows("contact")[0]["parentcustomerid"] == sim.rows("account")[0]["accountid"]


def test_wrong_type_for_the_entity_set_is_rejected(sim, api):
    r = upsert_multiple(api, [target("SUP-1", name="x")], table="contacts")
    assert error_of(r)[:2] == (400, "0x80048d19")


def test_create_multiple_returns_ids(sim, api):
    r = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple",
                 json={"Targets": [{"@odata.type": ACCOUNT, "name": "a"}, {"@odata.type": ACCOUNT, "name": "b"}]})
    assert r.status_code == 200
    body = r.json()
    assert body["@odata.context"] == sim.api_base + "$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
    assert body["Ids"] == [row["accountid"] for row in sim.rows("account")]


def test_update_multiple_applies_the_first_of_duplicate_ids(sim, api):
    ids = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple",
                   json={"Targets": [{"@odata.type": ACCOUNT, "name": "a"}]}).json()["Ids"]
    r = api.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
                 json={"Targets": [{"@odata.type": ACCOUNT, "accountid": ids[0], "name": "first"},
                                   {"@odata.type": ACCOUNT, "accountid": ids[0], "name": "second"}]})
    assert r.status_code == 204
    assert sim.rows("account")[0]["name"] == "first"


def test_bulk_messages_missing_when_the_environment_has_no_upsert_multiple(sim_factory):
    sim = sim_factory(upsert_multiple=False)
    api = api_for(sim)
    query = ("sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq @message and "
             "primaryobjecttypecode eq @table&@message='UpsertMultiple'&@table='account'")
    assert api.get(query).json()["value"] == []
    r = upsert_multiple(api, [target("SUP-1", name="x")])
    assert error_of(r) == (404, "0x8006088a",
                           "Resource not found for the segment 'Microsoft.Dynamics.CRM.UpsertMultiple'.")


def test_sdkmessagefilters_lists_bulk_messages_when_available(api):
    for message in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"):
        r = api.get("sdkmessagefilters", params={
            "$select": "sdkmessagefilterid",
            "$filter": "sdkmessageid/name eq @message and primaryobjecttypecode eq @table",
            "@message": f"'{message}'", "@table": "'account'"})
        assert r.status_code == 200
        assert len(r.json()["value"]) == 1
        assert set(r.json()["value"][0]) == {"@odata.etag", "sdkmessagefilterid"}
