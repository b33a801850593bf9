"""Clients for the app's own storage account (queues, tables, blobs), one per name per process.

Locally the account is Azurite behind a connection string; in Azure it is reached with the app's
managed identity through the identity-based ``AzureWebJobsStorage__*`` endpoints. Queue clients always
base64-encode, exactly like the Functions host expects (its default ``messageEncoding``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from azure.data.tables import TableClient, TableServiceClient
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueClient

from shared.config import AppSettings, StorageSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import ContainerClient

_lock = threading.Lock()
_queues: dict[tuple[StorageSettings, str], QueueClient] = {}
_tables: dict[tuple[StorageSettings, str], TableClient] = {}
_containers: dict[tuple[StorageSettings, str], Any] = {}
_credential: TokenCredential | None = None


def _identity(storage: StorageSettings) -> TokenCredential:
    """One managed-identity credential per process (lazy: azure.identity is slow to import)."""
    global _credential
    if _credential is None:
        from azure.identity import ManagedIdentityCredential

        _credential = ManagedIdentityCredential(client_id=storage.client_id)
    return _credential


def queue_client(settings: AppSettings, name: str) -> QueueClient:
    """A client for queue ``name`` that sends and receives bytes, base64-encoded on the wire (cached)."""
    storage = settings.storage
    key = (storage, name)
    with _lock:
        if key not in _queues:
            policies = {"message_encode_policy": BinaryBase64EncodePolicy(),
                        "message_decode_policy": BinaryBase64DecodePolicy()}
            if storage.connection_string:
                client = QueueClient.from_connection_string(storage.connection_string, name, **policies)
            else:
                client = QueueClient(str(storage.queue_uri), name, credential=_identity(storage), **policies)
            _queues[key] = client
        return _queues[key]


def table_client(settings: AppSettings, name: str) -> TableClient:
    """A client for table ``name`` (cached)."""
    storage = settings.storage
    key = (storage, name)
    with _lock:
        if key not in _tables:
            if storage.connection_string:
                service = TableServiceClient.from_connection_string(storage.connection_string)
            else:
                service = TableServiceClient(str(storage.table_uri), credential=_identity(storage))
            _tables[key] = service.get_table_client(name)
        return _tables[key]


def container_client(settings: AppSettings, name: str) -> ContainerClient:
    """A client for blob container ``name`` (cached; azure.storage.blob imported only when used)."""
    from azure.storage.blob import ContainerClient

    storage = settings.storage
    key = (storage, name)
    with _lock:
        if key not in _containers:
            if storage.connection_string:
                client = ContainerClient.from_connection_string(storage.connection_string, name)
            else:
                client = ContainerClient(str(storage.blob_uri), name, credential=_identity(storage))
            _containers[key] = client
        return _containers[key]


def reset_clients() -> None:
    """Forget cached clients (settings changed, e.g. a new local stack)."""
    with _lock:
        _queues.clear()
        _tables.clear()
        _containers.clear()
