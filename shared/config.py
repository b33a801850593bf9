"""Every app setting the code reads, declared once, read once and validated with errors that name the setting.

The infra (Bicep) sets the same names; a test keeps ``SETTINGS`` and ``infra/`` in step.
Secret values are never echoed: an error says which setting is wrong and why, not what it holds.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from shared import defaults
from shared.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    """One app setting: its name, whether the app needs it, its default and whether it is secret."""

    name: str
    description: str
    default: str | None = None
    required: bool = False
    secret: bool = False


STORAGE = "AzureWebJobsStorage"
STORAGE_ACCOUNT_NAME = "AzureWebJobsStorage__accountName"
STORAGE_QUEUE_URI = "AzureWebJobsStorage__queueServiceUri"
STORAGE_TABLE_URI = "AzureWebJobsStorage__tableServiceUri"
STORAGE_BLOB_URI = "AzureWebJobsStorage__blobServiceUri"
STORAGE_CREDENTIAL = "AzureWebJobsStorage__credential"
STORAGE_CLIENT_ID = "AzureWebJobsStorage__clientId"
POLL_SCHEDULE = "POLL_SCHEDULE"
REPLAY_SCHEDULE = "REPLAY_SCHEDULE"
CONNECTIONS = "SYNC_CONNECTIONS"
CONNECTIONS_FILE = "SYNC_CONNECTIONS_FILE"
KEY_VAULT_URI = "KEY_VAULT_URI"
SECRETS_DIR = "SYNC_SECRETS_DIR"
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"
REPLAY_MAX_ATTEMPTS = "REPLAY_MAX_ATTEMPTS"

SETTINGS: tuple[Setting, ...] = (
    Setting(STORAGE, "Storage connection string (local/Azurite). In Azure use the identity-based "
            "AzureWebJobsStorage__* settings instead.", secret=True),
    Setting(STORAGE_ACCOUNT_NAME, "Storage account name for identity-based connections (global Azure)."),
    Setting(STORAGE_QUEUE_URI, "Queue endpoint for identity-based connections (overrides accountName)."),
    Setting(STORAGE_TABLE_URI, "Table endpoint for identity-based connections (overrides accountName)."),
    Setting(STORAGE_BLOB_URI, "Blob endpoint for identity-based connections (overrides accountName)."),
    Setting(STORAGE_CREDENTIAL, "'managedidentity' for identity-based storage connections."),
    Setting(STORAGE_CLIENT_ID, "Client id of the user-assigned identity used for storage."),
    Setting(POLL_SCHEDULE, "NCRONTAB schedule (6 fields, UTC) of poll_cloudsuite.",
            default=defaults.POLL_SCHEDULE, required=True),
    Setting(REPLAY_SCHEDULE, "NCRONTAB schedule (6 fields, UTC) of the poison-queue drain.",
            default=defaults.REPLAY_SCHEDULE, required=True),
    Setting(CONNECTIONS, "The connections document (JSON, see shared/schemas/connections.schema.json)."),
    Setting(CONNECTIONS_FILE, "Path of the connections document, when SYNC_CONNECTIONS is not set."),
    Setting(KEY_VAULT_URI, "Key Vault holding the per-connection secrets (.ionapi files, client secrets)."),
    Setting(SECRETS_DIR, "Local alternative to Key Vault: a directory (outside git) with one file per secret."),
    Setting(AZURE_CLIENT_ID, "Client id of the app's user-assigned managed identity."),
    Setting(REPLAY_MAX_ATTEMPTS, "Replays of one message before it is parked for a person.",
            default=str(defaults.REPLAY_MAX_ATTEMPTS)),
)
SETTING_NAMES = frozenset(s.name for s in SETTINGS)

_NCRONTAB = re.compile(r"^\S+( \S+){5}$")


@dataclass(frozen=True)
class StorageSettings:
    """How to reach the app's storage account: a connection string or identity-based endpoints."""

    connection_string: str | None = field(default=None, repr=False)
    queue_uri: str | None = None
    table_uri: str | None = None
    blob_uri: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class AppSettings:
    """The validated app settings (connections are loaded separately, see shared.connections)."""

    storage: StorageSettings
    poll_schedule: str
    replay_schedule: str
    connections_json: str | None = field(default=None, repr=False)
    connections_file: str | None = None
    key_vault_uri: str | None = None
    secrets_dir: str | None = None
    azure_client_id: str | None = None
    replay_max_attempts: int = defaults.REPLAY_MAX_ATTEMPTS


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.startswith("@Microsoft.KeyVault("):
        # App Service leaves the literal reference in place when it cannot resolve it.
        raise ConfigError(f"app setting {name} is an unresolved Key Vault reference: check the app's "
                          "identity has 'Key Vault Secrets User' on the vault and the secret exists")
    return value


