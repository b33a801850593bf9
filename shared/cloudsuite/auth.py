"""ION API OAuth 2.0 tokens for one connection: password grant (service account) or client credentials,
cached, refreshed proactively and single-flight, every token registered with the redaction helper.

Expiry arithmetic (all on a monotonic clock, from the ``expires_in`` actually received):
    refresh from   obtained + expires_in * refresh_share
    never use after obtained + expires_in - min(safety_margin, expires_in * CLOUDSUITE_TOKEN_MARGIN_MAX_SHARE)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from shared import defaults
from shared.cloudsuite.ionapi import IonApi
from shared.cloudsuite.transport import body_message, retry_after_of
from shared.errors import AuthError, ConfigError, ThrottledError, TransientError
from shared.redaction import redact, register_secret
from shared.telemetry import log_event

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TokenPolicy:
    refresh_share: float = defaults.CLOUDSUITE_TOKEN_REFRESH_SHARE
    safety_margin_s: float = defaults.CLOUDSUITE_TOKEN_SAFETY_MARGIN_S
    margin_max_share: float = defaults.CLOUDSUITE_TOKEN_MARGIN_MAX_SHARE
    client_auth: str = "body"  # body | basic


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    expires_in: float
    obtained_at: float  # monotonic clock reading when the response arrived
    refresh_token: str = field(default="", repr=False)

    def refresh_from(self, policy: TokenPolicy) -> float:
        """Clock reading from which a new token is fetched proactively."""
        return min(self.obtained_at + self.expires_in * policy.refresh_share, self.usable_until(policy))

    def usable_until(self, policy: TokenPolicy) -> float:
        """Clock reading after which the token is never sent (safety margin before its expiry)."""
        margin = min(policy.safety_margin_s, self.expires_in * policy.margin_max_share)
        return self.obtained_at + self.expires_in - margin

    def needs_refresh(self, now: float, policy: TokenPolicy) -> bool:
        return now >= self.refresh_from(policy)

    def usable(self, now: float, policy: TokenPolicy) -> bool:
        return now < self.usable_until(policy)


class TokenProvider:
    """Thread-safe token cache for one connection; at most one token request is in flight at a time."""

    def __init__(self, ionapi: IonApi, session: requests.Session, policy: TokenPolicy,
                 timeout: tuple[float, float], clock: Callable[[], float] = time.monotonic,
                 connection: str = "") -> None:
        self.connection = connection  # for the token.refreshed telemetry event
        self.ionapi = ionapi
        self.session = session
        self.policy = policy
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._stale = False  # set when the gateway refused the current token (401)
        self.grants = 0  # token responses received: for tests and audit

    def get(self) -> str:
        """A token that is safe to send now; fetches a new one when due (other threads wait for it)."""
        with self._lock:
            current = self._token
            now = self._clock()
            if current is not None and not self._stale and not current.needs_refresh(now, self.policy):
                return current.access_token
            try:
                self._token = self._renew(current)
            except TransientError:
                if current is not None and not self._stale and current.usable(now, self.policy):
                    log.warning("proactive token refresh failed; the current token is still valid, using it")
                    return current.access_token
                raise
            self._stale = False
            return self._token.access_token

    def invalidate(self, access_token: str) -> None:
        """The gateway refused ``access_token``: the next ``get`` fetches a new one (once for many callers)."""
        with self._lock:
            if self._token is not None and self._token.access_token == access_token:
                self._stale = True

    def _renew(self, current: Token | None) -> Token:
        if current is not None and current.refresh_token:
            try:
                return self._request({"grant_type": "refresh_token", "refresh_token": current.refresh_token},
                                     "refresh_token")
            except AuthError as exc:
                log.info("refresh_token grant refused (%s); requesting a new token", exc.message)
        return self._request(self._grant_form(), self.ionapi.grant_type)

    def _grant_form(self) -> dict[str, str]:
        if self.ionapi.grant_type == "password":
            return {"grant_type": "password", "username": self.ionapi.service_account_key,
                    "password": self.ionapi.service_account_secret}
        return {"grant_type": "client_credentials"}

    def _request(self, form: dict[str, str], grant: str) -> Token:
        url = self.ionapi.token_url
        auth: tuple[str, str] | None = None
        if self.policy.client_auth == "basic":
            auth = (self.ionapi.client_id, self.ionapi.client_secret)
        else:
            form = {**form, "client_id": self.ionapi.client_id, "client_secret": self.ionapi.client_secret}
        try:
            response = self.session.post(url, data=form, auth=auth, timeout=self.timeout,
                                         headers={"Accept": "application/json"})
            text = response.text
        except requests.exceptions.SSLError as exc:
            raise ConfigError(f"token request ({grant}) to {url}: TLS verification failed: {redact(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"token request ({grant}) to {url} failed: {type(exc).__name__}") from None
        status = response.status_code
        if status != 200:
            message = f"token request ({grant}) to {url} refused: HTTP {status}: {body_message(text)}"
            if status == 429:
                raise ThrottledError(message, retry_after_of(response))
            if status >= 500:
                raise TransientError(message)
            log_event(log, "token.refreshed", service="cloudsuite", outcome="failed",
                      connection=self.connection or None, reason=f"HTTP {status}", level=logging.WARNING)
            raise AuthError(message)  # 400 invalid_grant / 401 invalid_client: credentials or app type are wrong
        try:
            data = response.json()
        except ValueError:
            raise TransientError(f"token request ({grant}) to {url}: response is not JSON") from None
        access = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(access, str) or not access:
            raise AuthError(f"token request ({grant}) to {url}: response has no access_token")
        register_secret(access)
        refresh = data.get("refresh_token") or ""
        if isinstance(refresh, str):
            register_secret(refresh)
        else:
            refresh = ""
        token_type = str(data.get("token_type") or "Bearer")
        if token_type.lower() != "bearer":
            raise AuthError(f"token request ({grant}) to {url}: unsupported token_type {token_type!r}")
        try:
            lifetime = float(data.get("expires_in") or defaults.CLOUDSUITE_TOKEN_DEFAULT_LIFETIME_S)
        except (TypeError, ValueError):
            lifetime = defaults.CLOUDSUITE_TOKEN_DEFAULT_LIFETIME_S
        self.grants += 1
        log.info("token obtained (grant %s, expires_in %.0f s, refresh token %s)", grant, lifetime,
                 "issued" if refresh else "not issued")
        log_event(log, "token.refreshed", service="cloudsuite", outcome="ok", connection=self.connection or None,
                  expires_in_s=int(lifetime))
        return Token(access_token=access, expires_in=lifetime, obtained_at=self._clock(), refresh_token=refresh)
