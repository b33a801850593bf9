"""HTTPS transport for one connection: a requests.Session whose adapter retries (urllib3 Retry), plus the
mapping of whatever is left (status codes, network errors, broken bodies) onto the error taxonomy.

Retried inside urllib3: connect errors, read errors and timeouts, 429 (honouring Retry-After), 502, 503 and 504
(504 only ``CLOUDSUITE_GATEWAY_TIMEOUT_RETRIES`` times, so the pager can shrink the page instead). A 401 gets
one token refresh and one retry here; a second 401 is an AuthError.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import takewhile
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared import defaults
from shared.cloudsuite.errors import GatewayTimeoutError, HTTPStatusError
from shared.errors import AuthError, ConfigError, ThrottledError, TransientError
from shared.redaction import redact

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})  # reference rule 4; every other non-2xx fails at once
USER_AGENT = "cloudsuite-sync/0.1 (+python-requests)"
BODY_EXCERPT = 300  # characters of an error body kept in a message: enough for the reason, never a dump


@dataclass(frozen=True)
class TransportSettings:
    connect_timeout_s: float = defaults.CONNECT_TIMEOUT_S
    read_timeout_s: float = defaults.READ_TIMEOUT_S
    max_retries: int = defaults.HTTP_MAX_RETRIES
    backoff_base_s: float = defaults.HTTP_BACKOFF_BASE_S
    backoff_max_s: float = defaults.HTTP_BACKOFF_MAX_S
    retry_after_max_s: float = defaults.CLOUDSUITE_RETRY_AFTER_MAX_S
    gateway_timeout_retries: int = defaults.CLOUDSUITE_GATEWAY_TIMEOUT_RETRIES
    verify: bool | str = True  # True = system trust store, or the path of a CA bundle; never False


class IonRetry(Retry):
    """urllib3 Retry with ION specifics: fractional Retry-After, a cap on it, and few retries of 504."""

    gateway_timeout_retries: int = defaults.CLOUDSUITE_GATEWAY_TIMEOUT_RETRIES
    retry_after_cap_s: float = defaults.CLOUDSUITE_RETRY_AFTER_MAX_S

    def new(self, **kw: Any) -> IonRetry:
        retry = super().new(**kw)
        retry.gateway_timeout_retries = self.gateway_timeout_retries
        retry.retry_after_cap_s = self.retry_after_cap_s
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = float(retry_after.strip())
        except ValueError:
            seconds = super().parse_retry_after(retry_after)
        return min(max(seconds, 0.0), self.retry_after_cap_s)

    def get_backoff_time(self) -> float:
        """base * 2^(n-1) plus up to ``backoff_jitter`` of jitter, from the FIRST retry on (urllib3 retries the
        first one at once, which only adds load to a throttled or overloaded gateway)."""
        errors = len(list(takewhile(lambda h: h.redirect_location is None, reversed(self.history))))
        if errors == 0:
            return 0.0
        delay = self.backoff_factor * (2 ** (errors - 1)) + random.uniform(0, self.backoff_jitter)
        return float(min(self.backoff_max, delay))

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 504:
            seen = sum(1 for h in self.history if h.status == 504)
            if seen >= self.gateway_timeout_retries:
                return False
        return super().is_retry(method, status_code, has_retry_after)


def make_retry(settings: TransportSettings) -> IonRetry:
    retry = IonRetry(
        total=settings.max_retries,
        connect=settings.max_retries,
        read=settings.max_retries,
        status=settings.max_retries,
        other=0,
        redirect=0,
        allowed_methods=None,  # we only send reads (GET, MI bulk POST of List/Get, token grants): all safe to repeat
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.backoff_base_s,
        backoff_max=settings.backoff_max_s,
        backoff_jitter=settings.backoff_base_s,
        raise_on_status=False,  # hand the last response back so we can map it onto the taxonomy
        raise_on_redirect=False,
        respect_retry_after_header=True,
    )
    retry.gateway_timeout_retries = settings.gateway_timeout_retries
    retry.retry_after_cap_s = settings.retry_after_max_s
    return retry


def make_session(settings: TransportSettings) -> requests.Session:
    """One Session per connection: pooled keep-alive HTTPS, retrying adapter, no plain-http adapter at all."""
    if settings.verify is False:
        raise ConfigError("TLS verification cannot be disabled; pass a CA bundle path instead")
    session = requests.Session()
    session.adapters.clear()
    session.mount("https://", HTTPAdapter(max_retries=make_retry(settings)))
    session.verify = settings.verify
    session.trust_env = False  # no proxies or REQUESTS_CA_BUNDLE from the environment sneaking in
    session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
    return session


def encode_query(params: Mapping[str, Any] | None) -> str:
    """Query string with spaces as %20 (FSM reads '+' literally) and ',' kept readable."""
    if not params:
        return ""
    pairs = [(k, v) for k, v in params.items() if v is not None]
    return urlencode(pairs, quote_via=quote, safe=",")


def body_message(text: str) -> str:
    """The human part of an error body: message/Message/fault/error fields, else a short excerpt."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:BODY_EXCERPT]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):  # OData
            return str(err.get("message") or err.get("code") or "")[:BODY_EXCERPT]
        fault = data.get("fault")
        if isinstance(fault, dict):
            return str(fault.get("message") or fault.get("detail") or "")[:BODY_EXCERPT]
        for key in ("message", "Message", "error_description", "error"):
            if data.get(key):
                return str(data[key])[:BODY_EXCERPT]
    return text.strip()[:BODY_EXCERPT]


