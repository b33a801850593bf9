"""Entra ID side of the simulator: OIDC discovery, client-credentials token endpoint, managed-identity endpoint."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from localdev.simserver import Request, Response

MSI_PATH = "/msi/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_S = 300  # Entra tolerates five minutes of clock skew on assertion times


@dataclass
class Token:
    value: str
    subject: str  # object id of the application user the token stands for
    audience: str
    expires_at: float  # wall clock (time.time())


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _thumbprints(certificate: x509.Certificate) -> tuple[str, str]:
    """The certificate's ``x5t`` (SHA-1) and ``x5t#S256`` (SHA-256) thumbprints, base64url as in a JWT header."""
    sha1, sha256 = (base64.urlsafe_b64encode(certificate.fingerprint(algorithm)).decode().rstrip("=")
                    for algorithm in (hashes.SHA1(), hashes.SHA256()))  # noqa: S303 - x5t is SHA-1 (RFC 7515)
    return sha1, sha256


class Entra:
    """Issues opaque JWT-shaped tokens and remembers them, so Dataverse can check bearer, expiry and subject."""

    def __init__(self, *, tenant: str, client_id: str, client_secret: str, token_lifetime_s: int,
                 resource: str, authority: str, msi_header: str) -> None:
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime_s = token_lifetime_s
        self.resource = resource  # environment URL without trailing slash
        self.authority = authority
        self.msi_header = msi_header
        self.app_object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim-app/{client_id}"))
        self.msi_object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim-msi/{tenant}"))
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()
        self.issued = 0
        self._certificates: dict[str, x509.Certificate] = {}  # thumbprint (x5t or x5t#S256) -> certificate

    def add_certificate(self, pem: bytes) -> None:
        """Register a certificate (public part, PEM) on the app, as uploaded under "Certificates & secrets"."""
        certificate = x509.load_pem_x509_certificate(pem)
        for thumbprint in _thumbprints(certificate):
            self._certificates[thumbprint] = certificate

    def clear_certificates(self) -> None:
        self._certificates.clear()

    # ---- token bookkeeping --------------------------------------------------------------------------------------

    def _issue(self, subject: str, appid: str) -> Token:
        now = time.time()
        claims = {"aud": self.resource, "iss": f"{self.authority}/{self.tenant}/v2.0", "iat": int(now),
                  "nbf": int(now), "exp": int(now + self.token_lifetime_s), "appid": appid, "oid": subject,
                  "sub": subject, "tid": self.tenant, "jti": secrets.token_hex(8)}
        value = f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(claims)}.{secrets.token_urlsafe(24)}"
        token = Token(value, subject, self.resource, now + self.token_lifetime_s)
        with self._lock:
            self._tokens[value] = token
            self.issued += 1
        return token

    def validate(self, authorization: str | None) -> Token | None:
        """The token behind an ``Authorization: Bearer`` header, or None if missing, unknown or expired."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        with self._lock:
            token = self._tokens.get(authorization[7:].strip())
        if token is None or token.expires_at <= time.time():
            return None
        return token

    def expire_all(self) -> None:
        """Make every issued token expired (a client must notice the 401 and get a new one)."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    # ---- HTTP -------------------------------------------------------------------------------------------------

    def _aad_error(self, status: int, error: str, code: int, description: str) -> Response:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        body = {"error": error,
                "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
                                     f"Timestamp: {stamp}",
                "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
                "error_uri": f"{self.authority}/error?code={code}"}
        response = Response.json(body, status, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
                                 content_type="application/json; charset=utf-8")
        response.info = {"kind": "token", "operations": 1, "error": error}  # type: ignore[attr-defined]
        return response

    def handle(self, request: Request) -> Response | None:
        """Entra routes on the shared HTTPS server; None when the path is not an Entra path."""
        parts = [p for p in request.path.split("/") if p]
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"] \
                and request.method == "GET":
            return self._discovery(parts[0])
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            if request.method != "POST":
                return self._aad_error(405, "invalid_request", 900561,
                                       "The endpoint only accepts POST requests.")
            return self._token(parts[0], request)
        return None

    def _discovery(self, tenant: str) -> Response:
        if tenant != self.tenant:
            return self._aad_error(400, "invalid_tenant", 90002,
                                   f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                                   "and are signing into the correct cloud.")
        base = f"{self.authority}/{tenant}"
        response = Response.json({
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.authority}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True, "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid"],
            "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
        }, content_type="application/json; charset=utf-8")
        response.info = {"kind": "openid", "operations": 1}  # type: ignore[attr-defined]
        return response

    def _token(self, tenant: str, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):  # RFC 6749 client_secret_basic
            try:
                user, _, pwd = base64.b64decode(basic[6:]).decode().partition(":")
                client_id, secret = unquote(user), unquote(pwd)
            except ValueError:
                return self._aad_error(401, "invalid_client", 7000216, "Client authentication failed.")
        if tenant != self.tenant:
            return self._aad_error(400, "invalid_request", 90002,
                                   f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                                   "and are signing into the correct cloud.")
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return self._aad_error(400, "unsupported_grant_type", 70003,
                                   f"The app requested an unsupported grant type '{grant}'.")
        if client_id != self.client_id:
            return self._aad_error(400, "unauthorized_client", 700016,
                                   f"Application with identifier '{client_id}' was not found in the directory "
                                   f"'{tenant}'. This can happen if the application has not been installed by the "
                                   "administrator of the tenant or consented to by any user in the tenant.")
        assertion = form.get("client_assertion")
        client_auth = "secret"
        if assertion is not None:
            if form.get("client_assertion_type") != JWT_BEARER:
                return self._aad_error(400, "invalid_request", 50027,
                                       "Invalid client_assertion_type: it must be '" + JWT_BEARER + "'.")
            checked = self._check_assertion(tenant, client_id, assertion)
            if isinstance(checked, Response):
                return checked
            client_auth = f"assertion {checked}"
        elif not secret:
            return self._aad_error(401, "invalid_client", 7000218,
                                   "The request body must contain the following parameter: 'client_assertion' or "
                                   "'client_secret'.")
        elif not hmac.compare_digest(secret.encode(), self.client_secret.encode()):
            return self._aad_error(401, "invalid_client", 7000215,
                                   "Invalid client secret provided. Ensure the secret being sent in the request is "
                                   f"the client secret value, not the client secret ID, for a secret added to app "
                                   f"'{client_id}'.")
        scope = form.get("scope", "")
        if scope.split() != [f"{self.resource}/.default"]:
            return self._aad_error(400, "invalid_scope", 70011,
                                   f"The provided value for the input parameter 'scope' is not valid. The scope "
                                   f"{scope} is not valid.")
        token = self._issue(self.app_object_id, client_id)
        response = Response.json({"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                                  "ext_expires_in": self.token_lifetime_s, "access_token": token.value},
                                 headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
                                 content_type="application/json; charset=utf-8")
        response.info = {"kind": "token", "operations": 1, "client_auth": client_auth}  # type: ignore[attr-defined]
        return response

    def _check_assertion(self, tenant: str, client_id: str, assertion: str) -> Response | str:
        """Verify a certificate client assertion (private_key_jwt): its ``alg`` if valid, else Entra's error.

        Header ``alg`` RS256 with ``x5t`` (SHA-1) or PS256 with ``x5t#S256`` (what MSAL Python sends); claims
        ``aud`` = this token endpoint, ``iss`` = ``sub`` = the client id, ``exp``/``nbf`` within five minutes' skew.
        """
        def invalid(code: int, description: str) -> Response:
            return self._aad_error(401, "invalid_client", code, description)

        try:
            head_b64, claims_b64, signature_b64 = assertion.split(".")
            header, claims = json.loads(_unb64(head_b64)), json.loads(_unb64(claims_b64))
            signature = _unb64(signature_b64)
        except (ValueError, binascii.Error):
            return self._aad_error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        thumbprint = str(header.get("x5t#S256") or header.get("x5t") or "")
        certificate = self._certificates.get(thumbprint.rstrip("="))  # MSAL keeps base64 padding; Entra accepts it
        if certificate is None:
            return invalid(700027, "The certificate with identifier used to sign the client assertion is not "
                                   "registered on application. [Reason - The key was not found., Thumbprint of key "
                                   f"used by client: '{thumbprint}']")
        schemes = {"RS256": padding.PKCS1v15(),
                   "PS256": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)}  # RFC 7518 3.5
        key = certificate.public_key()
        if header.get("alg") not in schemes or not isinstance(key, rsa.RSAPublicKey):
            return invalid(700027, f"Client assertion contains an invalid signature algorithm {header.get('alg')!r}.")
        try:
            key.verify(signature, f"{head_b64}.{claims_b64}".encode(), schemes[header["alg"]], hashes.SHA256())
        except InvalidSignature:
            return invalid(700027, "Client assertion failed signature validation.")
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            return invalid(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
        if claims.get("aud") != f"{self.authority}/{tenant}/oauth2/v2.0/token":
            return invalid(700212, f"Client assertion audience claim does not match Realm issuer "
                                   f"'{claims.get('aud')}'.")
        now = time.time()
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] + CLOCK_SKEW_S < now \
                or claims.get("nbf", now) - CLOCK_SKEW_S > now:
            return invalid(700024, "Client assertion is not within its valid time range.")
        return str(header["alg"])

    def handle_msi(self, request: Request) -> Response:
        """App Service / Functions managed-identity endpoint (IDENTITY_ENDPOINT, api-version 2019-08-01)."""
        def fail(status: int, message: str) -> Response:
            response = Response.json({"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())},
                                     status)
            response.info = {"kind": "msi", "operations": 1, "error": message}  # type: ignore[attr-defined]
            return response

        if request.path != MSI_PATH or request.method != "GET":
            return fail(404, "Not found")
        if request.headers.get("x-identity-header") != self.msi_header:
            return fail(401, "The X-IDENTITY-HEADER header is missing or invalid.")
        if request.q("api-version") != "2019-08-01":
            return fail(400, "The api-version is missing or not supported; use 2019-08-01.")
        resource = (request.q("resource") or "").rstrip("/")
        if resource != self.resource:
            return fail(400, f"AADSTS500011: The resource principal named {resource} was not found in the tenant.")
        token = self._issue(self.msi_object_id, self.msi_object_id)
        response = Response.json({"access_token": token.value, "expires_on": str(int(token.expires_at)),
                                  "resource": request.q("resource"), "token_type": "Bearer",
                                  "client_id": self.msi_object_id})
        response.info = {"kind": "msi", "operations": 1}  # type: ignore[attr-defined]
        return response
