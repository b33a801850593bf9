"""The ION API gateway's OAuth side: token and revoke endpoints, bearer checks, forced expiry (reference 1.2, 6)."""

from __future__ import annotations

import base64
import binascii
import json
import random
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qs

from localdev.cloudsuite.settings import Settings
from localdev.cloudsuite.store import Clock
from localdev.simserver import Request, Response


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    access_key: str  # saak = OAuth username
    secret_key: str  # sask = OAuth password

    @classmethod
    def for_tenant(cls, tenant: str, seed: int) -> Credentials:
        rng = random.Random(f"{seed}:{tenant}:credentials")
        alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

        def word(n: int) -> str:
            return "".join(rng.choice(alphabet) for _ in range(n))

        return cls(f"{tenant}~{word(32)}", word(40), f"{tenant}#{word(40)}", word(44))


@dataclass
class _Token:
    grant: str
    expires_at: float
    revoked: bool = False


class TokenService:
    """Issues, checks, revokes and force-expires tokens. Expiry uses the simulator clock."""

    def __init__(self, tenant: str, credentials: Credentials, settings: Settings, clock: Clock) -> None:
        self.tenant = tenant
        self.credentials = credentials
        self.settings = settings
        self.clock = clock
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self.issued: Counter[str] = Counter()
        self._expire_after_calls: int | None = None

    # --- token endpoint ---------------------------------------------------------------------------
    def token_endpoint(self, request: Request) -> Response:
        form = _form(request)
        grant = form.get("grant_type", "")
        if not grant:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        if grant not in ("password", "client_credentials", "refresh_token"):
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        client_id, client_secret = _client_auth(request, form)
        if (client_id, client_secret) != (self.credentials.client_id, self.credentials.client_secret):
            status = self.settings.invalid_client_status
            headers = {"WWW-Authenticate": f'Basic realm="{self.tenant}"'} if status == 401 else {}
            return _oauth_error(status, "invalid_client", "Invalid client or client credentials", headers)
        if grant not in self.settings.grants:
            return _oauth_error(400, "unauthorized_client", f"The client is not authorized for grant type {grant}")
        if grant == "password":
            if (form.get("username"), form.get("password")) != (self.credentials.access_key,
                                                                 self.credentials.secret_key):
                return _oauth_error(400, "invalid_grant", "Invalid username or password")
        elif grant == "refresh_token":
            with self._lock:
                old = self._refresh.get(form.get("refresh_token", ""))
            if old is None or old.revoked:
                return _oauth_error(400, "invalid_grant", "Invalid refresh token")
        return Response.json(self._issue(grant), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def revoke_endpoint(self, request: Request) -> Response:
        form = _form(request)
        client_id, client_secret = _client_auth(request, form)
        if (client_id, client_secret) != (self.credentials.client_id, self.credentials.client_secret):
            return _oauth_error(self.settings.invalid_client_status, "invalid_client", "Invalid client")
        token = form.get("token", "")
        if not token:
            return _oauth_error(400, "invalid_request", "token is required")
        with self._lock:
            for table in (self._access, self._refresh):
                if token in table:
                    table[token].revoked = True
        return Response(200)  # RFC 7009: 200 whether or not the token was known

    def _issue(self, grant: str) -> dict[str, object]:
        lifetime = int(self.settings.token_lifetime_s)
        now = self.clock.now()
        access = _fake_jwt(self.tenant, self.credentials.client_id, grant, now, lifetime)
        body: dict[str, object] = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime}
        with self._lock:
            self._access[access] = _Token(grant, now + lifetime)
            if self.settings.issue_refresh_tokens:
                refresh = secrets.token_urlsafe(32)
                self._refresh[refresh] = _Token(grant, float("inf"))
                body["refresh_token"] = refresh
            self.issued[grant] += 1
        return body

    # --- bearer check -----------------------------------------------------------------------------
    def check(self, request: Request) -> Response | None:
        """None when the request carries a valid bearer token, else the gateway's 401."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return self._unauthorized("The access token is missing")
        with self._lock:
            if self._expire_after_calls is not None:
                if self._expire_after_calls <= 0:
                    self._expire_after_calls = None
                    self._expire_all_locked()
                else:
                    self._expire_after_calls -= 1
            token = self._access.get(value.strip())
            if token is None:
                return self._unauthorized("The access token is invalid")
            if token.revoked:
                return self._unauthorized("The access token was revoked")
            if self.clock.now() >= token.expires_at:
                return self._unauthorized("The access token expired")
        return None

    def _unauthorized(self, description: str) -> Response:
        headers = {}
        if self.settings.www_authenticate:
            headers["WWW-Authenticate"] = (f'Bearer realm="{self.tenant}", error="invalid_token", '
                                           f'error_description="{description}"')
        return Response.json({"error": "invalid_token", "error_description": description}, 401, headers)

    # --- test controls ----------------------------------------------------------------------------
    def expire_all(self) -> int:
        with self._lock:
            return self._expire_all_locked()

    def _expire_all_locked(self) -> int:
        now = self.clock.now()
        for token in self._access.values():
            token.expires_at = min(token.expires_at, now)
        return len(self._access)

    def expire_after(self, calls: int) -> None:
        """Let ``calls`` more authenticated API calls through, then expire every token issued so far."""
        with self._lock:
            self._expire_after_calls = calls

    @property
    def total_issued(self) -> int:
        return sum(self.issued.values())


def _form(request: Request) -> dict[str, str]:
    parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def _client_auth(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return form.get("client_id", ""), form.get("client_secret", "")


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": error, "error_description": description}, status,
                         {"Cache-Control": "no-store", **(headers or {})})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _fake_jwt(tenant: str, client_id: str, grant: str, now: float, lifetime: int) -> str:
    """Looks like the gateway's JWT (clients must treat it as opaque); unique per issue."""
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "sim"}).encode())
    claims = {"iss": "cloudsuite-sim", "ti": tenant, "client_id": client_id, "grant": grant, "iat": int(now),
              "exp": int(now) + lifetime, "jti": secrets.token_hex(8)}
    return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(32))}"
