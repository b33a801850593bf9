"""The one interface every product line implements, and the page loop they share (504 -> smaller page).

An adapter knows its product's URLs, parameters, response shapes and change stamp; the client turns what it
yields into ``Page`` objects. Adapters never import each other.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from shared.cloudsuite.config import CloudSuiteConfig
from shared.cloudsuite.errors import GatewayTimeoutError
from shared.cloudsuite.page import Record
from shared.cloudsuite.paging import Pager
from shared.cloudsuite.transport import Transport

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RawPage:
    records: list[Record]
    last: bool


@dataclass(frozen=True)
class Probe:
    """Outcome of one product-detection request."""

    present: bool
    detail: str  # "HTTP 404", "HTTP 200 but not an M3 body", ...


class Adapter(ABC):
    product: str = ""
    probe_path: str = ""  # after {iu}/{ti}; reference 1.4

    def __init__(self, transport: Transport, config: CloudSuiteConfig, api_base: str, connection: str) -> None:
        self.transport = transport
        self.config = config
        self.api_base = api_base
        self.connection = connection

    @abstractmethod
    def key_field(self, entity: str) -> str:
        """The field of a record that holds its key."""

    @abstractmethod
    def start_watermark(self) -> str | None:
        """The product's "now" to store after this run; None when the product has no change stamp."""

    @abstractmethod
    def lower_bound(self, since: str, overlap_s: float) -> str | None:
        """The value to query from, given the stored watermark; None = full scan."""

    @abstractmethod
    def pages(self, entity: str, lower: str | None) -> Iterator[RawPage]:
        """Stream the entity's records changed since ``lower`` (all when None), one response at a time."""

    @abstractmethod
    def looks_like_product(self, body: object) -> bool:
        """Whether a 2xx probe body really is this product's answer."""

    def probe(self) -> Probe:
        url = f"{self.api_base}{self.probe_path}"
        status, text = self.transport.request_json(
            "GET", url, headers=self.probe_headers(), what=f"probe {self.product}", accept_status=lambda s: True)
        if status in (401, 429) or status >= 500:
            return Probe(False, f"inconclusive (HTTP {status})")  # reference 1.4: says nothing either way
        if not 200 <= status < 300:
            return Probe(False, f"HTTP {status}")
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        if self.looks_like_product(body):
            return Probe(True, f"HTTP {status}")
        return Probe(False, f"HTTP {status} but not a {self.product.upper()} answer")

    def probe_headers(self) -> dict[str, str]:
        return {}

    def what(self, detail: str) -> str:
        return f"connection '{self.connection}' {self.product.upper()} {detail}"

    def fetch(self, pager: Pager, call: Callable[[], T], what: str) -> T:
        """Run one page request; on repeated 504 halve the page and ask again from the same cursor."""
        while True:
            try:
                return call()
            except GatewayTimeoutError:
                old = pager.size
                if not pager.shrink():
                    raise
                log.warning("%s: gateway timeouts at page size %d, retrying with %d", what, old, pager.size)
