"""App settings and the connections document: validated once, with errors that name what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from shared import config
from shared.config import load_settings
from shared.connections import parse_connections
from shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SECRET_CONN = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c3VwZXJzZWNyZXRrZXl2YWx1ZQ==;"
GOOD = {"connections": [{"name": "acme-m3", "cloudsuite": {"product": "m3", "ionapi_secret": "ionapi-acme"},
                         "dataverse": {"url": "https://contoso.crm.dynamics.com"}}]}


def _env(**over: str) -> dict[str, str]:
    env = {"AzureWebJobsStorage": SECRET_CONN, "SYNC_CONNECTIONS": json.dumps(GOOD)}
    env.update(over)
    return {k: v for k, v in env.items() if v is not None}


def test_defaults_apply_when_optional_settings_are_absent():
    settings = load_settings(_env())
    assert settings.poll_schedule == "0 */15 * * * *"
    assert settings.replay_schedule == "0 0 * * * *"
    assert settings.replay_max_attempts == 3
    assert settings.storage.connection_string == SECRET_CONN


def test_identity_based_storage_infers_endpoints_from_the_account_name():
    env = {"AzureWebJobsStorage__accountName": "stsync", "AzureWebJobsStorage__clientId": "cid",
           "SYNC_CONNECTIONS": json.dumps(GOOD)}
    storage = load_settings(env).storage
    assert (storage.queue_uri, storage.table_uri, storage.blob_uri, storage.client_id) == (
        "https://stsync.queue.core.windows.net", "https://stsync.table.core.windows.net",
        "https://stsync.blob.core.windows.net", "cid")


@pytest.mark.parametrize(("env", "message"), [
    ({"AzureWebJobsStorage": ""}, "storage is not configured: set AzureWebJobsStorage"),
    ({"AzureWebJobsStorage": "not-a-connection-string-but-secret"}, "AzureWebJobsStorage is not a storage connection"),
    ({"SYNC_CONNECTIONS": ""}, "no connections configured: set SYNC_CONNECTIONS"),
    ({"POLL_SCHEDULE": "*/5 * * * *"}, "POLL_SCHEDULE must be an NCRONTAB expression with 6 fields"),
    ({"KEY_VAULT_URI": "http://kv.example"}, "KEY_VAULT_URI must be an https:// URL"),
    ({"REPLAY_MAX_ATTEMPTS": "0"}, "REPLAY_MAX_ATTEMPTS must be a whole number >= 1"),
    ({"SYNC_SECRETS_DIR": "/nonexistent/dir"}, "SYNC_SECRETS_DIR names a directory that does not exist"),
    ({"KEY_VAULT_URI": "@Microsoft.KeyVault(SecretUri=https://kv/secrets/x/)"}, "unresolved Key Vault reference"),
])
def test_bad_settings_name_the_setting_and_never_echo_secret_values(env, message):
    with pytest.raises(ConfigError) as err:
        load_settings(_env(**env))
    assert message in err.value.message
    assert "c3VwZXJzZWNyZXRrZXl2YWx1ZQ" not in err.value.message
    assert "not-a-connection-string-but-secret" not in err.value.message


def test_every_setting_read_is_declared_once():
    names = [s.name for s in config.SETTINGS]
    assert len(names) == len(set(names))
    source = (ROOT / "shared" / "config.py").read_text()
    for setting in config.SETTINGS:
        assert f'"{setting.name}"' in source


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda c: c.update(name="Bad Name"), "'name' must be 1-40 characters"),
    (lambda c: c.update(entities=["invoice"]), "'entities' must be a non-empty list"),
    (lambda c: c["cloudsuite"].update(product="sap"), "'cloudsuite.product' must be one of"),
    (lambda c: c["cloudsuite"].pop("ionapi_secret"), "'cloudsuite.ionapi_secret' must name the secret"),
    (lambda c: c["dataverse"].update(url="http://contoso.crm.dynamics.com"), "'dataverse.url' must be the https://"),
    (lambda c: c["dataverse"].update(auth="password"), "'dataverse.auth' must be one of"),
])
def test_bad_connections_get_a_specific_error_naming_the_connection(mutate, message):
    doc = json.loads(json.dumps(GOOD))
    mutate(doc["connections"][0])
    with pytest.raises(ConfigError, match="connection"):
        parse_connections(doc)
    with pytest.raises(ConfigError) as err:
        parse_connections(doc)
    assert message in err.value.message


def test_duplicate_connection_names_are_refused():
    doc = {"connections": GOOD["connections"] * 2}
    with pytest.raises(ConfigError, match="'acme-m3' is used twice"):
        parse_connections(doc)


def test_parsed_connections_are_read_only_and_defaulted():
    (conn,) = parse_connections(GOOD)
    assert conn.entities == ("supplier", "customer")
    assert conn.enabled is True
    with pytest.raises(TypeError):
        conn.cloudsuite["product"] = "ln"  # type: ignore[index]


def _validator() -> jsonschema.Draft202012Validator:
    schemas = ROOT / "shared" / "schemas"
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text()))) for p in schemas.glob("*.schema.json")]
    registry = Registry().with_resources(resources)
    return jsonschema.Draft202012Validator(json.loads((schemas / "connections.schema.json").read_text()),
                                           registry=registry)


def test_json_schema_accepts_what_the_parser_accepts():
    _validator().validate(GOOD)
    for example in (ROOT / "localdev").glob("*.connections.json"):
        doc = json.loads(example.read_text())
        _validator().validate(doc)
        assert parse_connections(doc)


def test_json_schema_rejects_what_the_parser_rejects():
    doc = json.loads(json.dumps(GOOD))
    doc["connections"][0]["cloudsuite"]["product"] = "sap"
    assert list(_validator().iter_errors(doc))
    with pytest.raises(ConfigError):
        parse_connections(doc)


def test_local_settings_example_names_only_known_settings_and_loads():
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    assert set(values) - {"FUNCTIONS_WORKER_RUNTIME"} <= config.SETTING_NAMES
    assert "local.settings.json" in (ROOT / ".gitignore").read_text().split()
