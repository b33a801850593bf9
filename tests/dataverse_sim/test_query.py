"""Reads: $select/$filter/$top/$count, paging with odata.maxpagesize + @odata.nextLink, WhoAmI with x-ms-dop-hint."""

from __future__ import annotations

from tests.dataverse_sim.helpers import api_for, error_of


def seed(sim, n: int) -> None:
    for i in range(n):
        sim.seed("account", {"name": f"Account {i:02d}", "cssync_sourcekey": f"K{i:02d}",
                             "customertypecode": 10 if i % 2 else 11})


def test_filter_eq_and_and_select(sim, api):
    seed(sim, 6)
    r = api.get("accounts", params={"$select": "name,cssync_sourcekey",
                                    "$filter": "customertypecode eq 10 and cssync_sourcekey eq 'k03'"})
    assert r.status_code == 200
    body = r.json()
    assert body["@odata.context"] == sim.api_base + "$metadata#accounts(name,cssync_sourcekey)"
    assert [(v["name"], v["cssync_sourcekey"]) for v in body["value"]] == [("Account 03", "K03")]
    assert set(body["value"][0]) == {"@odata.etag", "name", "cssync_sourcekey", "accountid"}


def test_filter_with_escaped_quote_and_unknown_column(sim, api):
    sim.seed("account", {"name": "O'Neil", "cssync_sourcekey": "M&M"})
    r = api.get("accounts", params={"$select": "cssync_sourcekey", "$filter": "name eq 'O''Neil'"})
    assert [v["cssync_sourcekey"] for v in r.json()["value"]] == ["M&M"]  # the $filter route for forbidden chars
    assert error_of(api.get("accounts", params={"$filter": "Name eq 'x'"}))[:2] == (400, "0x0")


def test_top_and_count(sim, api):
    seed(sim, 7)
    body = api.get("accounts", params={"$select": "name", "$top": "3", "$count": "true"}).json()
    assert body["@odata.count"] == 7
    assert len(body["value"]) == 3
    assert "@odata.nextLink" not in body


def test_paging_follows_next_links_until_done(sim, api):
    seed(sim, 12)
    url = api.base + "accounts?$select=cssync_sourcekey"
    seen, pages = [], 0
    while url:
        r = api.session.get(url, headers={"Prefer": "odata.maxpagesize=5"}, timeout=10)
        assert r.headers["Preference-Applied"] == "odata.maxpagesize=5"
        body = r.json()
        seen += [v["cssync_sourcekey"] for v in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 3
    assert seen == [f"K{i:02d}" for i in range(12)]


def test_whoami_sends_the_dop_hint_and_post_is_404(sim_factory):
    sim = sim_factory(dop_hint=7)
    api = api_for(sim)
    r = api.get("WhoAmI")
    assert r.status_code == 200
    assert r.headers["x-ms-dop-hint"] == "7"
    body = r.json()
    assert body["@odata.context"] == sim.api_base + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"
    assert set(body) == {"@odata.context", "BusinessUnitId", "UserId", "OrganizationId"}
    sim.dop_hint = 12
    assert api.get("accounts").headers["x-ms-dop-hint"] == "12"
    assert error_of(api.post("WhoAmI", json={})) == (
        404, "", f"No HTTP resource was found that matches the request URI '{sim.api_base}WhoAmI'.")


def test_lookup_value_filter(sim, api):
    account = sim.seed("account", {"name": "a", "cssync_sourcekey": "A"})
    sim.seed("contact", {"lastname": "x", "cssync_sourcekey": "C1",
                         "parentcustomerid_account@odata.bind": f"/accounts({account})"})
    sim.seed("contact", {"lastname": "y", "cssync_sourcekey": "C2"})
    r = api.get("contacts", params={"$select": "lastname,_parentcustomerid_value",
                                    "$filter": f"_parentcustomerid_value eq {account}"})
    assert [(v["lastname"], v["_parentcustomerid_value"]) for v in r.json()["value"]] == [("x", account)]


def test_orderby_one_column_descending(sim, api):
    seed(sim, 4)
    body = api.get("accounts", params={"$select": "cssync_sourcekey,customertypecode",
                                       "$orderby": "cssync_sourcekey desc"}).json()
    assert [v["cssync_sourcekey"] for v in body["value"]] == ["K03", "K02", "K01", "K00"]
