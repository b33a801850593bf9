"""A thin Dataverse Web API client on ``requests``: OData headers, bearer tokens from azure-identity, typed
errors carrying Dataverse's own code and message, and the retry policy (429 pauses every sender of the
environment for Retry-After; 5xx, timeouts and resets back off with jitter; a 401 renews the token once).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError

from shared import defaults
from shared.dataverse.config import DataverseConfig
from shared.dataverse.flow import ConcurrencyLimit, PauseGate
from shared.errors import AuthError, ConfigError, FatalError, ThrottledError, TransientError
from shared.redaction import redact, register_secret
from shared.telemetry import log_event

log = logging.getLogger(__name__)

ODATA_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
    # Documented for every request: defeats cached expanded data. (The upsert itself is unconditional.)
    "If-None-Match": "null",
}
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
DOP_HINT_HEADER = "x-ms-dop-hint"
CODE_TOO_MANY_CONCURRENT = "0x80072326"  # "Number of concurrent requests exceeded the limit of 52."
CODE_TOO_MANY_REQUESTS = "0x80072322"  # "Number of requests exceeded the limit of 6000 over time window of ..."


class DataverseError(FatalError):
    """Dataverse refused a request (4xx other than 401/403/429): ``status``, Dataverse ``code`` and message.

    The writer turns these into per-record outcomes; anywhere else they stop the connection loudly.
    """

    def __init__(self, status: int, code: str, message: str, method: str = "", path: str = "") -> None:
        super().__init__(f"Dataverse {method} {path} -> HTTP {status} {code or '(no code)'}: {message}")
        self.status = status
        self.code = code
        self.dv_message = redact(message)


def parse_error(status: int, body: bytes | str) -> tuple[str, str]:
    """(code, message) from a Dataverse error body; a non-JSON body gives ('', the start of its text)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        message = error.get("message") or error.get("innererror", {}).get("message") or ""
        return str(error.get("code") or ""), str(message)
    if isinstance(error, str):  # OAuth-style {"error": "...", "error_description": "..."}
        return error, text[: defaults.DATAVERSE_ERROR_SNIPPET_CHARS]
    return "", text.strip()[: defaults.DATAVERSE_ERROR_SNIPPET_CHARS] or f"HTTP {status}"


_DECLARED_LIMIT = re.compile(r"limit of\s+([\d,]+)\s+over time window of\s+(\d+(?:\.\d+)?)\s+seconds")


def parse_declared_limit(message: str) -> tuple[int, float] | None:
    """(requests, seconds) from a request-count 429 message ("limit of 6000 over time window of 300 seconds")."""
    match = _DECLARED_LIMIT.search(message or "")
    if not match:
        return None
    return int(match.group(1).replace(",", "")), float(match.group(2))


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now(), 0.0)


_rng = random.Random()


def backoff(attempt: int) -> float:
    """Full-jitter exponential back-off for attempt 1, 2, ..."""
    ceiling = min(defaults.DATAVERSE_BACKOFF_BASE_S * (2 ** (attempt - 1)), defaults.DATAVERSE_BACKOFF_MAX_S)
    return _rng.uniform(0, ceiling)


def error_body(code: str, message: str) -> bytes:
    """A Dataverse-shaped error body (for outcomes synthesised from a whole-request error)."""
    return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")


