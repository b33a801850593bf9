"""The connections document: which CloudSuite tenant/product/company syncs into which Dataverse environment.

Shape (JSON Schema: shared/schemas/connections.schema.json)::

    {"connections": [{"name": "acme-m3", "entities": ["supplier", "customer"],
                      "cloudsuite": {"product": "m3", "ionapi_secret": "ionapi-acme-m3", ...},
                      "dataverse": {"url": "https://contoso.crm.dynamics.com", "auth": "managed_identity", ...},
                      "mapping": {...}}]}

This module checks the envelope; the ``cloudsuite`` and ``dataverse`` sections are parsed into typed objects by
their own packages. Errors name the connection and the key, never a value that could be secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

from shared.config import AppSettings, read_connections_document
from shared.errors import ConfigError

ENTITIES = ("supplier", "customer")
PRODUCTS = ("m3", "csi", "ln", "fsm", "auto")
DATAVERSE_AUTH = ("managed_identity", "client_secret", "certificate")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")  # used in table keys and queue messages


@dataclass(frozen=True)
class Connection:
    """One CloudSuite source -> one Dataverse environment."""

    name: str
    entities: tuple[str, ...]
    cloudsuite: Mapping[str, Any]
    dataverse: Mapping[str, Any]
    mapping: Mapping[str, Any]
    enabled: bool = True


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _section(raw: Mapping[str, Any], key: str, where: str, required: bool = True) -> dict[str, Any]:
    value = raw.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be an object")
    return value


def _parse_one(raw: object, index: int) -> Connection:
    where = f"connections[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: 'name' must be 1-40 characters of a-z, 0-9 and '-', "
                          "starting with a letter or digit")
    where = f"connection '{name}'"
    entities = raw.get("entities", list(ENTITIES))
    if not isinstance(entities, list) or not entities or any(e not in ENTITIES for e in entities):
        raise ConfigError(f"{where}: 'entities' must be a non-empty list drawn from {list(ENTITIES)}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: 'enabled' must be true or false")
    cloudsuite = _section(raw, "cloudsuite", where)
    if cloudsuite.get("product") not in PRODUCTS:
        raise ConfigError(f"{where}: 'cloudsuite.product' must be one of {list(PRODUCTS)}")
    if not isinstance(cloudsuite.get("ionapi_secret"), str) or not cloudsuite["ionapi_secret"].strip():
        raise ConfigError(f"{where}: 'cloudsuite.ionapi_secret' must name the secret holding the .ionapi file")
    dataverse = _section(raw, "dataverse", where)
    url = dataverse.get("url")
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme != "https" or not parsed.netloc:
        raise ConfigError(f"{where}: 'dataverse.url' must be the https:// URL of the environment")
    auth = dataverse.get("auth", "managed_identity")
    if auth not in DATAVERSE_AUTH:
        raise ConfigError(f"{where}: 'dataverse.auth' must be one of {list(DATAVERSE_AUTH)}")
    mapping = _section(raw, "mapping", where, required=False)
    return Connection(name=name, entities=tuple(entities), cloudsuite=_freeze(cloudsuite),
                      dataverse=_freeze(dataverse), mapping=_freeze(mapping), enabled=enabled)


def parse_connections(document: object) -> tuple[Connection, ...]:
    """Validate the connections document and return its connections (names unique)."""
    if not isinstance(document, dict) or not isinstance(document.get("connections"), list):
        raise ConfigError("connections document: top level must be an object with a 'connections' list")
    connections = tuple(_parse_one(raw, i) for i, raw in enumerate(document["connections"]))
    seen: set[str] = set()
    for conn in connections:
        if conn.name in seen:
            raise ConfigError(f"connections document: connection name '{conn.name}' is used twice")
        seen.add(conn.name)
    return connections


def load_connections(settings: AppSettings) -> tuple[Connection, ...]:
    """Read and validate the connections configured in the app settings."""
    return parse_connections(read_connections_document(settings))