def retry_after_of(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def error_for_status(response: requests.Response, what: str) -> Exception:
    """The taxonomy error for a final non-2xx response (after the adapter's retries)."""
    status = response.status_code
    reason = body_message(response.text)
    message = f"{what}: HTTP {status} from {response.url}" + (f": {reason}" if reason else "")
    if status == 429:
        return ThrottledError(message, retry_after_of(response))
    if status == 504:
        return GatewayTimeoutError(message)
    if status in (500, 502, 503):
        return TransientError(message)
    if status in (401, 403):
        return AuthError(message)
    return HTTPStatusError(message, status)


class TokenSource(Protocol):
    def get(self) -> str: ...

    def invalidate(self, access_token: str) -> None: ...


class Transport:
    """Authenticated JSON requests for one connection, with the 401 rule and body-level retries."""

    def __init__(self, session: requests.Session, tokens: TokenSource, settings: TransportSettings,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.session = session
        self.tokens = tokens
        self.settings = settings
        self._sleep = sleep

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout_s, self.settings.read_timeout_s)

    def get_json(self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                 *, what: str) -> Any:
        return self.request_json("GET", url, params=params, headers=headers, what=what)

    def request_json(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                     headers: Mapping[str, str] | None = None, body: Any = None, what: str,
                     accept_status: Callable[[int], bool] | None = None) -> Any:
        """Send, apply the 401 and broken-body rules, map failures; return the parsed JSON body.

        ``accept_status`` lets a caller (product detection) take a non-2xx response as an answer:
        it then receives ``(status, text)`` instead of the parsed body.
        """
        query = encode_query(params)
        full_url = f"{url}?{query}" if query else url
        refreshed = False
        broken_bodies = 0
        while True:
            token = self.tokens.get()
            try:
                response = self.session.request(
                    method, full_url, json=body, timeout=self.timeout,
                    headers={**(headers or {}), "Authorization": f"Bearer {token}"})
                text = response.text  # read the whole body here so truncation surfaces as an exception
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                broken_bodies = self._broken_body(broken_bodies, what, url, exc)
                continue
            except requests.exceptions.SSLError as exc:
                raise ConfigError(f"{what}: TLS verification failed for {url}: {redact(exc)}") from None
            except requests.exceptions.RequestException as exc:
                raise TransientError(f"{what}: {type(exc).__name__} for {url} after retries: {redact(exc)}") from None
            status = response.status_code
            log.debug("%s %s -> HTTP %s (%d bytes)", method, url, status, len(response.content))
            if status == 401 and not refreshed:
                log.info("%s: HTTP 401, refreshing the token once and retrying", what)
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if accept_status is not None and accept_status(status):
                return status, text
            if not 200 <= status < 300:
                raise error_for_status(response, what)
            try:
                return json.loads(text) if text.strip() else None
            except ValueError as exc:
                broken_bodies = self._broken_body(broken_bodies, what, url, exc)

    def _broken_body(self, count: int, what: str, url: str, exc: Exception) -> int:
        """A truncated or unparsable 2xx body is retried like a read error, then reported as transient."""
        if count >= self.settings.max_retries:
            raise TransientError(f"{what}: broken response body from {url} after {count + 1} attempts: "
                                 f"{type(exc).__name__}") from None
        delay = min(self.settings.backoff_max_s, self.settings.backoff_base_s * (2 ** count))
        delay += random.uniform(0, self.settings.backoff_base_s)
        log.warning("%s: broken response body from %s (%s), retrying in %.2f s", what, url, type(exc).__name__, delay)
        self._sleep(delay)
        return count + 1
