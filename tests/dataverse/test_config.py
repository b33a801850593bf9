"""The dataverse section: defaults, limits never above the product caps, clear errors naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from shared import defaults
from shared.dataverse.config import KNOWN_KEYS, DataverseConfig
from shared.dataverse.model import Mode
from shared.errors import ConfigError

SCHEMA = json.loads((Path(__file__).parents[2] / "shared/schemas/dataverse.schema.json").read_text())


def test_minimal_section_uses_managed_identity_and_the_named_defaults() -> None:
    config = DataverseConfig.from_section({"url": "https://contoso.crm4.dynamics.com/"})
    assert config.url == "https://contoso.crm4.dynamics.com"
    assert config.scope == "https://contoso.crm4.dynamics.com/.default"
    assert config.api_url == "https://contoso.crm4.dynamics.com/api/data/v9.2"
    assert config.auth == "managed_identity" and config.mode is Mode.AUTO
    assert config.key_columns == {"account": ("cssync_sourcekey",), "contact": ("cssync_sourcekey",)}
    assert config.limits.max_request_bytes == 256 * 1024 and config.limits.max_operations == 1000
    assert config.verify is True


def test_full_section(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    section = {"url": "https://127.0.0.1:8443", "auth": "client_secret", "tenant_id": "t", "client_id": "c",
               "client_secret_name": "dv-secret", "authority": "https://127.0.0.1:8443", "ca_bundle": str(ca),
               "key_column": {"account": "new_supplierid", "contact": ["new_a", "new_b"]}, "mode": "batch",
               "max_request_bytes": 65536, "max_operations": 100, "max_concurrency": 8, "solution": "cssync"}
    jsonschema.validate(section, SCHEMA)
    config = DataverseConfig.from_section(section, "connection 'acme'")
    assert config.disable_instance_discovery is True  # private authority: no instance discovery
    assert config.key_columns == {"account": ("new_supplierid",), "contact": ("new_a", "new_b")}
    assert config.mode is Mode.BATCH and config.verify == str(ca)
    assert (config.max_request_bytes, config.max_operations, config.max_concurrency) == (65536, 100, 8)


@pytest.mark.parametrize(("section", "message"), [
    ({"url": "http://contoso.crm.dynamics.com"}, "'dataverse.url' must be an https:// URL"),
    ({"url": "https://x", "auth": "client_secret", "tenant_id": "t", "client_id": "c"},
     "'dataverse.client_secret_name' is required when 'dataverse.auth' is 'client_secret'"),
    ({"url": "https://x", "max_request_bytes": 300 * 1024}, "'dataverse.max_request_bytes' must be a whole number"),
    ({"url": "https://x", "max_operations": 1001}, "'dataverse.max_operations' must be a whole number from 1 to 1000"),
    ({"url": "https://x", "mode": "fast"}, "'dataverse.mode' must be one of"),
    ({"url": "https://x", "ca_bundle": "/nonexistent/ca.pem"}, "names a file that does not exist"),
    ({"url": "https://x", "key_column": {"lead": "x"}}, "unknown tables ['lead']"),
    ({"url": "https://x", "key_column": "Bad Name"}, "must be a logical column name"),
    ({"url": "https://x", "client_secret": "s3cr3t-value"}, "unknown 'dataverse' keys ['client_secret']"),
])
def test_bad_sections_raise_config_errors_naming_the_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        DataverseConfig.from_section(section, "connection 'acme'")
    assert message in str(info.value) and "connection 'acme'" in str(info.value)
    assert "s3cr3t-value" not in str(info.value)


def test_schema_knows_exactly_the_keys_the_parser_accepts() -> None:
    assert set(SCHEMA["properties"]) == KNOWN_KEYS
    assert SCHEMA["properties"]["max_request_bytes"]["maximum"] == defaults.DATAVERSE_MAX_REQUEST_BYTES
