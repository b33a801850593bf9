"""Clients for the app's own storage account (queues, tables, blobs), one per name per process.

Locally the account is Azurite behind a connection string; in Azure it is reached with the app's
managed identity through the identity-based ``AzureWebJobsStorage__*`` endpoints. Queue clients always
base64-encode, exactly like the Functions host expects (its default ``messageEncoding``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.data.tables import TableClient, TableServiceClient
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueClient

from shared.config import AppSettings, StorageSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import ContainerClient

_lock = threading.Lock()
_clients: dict[tuple[str, StorageSettings, str], Any] = {}  # (kind, account, name) -> client
_credential: TokenCredential | None = None


def _identity(storage: StorageSettings) -> TokenCredential:
    """One managed-identity credential per process (lazy: azure.identity is slow to import)."""
    global _credential
    if _credential is None:
        from azure.identity import ManagedIdentityCredential

        _credential = ManagedIdentityCredential(client_id=storage.client_id)
    return _credential


def _cached(kind: str, storage: StorageSettings, name: str, build: Callable[[], Any]) -> Any:
    key = (kind, storage, name)
    with _lock:
        if key not in _clients:
            _clients[key] = build()
        return _clients[key]


def queue_client(settings: AppSettings, name: str) -> QueueClient:
    """A client for queue ``name`` that sends and receives bytes, base64-encoded on the wire (cached)."""
    storage = settings.storage
    policies = {"message_encode_policy": BinaryBase64EncodePolicy(),
                "message_decode_policy": BinaryBase64DecodePolicy()}

    def build() -> QueueClient:
        if storage.connection_string:
            return QueueClient.from_connection_string(storage.connection_string, name, **policies)
        return QueueClient(str(storage.queue_uri), name, credential=_identity(storage), **policies)

    return _cached("queue", storage, name, build)


def table_client(settings: AppSettings, name: str) -> TableClient:
    """A client for table ``name`` (cached)."""
    storage = settings.storage

    def build() -> TableClient:
        if storage.connection_string:
            service = TableServiceClient.from_connection_string(storage.connection_string)
        else:
            service = TableServiceClient(str(storage.table_uri), credential=_identity(storage))
        return service.get_table_client(name)

    return _cached("table", storage, name, build)


def container_client(settings: AppSettings, name: str) -> ContainerClient:
    """A client for blob container ``name`` (cached; azure.storage.blob imported only when used)."""
    from azure.storage.blob import ContainerClient

    storage = settings.storage

    def build() -> ContainerClient:
        if storage.connection_string:
            return ContainerClient.from_connection_string(storage.connection_string, name)
        return ContainerClient(str(storage.blob_uri), name, credential=_identity(storage))

    return _cached("container", storage, name, build)


def reset_clients() -> None:
    """Forget cached clients (settings changed, e.g. a new local stack)."""
    with _lock:
        _clients.clear()
