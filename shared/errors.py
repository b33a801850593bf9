"""The one error taxonomy of cloudsuite-sync: the class of an error decides what happens next.

    SyncError                      base of everything we raise on purpose
    ├── TransientError             may succeed later: retry here, or let the queue retry the message
    │   └── ThrottledError         the remote asked us to wait (``retry_after`` seconds)
    ├── RecordError                this record is bad: dead-letter it with ``reason``, go on with the rest
    └── FatalError                 configuration, credentials or contract are wrong: stop this connection loudly
        ├── ConfigError            a setting, the connections document or a secret is missing or invalid
        └── AuthError              a token could not be obtained or was refused after one refresh

Every message is passed through the redaction helper before it is stored, so callers may include URLs.
"""

from __future__ import annotations

from shared.redaction import redact


class SyncError(Exception):
    """Base class; the message is redacted on construction so it is safe to log anywhere."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class TransientError(SyncError):
    """Retry later: network errors, timeouts, 5xx, throttling."""


class ThrottledError(TransientError):
    """The remote throttled us and said how long to wait (seconds, may be None when it did not say)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RecordError(SyncError):
    """One record cannot be processed; it is dead-lettered with ``reason`` and ``code``."""

    def __init__(self, reason: str, code: str = "", key: str = "") -> None:
        super().__init__(reason)
        self.reason = self.message
        self.code = code
        self.key = key


class FatalError(SyncError):
    """Stop this connection: retrying cannot help until someone fixes configuration or access."""


class ConfigError(FatalError):
    """A setting, the connections document or a secret is missing or invalid (the message names it)."""


class AuthError(FatalError):
    """Authentication failed (bad credentials, or refused again after one refresh)."""
