"""CloudSuite-specific refinements of the shared error taxonomy (shared/errors.py decides what happens next).

    TransientError
    ├── GatewayTimeoutError        504 after its retry: the caller may shrink the page and try again
    └── ThrottledError             (shared) 429 after all retries, with the last Retry-After
    FatalError
    ├── HTTPStatusError            a non-retryable HTTP status (400, 403, 404, 405, ...)
    ├── RemoteError                HTTP 2xx whose body reports a failure
    │   ├── MIError                M3: errorCode / errorField / errorType of the failed transaction
    │   ├── IDOError               CSI: Success false, with Message
    │   ├── ODataError             LN: the OData ``error`` object
    │   └── LandmarkError          FSM: e.g. ``ConditionNode tree failed``
    └── PagingError                the server sent a cursor that would loop, or the max-pages guard tripped
    ConfigError
    └── ProductNotDetectedError    product "auto" and no product line answered its probe
"""

from __future__ import annotations

from shared.errors import ConfigError, FatalError, TransientError


class GatewayTimeoutError(TransientError):
    """The gateway kept answering 504: the page is probably too large for the backend's time limit."""


class HTTPStatusError(FatalError):
    """A status that retrying cannot fix (most 4xx, and 5xx a product uses for permanent errors)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RemoteError(FatalError):
    """The product answered 2xx but its body says the call failed."""


class MIError(RemoteError):
    """An M3 MI transaction failed inside HTTP 200."""

    def __init__(self, message: str, *, code: str = "", field: str = "", error_type: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.error_type = error_type


class IDOError(RemoteError):
    """A CSI IDO load failed inside HTTP 200 (``Success: false``)."""


class ODataError(RemoteError):
    """LN answered with an OData ``error`` object."""


class LandmarkError(RemoteError):
    """FSM (Landmark) reported an error in its body."""


class PagingError(FatalError):
    """Paging would loop forever or exceeded the max-pages guard: the server or our cursor is wrong."""


class ProductNotDetectedError(ConfigError):
    """``product: auto`` and no product line answered its probe with a valid body."""
