"""ION API gateway behaviour of the simulator: token grants, bearer checks, 401/404/405/429, .ionapi files."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
import requests

from localdev.cloudsuite import CloudSuiteSimulator

from .conftest import Api

M3_TIME = "/M3/m3api-rest/v2/execute/CRS620MI/GetServerTime"


def _token(sim: CloudSuiteSimulator, **form: str) -> requests.Response:
    io = sim.ionapi()
    return requests.post(io["pu"] + io["ot"], data=form, verify=sim.ca_bundle, timeout=10)


def test_ionapi_points_at_the_simulator_with_all_standard_keys(sim: CloudSuiteSimulator) -> None:
    io = sim.ionapi()
    assert io["ti"] == "ACME_TST"
    assert io["iu"] == sim.url
    assert io["pu"] == f"{sim.url}/ACME_TST/as/"
    assert (io["oa"], io["ot"], io["or"]) == ("authorization.oauth2", "token.oauth2", "revoke_token.oauth2")
    assert io["ci"].startswith("ACME_TST~") and io["saak"].startswith("ACME_TST#")
    assert {"cn", "cs", "sask", "v", "dt", "ev"} <= set(io)


def test_client_credentials_ionapi_has_no_service_account_keys(sim: CloudSuiteSimulator) -> None:
    io = sim.ionapi(grant="client_credentials")
    assert "saak" not in io and "sask" not in io


def test_write_ionapi_writes_the_same_document(sim: CloudSuiteSimulator, tmp_path) -> None:
    path = sim.write_ionapi(tmp_path / "acme.ionapi")
    assert json.loads(Path(path).read_text(encoding="utf-8")) == sim.ionapi()


def test_password_grant_with_client_auth_in_body_returns_bearer_token_without_refresh(fresh) -> None:
    io = fresh.ionapi()
    response = _token(fresh, grant_type="password", username=io["saak"], password=io["sask"],
                      client_id=io["ci"], client_secret=io["cs"])
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200
    assert "refresh_token" not in body
    assert fresh.tokens_issued == 1 and fresh.tokens_issued_by_grant == {"password": 1}


def test_password_grant_with_basic_client_auth_is_accepted(fresh) -> None:
    io = fresh.ionapi()
    basic = base64.b64encode(f"{io['ci']}:{io['cs']}".encode()).decode()
    response = requests.post(io["pu"] + io["ot"], verify=fresh.ca_bundle, timeout=10,
                             headers={"Authorization": f"Basic {basic}"},
                             data={"grant_type": "password", "username": io["saak"], "password": io["sask"]})
    assert response.status_code == 200


def test_client_credentials_grant_issues_a_token(fresh) -> None:
    io = fresh.ionapi(grant="client_credentials")
    response = _token(fresh, grant_type="client_credentials", client_id=io["ci"], client_secret=io["cs"])
    assert response.status_code == 200
    assert fresh.tokens_issued_by_grant == {"client_credentials": 1}


def test_wrong_password_is_400_invalid_grant(fresh) -> None:
    io = fresh.ionapi()
    response = _token(fresh, grant_type="password", username=io["saak"], password="wrong",
                      client_id=io["ci"], client_secret=io["cs"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert fresh.tokens_issued == 0


def test_wrong_client_secret_is_401_invalid_client(fresh) -> None:
    io = fresh.ionapi()
    response = _token(fresh, grant_type="password", username=io["saak"], password=io["sask"],
                      client_id=io["ci"], client_secret="nope")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unknown_grant_type_is_400_unsupported_grant_type(fresh) -> None:
    io = fresh.ionapi()
    response = _token(fresh, grant_type="implicit", client_id=io["ci"], client_secret=io["cs"])
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


def test_refresh_token_grant_works_when_refresh_tokens_are_enabled() -> None:
    with CloudSuiteSimulator(suppliers=2, customers=2, issue_refresh_tokens=True, products=("m3",)) as sim:
        io = sim.ionapi()
        first = _token(sim, grant_type="password", username=io["saak"], password=io["sask"],
                       client_id=io["ci"], client_secret=io["cs"]).json()
        assert first["refresh_token"]
        again = _token(sim, grant_type="refresh_token", refresh_token=first["refresh_token"],
                       client_id=io["ci"], client_secret=io["cs"])
        assert again.status_code == 200 and again.json()["access_token"] != first["access_token"]
        bad = _token(sim, grant_type="refresh_token", refresh_token="nope", client_id=io["ci"], client_secret=io["cs"])
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_grant")


def test_token_lifetime_is_configurable_and_expiry_follows_the_sim_clock() -> None:
    with CloudSuiteSimulator(suppliers=2, customers=2, token_lifetime_s=60, products=("m3",)) as sim:
        api = Api(sim)
        api.login()
        assert api.get(M3_TIME).status_code == 200
        sim.advance_clock(61)
        response = api.get(M3_TIME)
        assert response.status_code == 401


def test_api_call_without_token_is_401_with_www_authenticate(sim) -> None:
    response = requests.get(sim.api_base + M3_TIME, verify=sim.ca_bundle, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="ACME_TST", error="invalid_token"')
    assert response.json()["error"] == "invalid_token"


def test_forced_expiry_gives_401_expired_then_a_new_token_works(fapi: Api) -> None:
    assert fapi.get(M3_TIME).status_code == 200
    fapi.sim.expire_tokens()
    response = fapi.get(M3_TIME)
    assert response.status_code == 401
    assert 'error_description="The access token expired"' in response.headers["WWW-Authenticate"]
    assert response.json() == {"error": "invalid_token", "error_description": "The access token expired"}
    fapi.login()
    assert fapi.get(M3_TIME).status_code == 200


def test_expire_after_n_calls_lets_n_calls_through_then_401(fapi: Api) -> None:
    fapi.login()
    fapi.sim.expire_tokens(after_calls=2)
    assert [fapi.get(M3_TIME).status_code for _ in range(3)] == [200, 200, 401]
    fapi.login()
    assert fapi.get(M3_TIME).status_code == 200


def test_www_authenticate_header_can_be_switched_off(fapi: Api) -> None:
    fapi.sim.settings.www_authenticate = False
    fapi.login()
    fapi.sim.expire_tokens()
    response = fapi.get(M3_TIME)
    assert response.status_code == 401 and "WWW-Authenticate" not in response.headers


def test_revoked_token_is_401(fapi: Api) -> None:
    token = fapi.login()
    io = fapi.sim.ionapi()
    revoke = requests.post(io["pu"] + io["or"], data={"token": token, "token_type_hint": "access_token"},
                           auth=(io["ci"], io["cs"]), verify=fapi.sim.ca_bundle, timeout=10)
    assert revoke.status_code == 200
    assert fapi.get(M3_TIME).status_code == 401


def test_wrong_tenant_is_404(api: Api) -> None:
    api.login()
    response = api.http.get(api.sim.url + "/OTHER_TST" + M3_TIME, timeout=10,
                            headers={"Authorization": f"Bearer {api.token}"})
    assert response.status_code == 404


def test_disabled_suite_is_404_even_with_a_valid_token() -> None:
    with CloudSuiteSimulator(suppliers=2, customers=2, products=("m3",)) as sim:
        api = Api(sim)
        response = api.get("/CSI/IDORequestService/ido/configurations")
        assert response.status_code == 404
        assert api.get(M3_TIME).status_code == 200


def test_wrong_method_is_405(api: Api) -> None:
    assert api.raw("DELETE", M3_TIME).status_code == 405
    token_url = api.sim.ionapi()["pu"] + "token.oauth2"
    assert api.http.get(token_url, timeout=10).status_code == 405


def test_rate_limit_gives_429_with_retry_after_on_every_other_one(fresh) -> None:
    api = Api(fresh)
    api.login()
    fresh.settings.rate_limit_per_s = 2
    statuses, retry_after = [], []
    for _ in range(6):
        response = api.get(M3_TIME)
        statuses.append(response.status_code)
        if response.status_code == 429:
            retry_after.append(response.headers.get("Retry-After"))
            assert response.json() == {"message": "Quota policy exceeded"}
    assert statuses[:2] == [200, 200]
    assert statuses[2:] == [429, 429, 429, 429]
    assert retry_after == ["1", None, "1", None]


def test_throttle_helper_alternates_retry_after_and_then_recovers(fapi: Api) -> None:
    fapi.sim.throttle(2, path="GetServerTime", retry_after_s=3)
    first, second, third = (fapi.get(M3_TIME) for _ in range(3))
    assert (first.status_code, first.headers.get("Retry-After")) == (429, "3")
    assert (second.status_code, second.headers.get("Retry-After")) == (429, None)
    assert third.status_code == 200


def test_injected_504_and_truncated_body(fapi: Api) -> None:
    fapi.sim.fail(504, path="GetServerTime")
    assert fapi.get(M3_TIME).status_code == 504
    fapi.sim.faults.add(path="GetServerTime", truncate=True, count=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # half the Content-Length, then close
        fapi.get(M3_TIME)


def test_connection_reset_fault_breaks_the_connection(fapi: Api) -> None:
    fapi.login()
    fapi.sim.faults.add(path="GetServerTime", reset=True, count=1)
    with pytest.raises(requests.ConnectionError):
        fapi.get(M3_TIME)
    assert fapi.get(M3_TIME).status_code == 200


def test_x_tenant_headers_are_ignored(api: Api) -> None:
    response = api.get(M3_TIME, headers={"X-TenantId": "SOMEONE_ELSE", "X-ClientId": "x"})
    assert response.status_code == 200


def test_grant_not_enabled_for_the_app_is_400_unauthorized_client() -> None:
    with CloudSuiteSimulator(suppliers=1, customers=1, products=("m3",), grants=("password",)) as sim:
        io = sim.ionapi()
        response = _token(sim, grant_type="client_credentials", client_id=io["ci"], client_secret=io["cs"])
        assert (response.status_code, response.json()["error"]) == (400, "unauthorized_client")


def test_revoked_refresh_token_cannot_be_used() -> None:
    with CloudSuiteSimulator(suppliers=1, customers=1, products=("m3",), issue_refresh_tokens=True) as sim:
        io = sim.ionapi()
        refresh = _token(sim, grant_type="password", username=io["saak"], password=io["sask"],
                         client_id=io["ci"], client_secret=io["cs"]).json()["refresh_token"]
        revoke = requests.post(io["pu"] + io["or"], data={"token": refresh, "token_type_hint": "refresh_token"},
                               auth=(io["ci"], io["cs"]), verify=sim.ca_bundle, timeout=10)
        assert revoke.status_code == 200
        again = _token(sim, grant_type="refresh_token", refresh_token=refresh, client_id=io["ci"],
                       client_secret=io["cs"])
        assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_slow_backend_beyond_the_gateway_timeout_is_504_after_the_timeout(fapi: Api) -> None:
    fapi.sim.settings.gateway_timeout_s = 0.2
    fapi.login()
    fapi.sim.slow_backend(5.0, path="GetServerTime")
    started = time.monotonic()
    response = fapi.get(M3_TIME)
    elapsed = time.monotonic() - started
    assert response.status_code == 504 and 0.2 <= elapsed < 2.0
    fapi.sim.slow_backend(0.05, path="GetServerTime")
    assert fapi.get(M3_TIME).status_code == 200
