"""One redaction helper for every log line, exception message and debug dump that may carry secrets.

Two layers: values registered at run time (client secrets, service-account keys, tokens) are replaced
wherever they appear, and well-known shapes (Authorization headers, bearer tokens, secret-named JSON,
form and query fields) are masked even when their value was never registered.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

# Shorter values would mask ordinary words; real secrets and tokens are far longer than this.
_MIN_SECRET_LEN = 6

# Names of secret fields (not secrets themselves).
_SENSITIVE_FIELDS = (
    r"access_token|refresh_token|id_token|client_secret|password|sask|saak|cs|secret|token|"
    r"x-identity-header|api[_-]?key|sig|accountkey"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer xxx / Basic xxx (header dumps, reprs of header dicts)
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic)\s+[^\s'\",}]+"), rf"\1\2 {MASK}"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*"), f"Bearer {MASK}"),
    # "name": "value" in JSON
    (re.compile(rf"(?i)(\"(?:{_SENSITIVE_FIELDS})\"\s*:\s*\")[^\"]*(\")"), rf"\1{MASK}\2"),
    # 'name': 'value' in Python reprs
    (re.compile(rf"(?i)('(?:{_SENSITIVE_FIELDS})'\s*:\s*')[^']*(')"), rf"\1{MASK}\2"),
    # name=value in form bodies, query strings and connection strings
    (re.compile(rf"(?i)(\b(?:{_SENSITIVE_FIELDS})=)[^&\s;'\"]+"), rf"\1{MASK}"),
)

_lock = threading.Lock()
_registered: set[str] = set()
_registered_re: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember a secret value so that ``redact`` masks it wherever it appears later."""
    global _registered_re
    if not value or len(value) < _MIN_SECRET_LEN:
        return
    with _lock:
        if value in _registered:
            return
        _registered.add(value)
        ordered = sorted(_registered, key=len, reverse=True)
        _registered_re = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: object) -> str:
    """Return ``text`` as a string with every registered secret and secret-shaped value masked."""
    out = str(text)
    pattern = _registered_re
    if pattern is not None:
        out = pattern.sub(MASK, out)
    for rx, repl in _PATTERNS:
        out = rx.sub(repl, out)
    return out


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not hide the log line
        message = f"{record.msg} {record.args}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


class RedactingFilter(logging.Filter):
    """Logging filter that redacts the fully formatted message (args and traceback included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


_installed = False


def install_log_redaction() -> None:
    """Redact every log record of the process at creation time (idempotent; call at start-up).

    A record factory sees records from every logger, whatever handlers the Functions worker or a test
    attaches later; records below a logger's level are never created, so this costs nothing for them.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
