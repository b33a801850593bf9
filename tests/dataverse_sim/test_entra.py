"""Entra ID side: the real azure-identity credentials (client secret, managed identity) against the simulator,
AADSTS errors, and the Dataverse bearer check (401 + WWW-Authenticate)."""

from __future__ import annotations

import time

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

from localdev.dataverse import DataverseSimulator
from tests.dataverse_sim.helpers import CLIENT_ID, SECRET, TENANT, Api, credential, wait_for


def _token_form(sim: DataverseSimulator, **overrides: str) -> requests.Response:
    form = {"client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "client_credentials",
            "scope": sim.scope, "client_info": "1", **overrides}
    return requests.post(f"{sim.authority}/{overrides.pop('tenant', TENANT)}/oauth2/v2.0/token", data=form,
                         verify=sim.ca_bundle, timeout=10)


def test_discovery_document_names_the_token_and_authorize_endpoints(sim):
    r = requests.get(f"{sim.authority}/{TENANT}/v2.0/.well-known/openid-configuration", verify=sim.ca_bundle,
                     timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["token_endpoint"] == f"{sim.authority}/{TENANT}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{sim.authority}/{TENANT}/oauth2/v2.0/authorize"
    assert doc["issuer"] == f"{sim.authority}/{TENANT}/v2.0"


def test_client_secret_credential_gets_a_token_with_the_configured_lifetime(sim_factory):
    sim = sim_factory(token_lifetime_s=1800)
    before = int(time.time())
    token = credential(sim).get_token(sim.scope)
    assert before + 1800 - 5 <= token.expires_on <= int(time.time()) + 1800
    paths = [(r.method, r.path) for r in sim.requests()]
    assert paths == [("GET", f"/{TENANT}/v2.0/.well-known/openid-configuration"),
                     ("POST", f"/{TENANT}/oauth2/v2.0/token")]


def test_credential_caches_the_token(sim):
    cred = credential(sim)
    first = cred.get_token(sim.scope).token
    assert cred.get_token(sim.scope).token == first
    assert len(sim.requests("oauth2/v2.0/token")) == 1


def test_token_reply_has_the_documented_fields(sim):
    r = _token_form(sim)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"].startswith("eyJ")


def test_wrong_secret_is_invalid_client_7000215_and_azure_identity_raises(sim):
    r = _token_form(sim, client_secret="wrong")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.json()["error_codes"] == [7000215]
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential(sim, secret="wrong").get_token(sim.scope)


def test_wrong_scope_is_invalid_scope_70011(sim):
    r = _token_form(sim, scope="https://contoso.crm.dynamics.com/.default")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"
    assert r.json()["error_description"].startswith("AADSTS70011: The provided value for the input parameter "
                                                    "'scope' is not valid.")
    with pytest.raises(ClientAuthenticationError, match="AADSTS70011"):
        credential(sim).get_token("https://contoso.crm.dynamics.com/.default")


def test_unknown_client_and_tenant_and_grant_are_rejected(sim):
    assert _token_form(sim, client_id="99999999-2222-3333-4444-555555555555").json()["error_codes"] == [700016]
    assert _token_form(sim, grant_type="password").json()["error"] == "unsupported_grant_type"
    r = requests.post(f"{sim.authority}/other-tenant/oauth2/v2.0/token", verify=sim.ca_bundle, timeout=10,
                      data={"client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "client_credentials",
                            "scope": sim.scope})
    assert (r.status_code, r.json()["error_codes"]) == (400, [90002])


def test_basic_client_authentication_is_accepted(sim):
    r = requests.post(f"{sim.authority}/{TENANT}/oauth2/v2.0/token", auth=(CLIENT_ID, SECRET), verify=sim.ca_bundle,
                      data={"grant_type": "client_credentials", "scope": sim.scope}, timeout=10)
    assert r.status_code == 200


def test_managed_identity_credential_uses_the_plain_http_endpoint(sim, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", sim.msi_header)
    assert sim.msi_endpoint.startswith("http://127.0.0.1:")
    token = ManagedIdentityCredential().get_token(sim.scope)
    assert token.expires_on > time.time() + 3000
    api = Api(sim, token.token)
    whoami = api.get("WhoAmI")
    assert whoami.status_code == 200
    assert whoami.json()["UserId"] == sim.entra.msi_object_id  # a different subject from the app user
    msi = sim.requests("/msi/token")[0]
    assert msi.path.startswith("/msi/token?api-version=2019-08-01&resource=")


def test_managed_identity_endpoint_checks_the_header(sim):
    r = requests.get(sim.msi_endpoint, params={"api-version": "2019-08-01", "resource": sim.url},
                     headers={"X-IDENTITY-HEADER": "wrong"}, timeout=10)
    assert r.status_code == 401
    ok = requests.get(sim.msi_endpoint, params={"api-version": "2019-08-01", "resource": sim.url},
                      headers={"X-IDENTITY-HEADER": sim.msi_header}, timeout=10)
    assert ok.status_code == 200
    assert isinstance(ok.json()["expires_on"], str)


def test_dataverse_without_or_with_a_bad_token_is_401_with_www_authenticate(sim):
    expected = (f"Bearer authorization_uri={sim.authority}/{TENANT}/oauth2/authorize, "
                f"resource_id={sim.url}/")
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        r = requests.get(sim.api_base + "WhoAmI", headers=headers, verify=sim.ca_bundle, timeout=10)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == expected
        assert r.headers["OData-Version"] == "4.0"


def test_expired_tokens_get_401_until_a_new_token_is_fetched(sim, api):
    assert api.get("WhoAmI").status_code == 200
    sim.expire_tokens()
    assert api.get("WhoAmI").status_code == 401
    fresh = Api(sim, credential(sim).get_token(sim.scope).token)
    assert fresh.get("WhoAmI").status_code == 200


def test_tokens_expire_after_their_lifetime(sim_factory):
    sim = sim_factory(token_lifetime_s=1)
    r = _token_form(sim)
    api = Api(sim, r.json()["access_token"])
    assert api.get("WhoAmI").status_code == 200
    wait_for(lambda: api.get("WhoAmI").status_code == 401, timeout_s=5, interval_s=0.1)


def test_default_azure_credential_environment_route(sim, monkeypatch):
    from azure.identity import DefaultAzureCredential

    for name, value in {"AZURE_AUTHORITY_HOST": sim.authority, "AZURE_TENANT_ID": TENANT,
                        "AZURE_CLIENT_ID": CLIENT_ID, "AZURE_CLIENT_SECRET": SECRET,
                        "REQUESTS_CA_BUNDLE": sim.ca_bundle}.items():
        monkeypatch.setenv(name, value)
    cred = DefaultAzureCredential(disable_instance_discovery=True, exclude_managed_identity_credential=True)
    assert Api(sim, cred.get_token(sim.scope).token).get("WhoAmI").status_code == 200


# ---- certificate credentials (private_key_jwt) -----------------------------------------------------------------

def _certificate() -> tuple[str, str]:
    """A fresh RSA private key and its certificate, both PEM."""
    import trustme

    leaf = trustme.CA().issue_cert("sim-app.example", key_type=trustme.KeyType.RSA)
    return leaf.private_key_pem.bytes().decode(), leaf.cert_chain_pems[0].bytes().decode()


def _assertion(sim: DataverseSimulator, key_pem: str, cert_pem: str, **claims: object) -> str:
    import base64
    import uuid

    import jwt  # PyJWT: MSAL's own JWT library
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    x5t = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode().rstrip("=")
    now = time.time()
    payload = {"aud": f"{sim.authority}/{TENANT}/oauth2/v2.0/token", "iss": CLIENT_ID, "sub": CLIENT_ID,
               "exp": now + 600, "iat": now, "nbf": now, "jti": str(uuid.uuid4()), **claims}
    return jwt.encode(payload, key_pem, algorithm="PS256", headers={"x5t#S256": x5t})


def _assertion_form(sim: DataverseSimulator, assertion: str) -> requests.Response:
    form = {"client_id": CLIENT_ID, "grant_type": "client_credentials", "scope": sim.scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}
    return requests.post(f"{sim.authority}/{TENANT}/oauth2/v2.0/token", data=form, verify=sim.ca_bundle, timeout=10)


def test_msal_with_a_public_certificate_signs_ps256_with_the_sha256_thumbprint_and_gets_a_token(sim):
    import msal

    key_pem, cert_pem = _certificate()
    sim.entra.add_certificate(cert_pem.encode())
    session = requests.Session()
    session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would override the session's verify
    session.verify = sim.ca_bundle
    app = msal.ConfidentialClientApplication(
        CLIENT_ID, authority=f"{sim.authority}/{TENANT}", http_client=session, instance_discovery=False,
        client_credential={"private_key": key_pem, "public_certificate": cert_pem})
    result = app.acquire_token_for_client(scopes=[sim.scope])
    assert result.get("token_type") == "Bearer", result.get("error_description")
    assert sim.entra.validate(f"Bearer {result['access_token']}") is not None
    assert [r.info["client_auth"] for r in sim.requests("oauth2/v2.0/token")] == ["assertion PS256"]


@pytest.mark.parametrize(("claims", "code"), [
    ({"exp": time.time() - 3600}, "AADSTS700024"),  # expired (beyond the 5 min skew)
    ({"nbf": time.time() + 3600}, "AADSTS700024"),  # not yet valid
    ({"iss": "someone-else", "sub": "someone-else"}, "AADSTS700021"),
    ({"aud": "https://login.microsoftonline.com/other/oauth2/v2.0/token"}, "AADSTS700212"),
])
def test_an_assertion_with_bad_claims_is_invalid_client(sim, claims, code):
    key_pem, cert_pem = _certificate()
    sim.entra.add_certificate(cert_pem.encode())
    assert _assertion_form(sim, _assertion(sim, key_pem, cert_pem)).status_code == 200  # the good one passes
    r = _assertion_form(sim, _assertion(sim, key_pem, cert_pem, **claims))
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    assert r.json()["error_description"].startswith(code + ":")


def test_a_tampered_assertion_fails_signature_validation_and_garbage_is_malformed(sim):
    key_pem, cert_pem = _certificate()
    sim.entra.add_certificate(cert_pem.encode())
    head, _, signature = _assertion(sim, key_pem, cert_pem).split(".")
    other = _assertion(sim, key_pem, cert_pem, jti="another").split(".")[1]
    r = _assertion_form(sim, f"{head}.{other}.{signature}")
    assert r.status_code == 401
    assert r.json()["error_description"].startswith("AADSTS700027: Client assertion failed signature validation.")
    r = _assertion_form(sim, "not-a-jwt")
    assert (r.status_code, r.json()["error_codes"]) == (400, [50027])
