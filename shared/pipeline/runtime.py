"""Per-process wiring of the pipeline: storage clients, connections, secrets, CloudSuite clients, writers.

Everything here is created once per process and reused across invocations (tokens stay cached, sessions
stay warm). Heavy imports (azure.identity via the writer) happen on first use, not at cold start.
"""

from __future__ import annotations

import contextlib
import threading
from functools import cached_property
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from shared import defaults, messages
from shared.config import AppSettings
from shared.connections import Connection, load_connections
from shared.errors import ConfigError
from shared.secrets import CachedSecrets, secret_source
from shared.state import ensure_table
from shared.storage import container_client, queue_client, table_client

if TYPE_CHECKING:
    from shared.cloudsuite.client import CloudSuiteClient
    from shared.dataverse import DataverseWriter
    from shared.mapping import MappingConfig

_lock = threading.Lock()
_runtimes: dict[AppSettings, Runtime] = {}


class Runtime:
    """The pipeline's handles for one set of app settings."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._clients: dict[str, CloudSuiteClient] = {}
        self._writers: dict[str, DataverseWriter] = {}
        self._mappings: dict[tuple[str, str], MappingConfig] = {}
        self._provisioned = False

    # ---- storage -----------------------------------------------------------------------------------
    @property
    def state(self) -> TableClient:
        return table_client(self.settings, defaults.STATE_TABLE)

    @property
    def audit(self) -> TableClient:
        return table_client(self.settings, defaults.AUDIT_TABLE)

    @property
    def deadletter(self) -> TableClient:
        return table_client(self.settings, defaults.DEADLETTER_TABLE)

    def queue(self, name: str) -> QueueClient:
        return queue_client(self.settings, name)

    def ensure_storage(self) -> None:
        """Create the tables, queues and claim-check container if missing (once per process).

        In Azure the Bicep creates them; this keeps a fresh local stack (and a partly provisioned account) working.
        """
        if self._provisioned:
            return
        for name in (defaults.STATE_TABLE, defaults.AUDIT_TABLE, defaults.DEADLETTER_TABLE):
            ensure_table(table_client(self.settings, name))
        for name in (defaults.PAGES_QUEUE, defaults.WRITES_QUEUE):
            with contextlib.suppress(ResourceExistsError):
                self.queue(name).create_queue()
        with contextlib.suppress(ResourceExistsError):
            container_client(self.settings, defaults.PAYLOAD_CONTAINER).create_container()
        self._provisioned = True

    def put_blob(self, name: str, data: bytes) -> None:
        container_client(self.settings, defaults.PAYLOAD_CONTAINER).upload_blob(name, data, overwrite=True)

    def get_blob(self, name: str) -> bytes:
        try:
            return container_client(self.settings, defaults.PAYLOAD_CONTAINER).download_blob(name).readall()
        except ResourceNotFoundError:
            raise messages.MessageError(f"claim-check blob {name!r} is missing", code="message.blob_missing") from None

    def delete_blob(self, name: str | None) -> None:
        if name:
            with contextlib.suppress(ResourceNotFoundError):
                container_client(self.settings, defaults.PAYLOAD_CONTAINER).delete_blob(name)

    def send(self, queue_name: str, message: messages.Message, *, delay_s: int = 0) -> messages.Encoded:
        """Encode (inline gzip or claim check) and enqueue; returns what was sent."""
        encoded = messages.encode(message, self.put_blob)
        self.queue(queue_name).send_message(encoded.body, visibility_timeout=delay_s or None)
        return encoded

    # ---- configuration -----------------------------------------------------------------------------
    @cached_property
    def connections(self) -> dict[str, Connection]:
        return {c.name: c for c in load_connections(self.settings)}

    def connection(self, name: str) -> Connection:
        try:
            return self.connections[name]
        except KeyError:
            raise ConfigError(f"connection '{name}' is not configured (any more)") from None

    @cached_property
    def secrets(self) -> CachedSecrets:
        return secret_source(self.settings)

    def cloudsuite(self, conn: Connection) -> CloudSuiteClient:
        """The connection's CloudSuite client (one HTTPS session and token cache per process)."""
        from shared.cloudsuite.client import CloudSuiteClient

        with self._lock:
            if conn.name not in self._clients:
                text = self.secrets.get(str(conn.cloudsuite["ionapi_secret"]))
                self._clients[conn.name] = CloudSuiteClient.for_connection(conn, text)
            return self._clients[conn.name]

    def writer(self, conn: Connection) -> DataverseWriter:
        """The connection's Dataverse writer (one credential, session and 429 gate per process)."""
        from shared.dataverse import DataverseConfig, DataverseWriter

        with self._lock:
            if conn.name not in self._writers:
                config = DataverseConfig.from_section(conn.dataverse, where=f"connection '{conn.name}'")
                secret = self.secrets.get(config.client_secret_name) if config.client_secret_name else None
                self._writers[conn.name] = DataverseWriter(config, secret=secret)
            return self._writers[conn.name]

    def mapping(self, conn: Connection, product: str) -> MappingConfig:
        """The connection's mapping, keyed on the same alternate-key columns the writer upserts by."""
        from shared.mapping import MappingConfig

        key = (conn.name, product)
        with self._lock:
            if key not in self._mappings:
                self._mappings[key] = MappingConfig.from_section(conn.mapping, connection=conn.name, product=product,
                                                                 key_columns=self.key_columns(conn))
            return self._mappings[key]

    @staticmethod
    def key_columns(conn: Connection) -> dict[str, str]:
        """The alternate-key column the writer upserts each table by (``dataverse.key_column``, one per table)."""
        from shared.dataverse import DataverseConfig

        dataverse = DataverseConfig.from_section(conn.dataverse, where=f"connection '{conn.name}'")
        return {table: dataverse.key_column(table, where=f"connection '{conn.name}'")
                for table in ("account", "contact")}

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        for writer in self._writers.values():
            writer.close()


def runtime(settings: AppSettings) -> Runtime:
    """The process-wide runtime for these settings (storage provisioned on first use)."""
    with _lock:
        rt = _runtimes.get(settings)
        if rt is None:
            rt = _runtimes[settings] = Runtime(settings)
    rt.ensure_storage()
    return rt


def reset_runtimes() -> None:
    """Drop every cached runtime (tests and the demo start fresh stacks in one process)."""
    with _lock:
        for rt in _runtimes.values():
            rt.close()
        _runtimes.clear()

