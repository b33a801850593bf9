"""The CloudSuite client the pipeline uses: one per connection, one interface for M3, CSI, LN and FSM.

    client = CloudSuiteClient.for_connection(connection, ionapi_text)   # text of the .ionapi secret
    # or CloudSuiteClient.from_secrets(connection, secret_source)      # reads cloudsuite.ionapi_secret
    watermark = client.start_watermark()                                 # optional: one per run for all entities
    for page in client.iter_changed("supplier", since=stored, watermark=watermark):
        enqueue(page)                                                    # page.records, page.key_field, ...
    store(page.watermark)                                                # only after the last page

``since`` is the watermark stored by the previous run (None = full scan). The client queries from
``since - overlap_s`` so the edge of the previous window is read again; downstream dedupe makes that harmless.
Products without a change stamp (LN; FSM unless ``fsm.modified_field`` is set) always scan fully and report
watermark None. Streaming: one page is in memory at a time.

Requests per run: ``ceil(N / page_size)`` list requests, plus one for the watermark (M3 GetServerTime) or one
trailing empty page (CSI/LN/FSM when N is an exact multiple); the token request is extra, once per lifetime.
Enrichment (``enrich``: addresses / contacts) is off by default because the lists already carry the address,
phone and e-mail where the product has them (M3 customers, CSI, FSM dotted fields). When on: M3 adds one MI
bulk POST per page and kind; LN uses ``$expand`` (no extra request); CSI and FSM need none.
More in README.md beside this module.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any, Protocol

from shared.cloudsuite.adapter import Adapter
from shared.cloudsuite.auth import TokenPolicy, TokenProvider
from shared.cloudsuite.config import ENTITIES, CloudSuiteConfig
from shared.cloudsuite.csi import CSIAdapter
from shared.cloudsuite.detect import detect_product
from shared.cloudsuite.fsm import FSMAdapter
from shared.cloudsuite.ionapi import IonApi, parse_ionapi
from shared.cloudsuite.ln import LNAdapter
from shared.cloudsuite.m3 import M3Adapter
from shared.cloudsuite.page import Page
from shared.cloudsuite.transport import Transport, TransportSettings, make_session
from shared.errors import ConfigError

log = logging.getLogger(__name__)

class SecretSource(Protocol):
    """What ``shared.secrets`` provides: a secret's text by name (Key Vault or the local secrets dir)."""

    def get(self, name: str) -> str: ...


ADAPTERS: dict[str, type[Adapter]] = {"m3": M3Adapter, "csi": CSIAdapter, "ln": LNAdapter, "fsm": FSMAdapter}
_UNSET: Any = object()


class CloudSuiteClient:
    """Reads suppliers and customers of one connection, page by page, over one HTTPS session."""

    def __init__(self, config: CloudSuiteConfig, ionapi: IonApi, *, connection: str,
                 verify: bool | str | None = None) -> None:
        if verify is False:
            raise ConfigError(f"connection '{connection}': TLS verification cannot be disabled; pass a CA bundle")
        bundle = verify if isinstance(verify, str) else config.ca_bundle
        if bundle and not os.path.isfile(bundle):
            raise ConfigError(f"connection '{connection}': CA bundle {bundle!r} is not a readable file")
        self.config = config
        self.ionapi = ionapi
        self.connection = connection
        settings = TransportSettings(
            connect_timeout_s=config.connect_timeout_s, read_timeout_s=config.read_timeout_s,
            max_retries=config.max_retries, backoff_base_s=config.backoff_base_s, backoff_max_s=config.backoff_max_s,
            verify=verify if verify is not None else (config.ca_bundle or True))
        self.session = make_session(settings)
        self.tokens = TokenProvider(ionapi, self.session, TokenPolicy(
            refresh_share=config.token_refresh_share, safety_margin_s=config.token_safety_margin_s,
            client_auth=config.token_client_auth), timeout=(settings.connect_timeout_s, settings.read_timeout_s),
            connection=connection)
        self.transport = Transport(self.session, self.tokens, settings)
        self._adapter: Adapter | None = None

    @classmethod
    def for_connection(cls, connection: Any, ionapi_text: str, *, verify: bool | str | None = None,
                       overrides: dict[str, Any] | None = None) -> CloudSuiteClient:
        """Build from a ``shared.connections.Connection`` and the text of its .ionapi secret."""
        section = dict(connection.cloudsuite)
        if overrides:
            section.update(overrides)
        where = f"connection '{connection.name}'"
        config = CloudSuiteConfig.from_section(section, where)
        ionapi = parse_ionapi(ionapi_text, config.ionapi_secret)
        return cls(config, ionapi, connection=connection.name, verify=verify)

    @classmethod
    def from_secrets(cls, connection: Any, secrets: SecretSource, *, verify: bool | str | None = None,
                     ) -> CloudSuiteClient:
        """Build from a Connection, reading its .ionapi secret (``cloudsuite.ionapi_secret``) from ``secrets``."""
        return cls.for_connection(connection, secrets.get(str(connection.cloudsuite["ionapi_secret"])), verify=verify)

    # --- product line -----------------------------------------------------------------------------
    def _make(self, product: str) -> Adapter:
        return ADAPTERS[product](self.transport, self.config, self.ionapi.api_base, self.connection)

    @property
    def adapter(self) -> Adapter:
        if self._adapter is None:
            if self.config.product == "auto":
                adapter = detect_product([self._make(p) for p in ADAPTERS], self.connection)
                log.info("connection '%s': detected product %s", self.connection, adapter.product)
                if adapter.product == "csi" and not self.config.csi.mongoose_config:
                    raise ConfigError(f"connection '{self.connection}': detected product csi, but "
                                      "'cloudsuite.csi.mongoose_config' (X-Infor-MongooseConfig) is not set")
                self._adapter = adapter
            else:
                self._adapter = self._make(self.config.product)
        return self._adapter

    @property
    def product(self) -> str:
        """m3 | csi | ln | fsm (probes once when configured as auto)."""
        return self.adapter.product

    def key_field(self, entity: str) -> str:
        return self.adapter.key_field(_entity(entity))

    # --- the interface --------------------------------------------------------------------------
    def start_watermark(self) -> str | None:
        """The product's "now" (M3 GetServerTime LMTS, CSI site-local time; None = no change stamp)."""
        return self.adapter.start_watermark()

    def iter_changed(self, entity: str, since: str | None = None, *, watermark: str | None = _UNSET,
                     ) -> Iterator[Page]:
        """Stream pages of records of ``entity`` changed since ``since`` (minus the overlap); all when None.

        ``watermark`` defaults to ``start_watermark()`` taken before the first list request.
        """
        entity = _entity(entity)
        adapter = self.adapter
        if watermark is _UNSET:
            watermark = adapter.start_watermark()
        lower = adapter.lower_bound(since, self.config.overlap_s) if since else None
        key = adapter.key_field(entity)
        log.info("connection '%s': listing %s %s (%s)", self.connection, adapter.product, entity,
                 f"changed since {lower}" if lower else "full scan")
        for number, raw in enumerate(adapter.pages(entity, lower), start=1):
            yield Page(connection=self.connection, product=adapter.product, entity=entity, number=number,
                       records=tuple(raw.records), key_field=key, watermark=watermark, since=lower, last=raw.last)

    # --- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> CloudSuiteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _entity(entity: str) -> str:
    if entity not in ENTITIES:
        raise ConfigError(f"unknown entity {entity!r}; use one of {list(ENTITIES)}")
    return entity
