"""Per-connection secrets (.ionapi files, Dataverse client secrets): Key Vault in Azure, a local folder in dev.

Secrets are fetched by name, cached in memory for the life of the process, registered with the redaction
helper, and never logged. The source is chosen by configuration (KEY_VAULT_URI or SYNC_SECRETS_DIR).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Protocol

from shared.config import KEY_VAULT_URI, SECRETS_DIR, AppSettings
from shared.errors import ConfigError, TransientError
from shared.redaction import register_secret

_SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")  # Key Vault's rule; also safe as a file name


class SecretSource(Protocol):
    def get(self, name: str) -> str: ...


def _check_name(name: str) -> None:
    if not _SECRET_NAME.match(name):
        raise ConfigError(f"secret name {name!r} is invalid: use 1-127 characters of 0-9, a-z, A-Z and '-'")


class DirectorySecrets:
    """Local development: one file per secret in a folder outside git."""

    def __init__(self, directory: str) -> None:
        self._dir = Path(directory)

    def get(self, name: str) -> str:
        _check_name(name)
        path = self._dir / name
        if not path.is_file():
            raise ConfigError(f"secret {name!r} not found in the local secrets directory ({SECRETS_DIR})")
        return path.read_text(encoding="utf-8")


class KeyVaultSecrets:
    """Azure: Key Vault secrets read with the app's managed identity."""

    def __init__(self, vault_uri: str, client_id: str | None) -> None:
        from azure.identity import ManagedIdentityCredential
        from azure.keyvault.secrets import SecretClient

        self._client = SecretClient(vault_uri, ManagedIdentityCredential(client_id=client_id))

    def get(self, name: str) -> str:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError

        _check_name(name)
        try:
            value = self._client.get_secret(name).value
        except ResourceNotFoundError:
            raise ConfigError(f"secret {name!r} not found in Key Vault ({KEY_VAULT_URI})") from None
        except ServiceRequestError as exc:
            raise TransientError(f"Key Vault unreachable while reading secret {name!r}: {type(exc).__name__}") from None
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise ConfigError(f"no permission to read secret {name!r}: grant the app's identity "
                                  "'Key Vault Secrets User' on the vault") from None
            raise TransientError(f"Key Vault error {exc.status_code} while reading secret {name!r}") from None
        if not value:
            raise ConfigError(f"secret {name!r} in Key Vault is empty")
        return value


class CachedSecrets:
    """Memory cache in front of a source; every value is registered for redaction."""

    def __init__(self, source: SecretSource) -> None:
        self._source = source
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> str:
        with self._lock:
            if name not in self._cache:
                value = self._source.get(name)
                register_secret(value)
                self._cache[name] = value
            return self._cache[name]

    def forget(self, name: str) -> None:
        """Drop a cached value (e.g. after the remote refused it) so the next get re-reads it."""
        with self._lock:
            self._cache.pop(name, None)


def secret_source(settings: AppSettings) -> CachedSecrets:
    """The configured source: Key Vault when KEY_VAULT_URI is set, else the local secrets directory."""
    if settings.key_vault_uri:
        return CachedSecrets(KeyVaultSecrets(settings.key_vault_uri, settings.azure_client_id))
    if settings.secrets_dir:
        return CachedSecrets(DirectorySecrets(settings.secrets_dir))
    raise ConfigError(f"no secret source configured: set {KEY_VAULT_URI} (Azure) or {SECRETS_DIR} (local)")