class WebApiClient:
    """Sends Web API requests for one environment; thread-safe; all threads share one pause gate."""

    def __init__(self, config: DataverseConfig, credential: TokenCredential, session: requests.Session | None = None,
                 gate: PauseGate | None = None, concurrency: ConcurrencyLimit | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 renew_credential: Callable[[], TokenCredential] | None = None) -> None:
        self.config = config
        self.credential = credential
        self._last_token: str | None = None
        # Dataverse refused a token the SDK still deems valid (revoked, or clocks disagree): the SDK would hand
        # out the same token until its own expiry, so a 401 gets one brand-new credential (empty token cache).
        self._renew_credential = renew_credential
        self._renew_lock = threading.Lock()
        self.session = session or _new_session(config.max_concurrency)
        self.gate = gate or PauseGate()
        self.concurrency = concurrency or ConcurrencyLimit(config.max_concurrency)
        self.sleep = sleep
        self._count_lock = threading.Lock()
        self.requests_sent = 0  # every HTTP attempt (the pipeline's audit row counts requests per batch)

    # --- tokens -------------------------------------------------------------------------------------
    def _token(self) -> str:
        # The SDK caches the token and refreshes it 300 s before expiry; asking per request costs nothing.
        try:
            token = self.credential.get_token(self.config.scope).token
        except ClientAuthenticationError as exc:
            log_event(log, "token.refreshed", service="dataverse", outcome="failed", error_class=type(exc).__name__,
                      level=logging.WARNING)
            raise AuthError(f"could not get a Dataverse token for {self.config.url}: {exc.message}") from None
        except (ValueError, OSError) as exc:  # msal: bad authority / discovery failure; network below it
            log_event(log, "token.refreshed", service="dataverse", outcome="failed", error_class=type(exc).__name__,
                      level=logging.WARNING)
            raise AuthError(f"could not get a Dataverse token for {self.config.url}: {exc}") from None
        if token != self._last_token:  # the SDK fetched a new one (it refreshes 300 s before expiry)
            self._last_token = token
            register_secret(token)
            log_event(log, "token.refreshed", service="dataverse", outcome="ok")
        return token

    # --- requests -----------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if path.startswith("https://") else f"{self.config.api_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, body: bytes | None = None, json_body: Any = None,
                headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
                ok: tuple[int, ...] = (200, 201, 204)) -> requests.Response:
        """Send with retries; return a response whose status is in ``ok``, or raise from the taxonomy."""
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        all_headers = dict(ODATA_HEADERS)
        if body is not None:
            all_headers["Content-Type"] = "application/json; charset=utf-8"
        all_headers.update(headers or {})
        url = self.url(path)
        attempt = 0
        throttled_s = 0.0
        retried_401 = False
        while True:
            response = self._send_once(method, url, body, all_headers, params)
            if isinstance(response, Exception):
                attempt += 1
                if attempt > defaults.DATAVERSE_MAX_RETRIES:
                    raise TransientError(f"Dataverse {method} {path}: {response} (after {attempt} attempts)")
                self.sleep(backoff(attempt))
                continue
            status = response.status_code
            if status in ok:
                return response
            if status == 429:
                throttled_s += self._on_throttled(response, method, path, throttled_s)
                continue
            if status in TRANSIENT_STATUSES:
                attempt += 1
                if attempt > defaults.DATAVERSE_MAX_RETRIES:
                    code, message = parse_error(status, response.content)
                    raise TransientError(f"Dataverse {method} {path} -> HTTP {status} {code}: {message} "
                                         f"(after {attempt} attempts)")
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                wait = backoff(attempt) if retry_after is None else min(retry_after, defaults.DATAVERSE_BACKOFF_MAX_S)
                self.sleep(wait)
                continue
            if status == 401 and not retried_401:
                retried_401 = True
                self._renew(getattr(response, "token", None))
                continue
            code, message = parse_error(status, response.content)
            if status in (401, 403):
                raise AuthError(f"Dataverse {method} {path} -> HTTP {status} {code}: {message}")
            raise DataverseError(status, code, message, method, path)

    def _send_once(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                   params: Mapping[str, str] | None) -> requests.Response | Exception:
        token = self._token()
        headers = {**headers, "Authorization": f"Bearer {token}"}
        timeout = (defaults.DATAVERSE_CONNECT_TIMEOUT_S, defaults.DATAVERSE_READ_TIMEOUT_S)
        paused = self.gate.remaining()
        if paused > defaults.DATAVERSE_RETRY_AFTER_MAX_S:  # another sender was told to stay away this long
            raise ThrottledError(f"Dataverse {self.config.url} is throttling this app user for another "
                                 f"{paused:.0f} s", retry_after=paused)
        with self.concurrency.slot():
            sent_at = self.gate.wait_open()
            with self._count_lock:
                self.requests_sent += 1
            try:
                response = self.session.request(method, url, data=body, headers=headers, params=params,
                                                timeout=timeout, verify=self.config.verify, allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise ConfigError(f"TLS verification of {self.config.url} failed (check dataverse.ca_bundle): "
                                  f"{exc}") from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                return exc
            finally:
                self.gate.finished(sent_at)
        response.sent_at = sent_at  # type: ignore[attr-defined]  # for the pause gate's pace
        response.token = token  # type: ignore[attr-defined]  # for a renewal after 401
        hint = response.headers.get(DOP_HINT_HEADER)
        if hint and hint.strip().isdigit():
            self.concurrency.hint(int(hint))
        return response

    def _renew(self, refused_token: str | None) -> None:
        with self._renew_lock:
            if self._renew_credential is None or refused_token is None:
                return
            try:
                current = self.credential.get_token(self.config.scope).token
            except ClientAuthenticationError:
                current = None
            if current == refused_token:  # nobody renewed it since this request was sent
                log.info("Dataverse refused the cached token; renewing the credential once")
                self.credential = self._renew_credential()

    def _on_throttled(self, response: requests.Response, method: str, path: str, waited_s: float) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait = retry_after if retry_after is not None else defaults.DATAVERSE_RETRY_AFTER_DEFAULT_S
        code, message = parse_error(429, response.content)
        sent_at = getattr(response, "sent_at", None)
        if code == CODE_TOO_MANY_CONCURRENT:
            # Too many requests at once (other instances share the app user): fewer in parallel, not a slower pace.
            self.concurrency.halve()
            sent_at = None
        self.concurrency.throttled()
        declared = parse_declared_limit(message) if code == CODE_TOO_MANY_REQUESTS else None
        self.gate.pause(wait, sent_at, declared)
        if wait > defaults.DATAVERSE_RETRY_AFTER_MAX_S or waited_s + wait > defaults.DATAVERSE_THROTTLE_BUDGET_S:
            raise ThrottledError(f"Dataverse {method} {path} throttled ({code}: {message}); retry after "
                                 f"{wait:.0f} s", retry_after=wait)
        window = self.gate.window
        log.info("Dataverse throttled %s %s (%s); pausing all sends for %.1f s%s", method, path, code, wait,
                 f", then keeping within {window[0]} requests per {window[1]:g} s" if window else "")
        return wait

    def close(self) -> None:
        self.session.close()


def _new_session(max_concurrency: int) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max_concurrency + 2, max_retries=0)
    session.mount("https://", adapter)
    # HTTPS only: a plain-http environment URL is refused by the config, and nothing is mounted for http.
    session.mount("http://", _RefuseHttp())
    return session


class _RefuseHttp(requests.adapters.BaseAdapter):
    def send(self, request: requests.PreparedRequest, *args: object, **kwargs: object) -> requests.Response:
        raise ConfigError(f"refusing plain-http request to {request.url}: Dataverse is HTTPS only")

    def close(self) -> None:
        pass