def _https_url(env: Mapping[str, str], name: str) -> str | None:
    value = _get(env, name)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.netloc:
        raise ConfigError(f"app setting {name} must be an https:// URL")
    return value.rstrip("/")


def _schedule(env: Mapping[str, str], setting: str, default: str) -> str:
    value = _get(env, setting) or default
    if not _NCRONTAB.match(value):
        raise ConfigError(f"app setting {setting} must be an NCRONTAB expression with 6 fields "
                          f"(second minute hour day month day-of-week), got {value!r}")
    return value


def _storage(env: Mapping[str, str]) -> StorageSettings:
    conn = _get(env, STORAGE)
    if conn is not None:
        if "AccountName=" not in conn and conn != "UseDevelopmentStorage=true":
            raise ConfigError(f"app setting {STORAGE} is not a storage connection string "
                              "(expected 'DefaultEndpointsProtocol=...;AccountName=...;...')")
        return StorageSettings(connection_string=conn)
    account = _get(env, STORAGE_ACCOUNT_NAME)
    uris = {kind: _https_url(env, name) for kind, name in
            (("queue", STORAGE_QUEUE_URI), ("table", STORAGE_TABLE_URI), ("blob", STORAGE_BLOB_URI))}
    for kind, uri in uris.items():
        if uri is None and account:
            uris[kind] = f"https://{account}.{kind}.core.windows.net"
    missing = [name for kind, name in (("queue", STORAGE_QUEUE_URI), ("table", STORAGE_TABLE_URI),
                                       ("blob", STORAGE_BLOB_URI)) if uris[kind] is None]
    if missing:
        raise ConfigError(f"storage is not configured: set {STORAGE} (connection string) or "
                          f"{STORAGE_ACCOUNT_NAME}, or all of {', '.join(missing)}")
    return StorageSettings(queue_uri=uris["queue"], table_uri=uris["table"], blob_uri=uris["blob"],
                           client_id=_get(env, STORAGE_CLIENT_ID) or _get(env, AZURE_CLIENT_ID))


def load_settings(env: Mapping[str, str] | None = None) -> AppSettings:
    """Read and validate every app setting; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    connections_json = _get(env, CONNECTIONS)
    connections_file = _get(env, CONNECTIONS_FILE)
    if connections_json is None and connections_file is None:
        raise ConfigError(f"no connections configured: set {CONNECTIONS} (JSON) or {CONNECTIONS_FILE} (path)")
    if connections_json is None and connections_file and not Path(connections_file).is_file():
        raise ConfigError(f"app setting {CONNECTIONS_FILE} names a file that does not exist")
    secrets_dir = _get(env, SECRETS_DIR)
    if secrets_dir and not Path(secrets_dir).is_dir():
        raise ConfigError(f"app setting {SECRETS_DIR} names a directory that does not exist")
    raw_attempts = _get(env, REPLAY_MAX_ATTEMPTS) or str(defaults.REPLAY_MAX_ATTEMPTS)
    if not raw_attempts.isdigit() or int(raw_attempts) < 1:
        raise ConfigError(f"app setting {REPLAY_MAX_ATTEMPTS} must be a whole number >= 1, got {raw_attempts!r}")
    return AppSettings(
        storage=_storage(env),
        poll_schedule=_schedule(env, POLL_SCHEDULE, defaults.POLL_SCHEDULE),
        replay_schedule=_schedule(env, REPLAY_SCHEDULE, defaults.REPLAY_SCHEDULE),
        connections_json=connections_json,
        connections_file=connections_file,
        key_vault_uri=_https_url(env, KEY_VAULT_URI),
        secrets_dir=secrets_dir,
        azure_client_id=_get(env, AZURE_CLIENT_ID),
        replay_max_attempts=int(raw_attempts),
    )


@lru_cache(maxsize=1)
def get_settings() -> AppSettings:
    """The process-wide settings, validated on first use (so a bad setting fails the invocation loudly)."""
    return load_settings()


def read_connections_document(settings: AppSettings) -> object:
    """Return the parsed connections JSON document; errors name the setting, never its content."""
    source = CONNECTIONS if settings.connections_json is not None else CONNECTIONS_FILE
    try:
        if settings.connections_json is not None:
            return json.loads(settings.connections_json)
        return json.loads(Path(settings.connections_file or "").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the connections file ({exc.strerror})") from None
