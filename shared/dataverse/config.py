"""The ``dataverse`` section of a connection, parsed into a typed, validated ``DataverseConfig``.

Errors are ``ConfigError`` naming the connection and the key, never a value that could be secret. The JSON
Schema of the section is ``shared/schemas/dataverse.schema.json``; keep the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from shared import defaults
from shared.dataverse.keys import check_column
from shared.dataverse.model import TABLES, Limits, Mode
from shared.errors import ConfigError

AUTH_KINDS = ("managed_identity", "client_secret", "certificate")
KNOWN_KEYS = frozenset({
    "url", "auth", "tenant_id", "client_id", "client_secret_name", "authority", "disable_instance_discovery",
    "ca_bundle", "key_column", "mode", "max_request_bytes", "max_operations", "max_concurrency", "solution",
})


@dataclass(frozen=True)
class DataverseConfig:
    """How to reach one Dataverse environment and how to write to it."""

    url: str  # environment URL, https, no trailing slash
    auth: str = "managed_identity"
    tenant_id: str | None = None
    client_id: str | None = None  # app registration (secret/certificate) or user-assigned identity
    client_secret_name: str | None = None  # NAME of the secret (client secret or PEM certificate); caller resolves
    authority: str | None = None  # Entra authority host; None = Azure public cloud
    disable_instance_discovery: bool = False  # True for private authorities (the simulator, sovereign clouds)
    ca_bundle: str | None = None  # extra trusted CA (simulator); verification is never switched off
    key_columns: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict.fromkeys(TABLES, (defaults.DATAVERSE_KEY_COLUMN,)))
    mode: Mode = Mode.AUTO
    max_request_bytes: int = defaults.DATAVERSE_MAX_REQUEST_BYTES
    max_operations: int = defaults.DATAVERSE_MAX_OPERATIONS
    max_concurrency: int = defaults.DATAVERSE_MAX_CONCURRENCY
    solution: str | None = None  # unmanaged solution that receives provisioned columns and keys

    @property
    def api_url(self) -> str:
        return self.url + defaults.DATAVERSE_API_PATH

    @property
    def api_path(self) -> str:
        """Absolute path of the Web API root (used in $batch request lines)."""
        return urlparse(self.url).path.rstrip("/") + defaults.DATAVERSE_API_PATH

    @property
    def scope(self) -> str:
        return self.url + "/.default"

    @property
    def limits(self) -> Limits:
        return Limits(max_request_bytes=self.max_request_bytes, max_operations=self.max_operations)

    @property
    def verify(self) -> str | bool:
        """``requests``' verify argument: the CA bundle when configured, else the system trust store."""
        return self.ca_bundle or True

    def key_column(self, table: str, where: str = "dataverse") -> str:
        """The single key column of ``table``, for callers that need one (the sync's mapping fills one source-key
        column per table; contacts bind their account by a single-column key)."""
        columns = self.key_columns[table]
        if len(columns) != 1:
            raise ConfigError(f"{where}: 'dataverse.key_column.{table}' names {len(columns)} columns, but the sync "
                              "fills one source-key column per table; a composite key is for callers of the writer "
                              "that supply every column")
        return columns[0]

    @classmethod
    def from_section(cls, section: Mapping[str, Any], where: str = "dataverse") -> DataverseConfig:
        """Parse a connection's ``dataverse`` section; ``where`` names it in errors (e.g. "connection 'acme'")."""
        return _parse(section, where)


