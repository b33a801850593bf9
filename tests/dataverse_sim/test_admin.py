"""The loopback admin API (/_admin/...) and fault injection: what other suites and the local stack use to steer
the simulator from outside the process."""

from __future__ import annotations

import pytest
import requests

from tests.dataverse_sim.helpers import api_for, error_of


def admin(sim, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, f"{sim.url}/_admin/{path}", json=body, verify=sim.ca_bundle, timeout=10)


def test_injected_503_with_retry_after_then_recovery(sim, api):
    assert admin(sim, "POST", "faults", {"path": "UpsertMultiple", "status": 503, "retry_after": 2,
                                         "count": 1}).status_code == 201
    body = {"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.account",
                         "@odata.id": "accounts(cssync_sourcekey='A')", "name": "a"}]}
    r = api.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json=body)
    assert (r.status_code, r.headers["Retry-After"]) == (503, "2")
    assert api.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json=body).status_code == 204


def test_injected_connection_reset(sim, api):
    sim.faults.add(path="WhoAmI", reset=True, count=1)
    with pytest.raises(requests.ConnectionError):
        api.get("WhoAmI")
    assert api.get("WhoAmI").status_code == 200


def test_poison_throttle_and_reset_through_admin(sim, api):
    assert admin(sim, "POST", "poison", {"table": "account", "column": "name", "value": "BAD"}).status_code == 204
    assert error_of(api.patch("accounts(cssync_sourcekey='A')", json={"name": "BAD"}))[:2] == (400, "0x80040265")
    assert admin(sim, "DELETE", "poison").status_code == 204
    assert api.patch("accounts(cssync_sourcekey='A')", json={"name": "BAD"}).status_code == 204

    assert admin(sim, "POST", "throttle", {"requests_per_window": 1}).status_code == 204
    assert api.get("WhoAmI").status_code == 200
    assert api.get("WhoAmI").status_code == 429
    assert admin(sim, "DELETE", "throttle").status_code == 204
    assert api.get("WhoAmI").status_code == 200

    rows = admin(sim, "GET", "rows/account").json()
    assert [r["cssync_sourcekey"] for r in rows] == ["A"]
    assert admin(sim, "POST", "reset", {"log": False}).status_code == 204
    assert admin(sim, "GET", "rows/account").json() == []
    assert admin(sim, "GET", "stats").json()["rows"] == {"account": 0, "contact": 0}


def test_seed_rows_expire_tokens_and_settings_through_admin(sim, api):
    r = admin(sim, "POST", "rows/contact", {"lastname": "Jansen", "cssync_sourcekey": "C-1"})
    assert r.status_code == 201
    assert sim.row_by_key("contact", cssync_sourcekey="C-1")["contactid"] == r.json()["id"]
    assert admin(sim, "POST", "rows/contact", {"lastname": "L" * 51}).status_code == 400
    assert admin(sim, "POST", "settings", {"dop_hint": 9, "max_request_bytes": 100}).status_code == 204
    assert api.get("WhoAmI").headers["x-ms-dop-hint"] == "9"
    r = api.patch("accounts(cssync_sourcekey='A')", json={"name": "x" * 120})
    assert error_of(r)[:2] == (413, "0x0")
    assert admin(sim, "POST", "tokens/expire").status_code == 204
    assert api.get("WhoAmI").status_code == 401
    assert api_for(sim).get("WhoAmI").status_code == 200
    assert admin(sim, "GET", "nothing").status_code == 404


def test_error_details_annotations_on_request(api):
    r = api.patch("accounts(cssync_sourcekey='A')", json={"name": "N" * 161},
                  headers={"Prefer": 'odata.include-annotations="*"'})
    error = r.json()["error"]
    assert error["code"] == "0x80044331"
    assert error["@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode"] == "-2147204303"
    assert error["@Microsoft.PowerApps.CDS.InnerError.Message"] == error["message"]


def test_unsimulated_query_options_are_refused_loudly(api):
    assert api.get("accounts?$expand=primarycontactid").status_code == 501