def _str(section: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = section.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{where}: 'dataverse.{key}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: 'dataverse.{key}' must be a non-empty string")
    return value.strip()


def _int(section: Mapping[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: 'dataverse.{key}' must be a whole number from {low} to {high}")
    return value


def _https(value: str | None, key: str, where: str) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.netloc:
        raise ConfigError(f"{where}: 'dataverse.{key}' must be an https:// URL")
    return value.rstrip("/")


def _key_columns(section: Mapping[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    raw = section.get("key_column", defaults.DATAVERSE_KEY_COLUMN)
    if isinstance(raw, str):
        raw = dict.fromkeys(TABLES, raw)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: 'dataverse.key_column' must be a column name or an object per table "
                          f"({sorted(TABLES)})")
    unknown = sorted(set(raw) - set(TABLES))
    if unknown:
        raise ConfigError(f"{where}: 'dataverse.key_column' has unknown tables {unknown}; known: {sorted(TABLES)}")
    out: dict[str, tuple[str, ...]] = {}
    for table in TABLES:
        value = raw.get(table, defaults.DATAVERSE_KEY_COLUMN)
        columns = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (list, tuple)) else ()
        try:
            if not columns:
                raise ValueError("empty")
            out[table] = tuple(check_column(c) for c in columns)
        except ValueError:
            raise ConfigError(f"{where}: 'dataverse.key_column.{table}' must be a logical column name (or a list "
                              "of them): lower-case letters, digits and '_'") from None
    if len(out["account"]) != 1:
        raise ConfigError(f"{where}: 'dataverse.key_column.account' must be a single column (contacts bind "
                          "their parent account by it)")
    return out


def _parse(section: Mapping[str, Any], where: str) -> DataverseConfig:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: 'dataverse' must be an object")
    unknown = sorted(set(section) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown 'dataverse' keys {unknown}; known: {sorted(KNOWN_KEYS)}")
    url = _https(_str(section, "url", where, required=True), "url", where)
    assert url is not None
    auth = section.get("auth", "managed_identity")
    if auth not in AUTH_KINDS:
        raise ConfigError(f"{where}: 'dataverse.auth' must be one of {list(AUTH_KINDS)}")
    tenant_id = _str(section, "tenant_id", where)
    client_id = _str(section, "client_id", where)
    secret_name = _str(section, "client_secret_name", where)
    if auth != "managed_identity":
        for key, value in (("tenant_id", tenant_id), ("client_id", client_id), ("client_secret_name", secret_name)):
            if value is None:
                raise ConfigError(f"{where}: 'dataverse.{key}' is required when 'dataverse.auth' is '{auth}'")
    authority = _https(_str(section, "authority", where), "authority", where)
    discovery_off = section.get("disable_instance_discovery", authority is not None)
    if not isinstance(discovery_off, bool):
        raise ConfigError(f"{where}: 'dataverse.disable_instance_discovery' must be true or false")
    ca_bundle = _str(section, "ca_bundle", where)
    if ca_bundle is not None and not Path(os.path.expanduser(ca_bundle)).is_file():
        raise ConfigError(f"{where}: 'dataverse.ca_bundle' names a file that does not exist")
    mode = section.get("mode", Mode.AUTO.value)
    if mode not in {m.value for m in Mode}:
        raise ConfigError(f"{where}: 'dataverse.mode' must be one of {[m.value for m in Mode]}")
    return DataverseConfig(
        url=url, auth=auth, tenant_id=tenant_id, client_id=client_id, client_secret_name=secret_name,
        authority=authority, disable_instance_discovery=discovery_off,
        ca_bundle=os.path.expanduser(ca_bundle) if ca_bundle else None,
        key_columns=_key_columns(section, where), mode=Mode(mode),
        max_request_bytes=_int(section, "max_request_bytes", where, defaults.DATAVERSE_MAX_REQUEST_BYTES,
                               defaults.DATAVERSE_MIN_REQUEST_BYTES, defaults.DATAVERSE_MAX_REQUEST_BYTES),
        max_operations=_int(section, "max_operations", where, defaults.DATAVERSE_MAX_OPERATIONS, 1,
                            defaults.DATAVERSE_MAX_OPERATIONS),
        max_concurrency=_int(section, "max_concurrency", where, defaults.DATAVERSE_MAX_CONCURRENCY, 1,
                             defaults.DATAVERSE_CONCURRENCY_LIMIT - 1),
        solution=_str(section, "solution", where),
    )
