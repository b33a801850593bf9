"""The Bicep sets every app setting the code reads (or docs/deploy.md says why not), never one Flex forbids, and
creates exactly the queues, tables and containers shared/defaults.py names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from shared import config, defaults
from shared.connections import parse_connections

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
FUNCTION_APP_BICEP = INFRA / "modules" / "functionapp.bicep"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

# Flex Consumption rejects or misbehaves with these (runtime comes from functionAppConfig).
FLEX_FORBIDDEN = (
    "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE",
    "SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD", "AzureWebJobsFeatureFlags",
)


def _block_after(text: str, anchor: str) -> str:
    """The brace-balanced ``{...}`` block that follows ``anchor``."""
    start = text.index("{", text.index(anchor))
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
    raise AssertionError(f"unbalanced braces after {anchor!r}")


def bicep_app_settings() -> dict[str, str]:
    """Top-level keys (and raw values) of the appsettings resource's ``properties`` in functionapp.bicep."""
    text = FUNCTION_APP_BICEP.read_text(encoding="utf-8")
    assert "name: 'appsettings'" in text, "functionapp.bicep has no 'appsettings' config resource"
    properties = _block_after(text[text.index("name: 'appsettings'"):], "properties:")
    settings: dict[str, str] = {}
    depth = 0
    for line in properties.splitlines():
        stripped = line.strip()
        if depth == 0 and not stripped.startswith("//"):
            match = re.match(r"^'?([A-Za-z_][A-Za-z0-9_.]*)'?\s*:\s*(.*)$", stripped)
            if match:
                settings[match.group(1)] = match.group(2)
        depth += stripped.count("{") + stripped.count("[") - stripped.count("}") - stripped.count("]")
    return settings


def documented_settings() -> dict[str, bool]:
    """docs/deploy.md "## App settings" table: setting name -> set by the Bicep (first cell 'yes'/'no')."""
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    section = text.split("\n## App settings", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, bool] = {}
    for line in section.splitlines():
        match = re.match(r"^\|\s*`([^`]+)`\s*\|\s*(yes|no)\b", line)
        if match:
            rows[match.group(1)] = match.group(2) == "yes"
    assert rows, "docs/deploy.md has no '## App settings' table rows"
    return rows


def test_every_setting_the_code_reads_is_set_by_bicep_or_documented_optional():
    in_bicep = set(bicep_app_settings())
    documented = documented_settings()
    optional = {name for name, set_by_bicep in documented.items() if not set_by_bicep}
    missing = sorted(config.SETTING_NAMES - in_bicep - optional)
    assert not missing, f"settings read by shared/config.py but neither set in {FUNCTION_APP_BICEP.name} nor " \
                        f"documented as not needed in Azure (docs/deploy.md, App settings): {missing}"


def test_the_deploy_doc_table_agrees_with_the_bicep_and_the_code():
    in_bicep = set(bicep_app_settings())
    documented = documented_settings()
    assert sorted(config.SETTING_NAMES - set(documented)) == [], "every setting in shared/config.py has a row"
    assert sorted(in_bicep - set(documented)) == [], "every setting the Bicep sets has a row"
    wrong = sorted(name for name, yes in documented.items() if yes != (name in in_bicep))
    assert not wrong, f"rows whose 'Set by the Bicep' column disagrees with functionapp.bicep: {wrong}"
    stale = sorted(name for name in documented if name not in config.SETTING_NAMES and name not in in_bicep)
    assert not stale, f"rows for settings nobody reads or sets: {stale}"


def test_no_setting_flex_consumption_forbids_is_set_anywhere_in_infra():
    assert not set(FLEX_FORBIDDEN) & set(bicep_app_settings())
    key = re.compile(r"^\s*'?(" + "|".join(FLEX_FORBIDDEN) + r")'?\s*:", re.MULTILINE)
    for path in [*INFRA.rglob("*.bicep"), *INFRA.rglob("*.bicepparam"), *INFRA.glob("*.json")]:
        where = path.relative_to(ROOT)
        assert not key.search(path.read_text(encoding="utf-8")), f"{where} sets a Flex-forbidden setting"


def test_the_deploy_workflow_sets_no_build_flags_flex_rejects():
    workflow = (ROOT / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8")
    for flag in ("scm-do-build-during-deployment", "enable-oryx-build", "publish-profile"):
        assert f"{flag}:" not in workflow


def test_storage_names_match_shared_defaults():
    text = (INFRA / "modules" / "storage.bicep").read_text(encoding="utf-8")
    queue_block = text[text.index("var queueNames"):text.index("var tableNames")]
    table_block = text[text.index("var tableNames"):text.index("var payloadContainerName")]
    queues = set(re.findall(r"'([a-z0-9-]+)'", queue_block))
    tables = set(re.findall(r"'([a-z0-9]+)'", table_block))
    expected_queues = {q + suffix for q in (defaults.PAGES_QUEUE, defaults.WRITES_QUEUE)
                       for suffix in ("", defaults.POISON_SUFFIX)}
    assert queues == expected_queues
    assert tables == {defaults.STATE_TABLE, defaults.AUDIT_TABLE, defaults.DEADLETTER_TABLE}
    assert f"var payloadContainerName = '{defaults.PAYLOAD_CONTAINER}'" in text


def test_bicep_defaults_match_shared_defaults():
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    interval = int(re.search(r"^param pollIntervalMinutes int = (\d+)$", main, re.MULTILINE).group(1))
    assert f"0 */{interval} * * * *" == defaults.POLL_SCHEDULE
    assert f"param replaySchedule string = '{defaults.REPLAY_SCHEDULE}'" in main
    assert f"param replayMaxAttempts int = {defaults.REPLAY_MAX_ATTEMPTS}" in main
    assert "pollSchedule: '0 */${pollIntervalMinutes} * * * *'" in main


@pytest.mark.parametrize("name", ["alert-no-successful-poll.kql", "alert-failure-ratio.kql"])
def test_alert_parameter_placeholders_exist_in_the_queries(name):
    """alerts.bicep replace()s these 'let' lines; if one drifted, the parameter would silently not apply."""
    bicep = (INFRA / "modules" / "alerts.bicep").read_text(encoding="utf-8")
    query = (INFRA / "monitoring" / "queries" / name).read_text(encoding="utf-8")
    replaced = re.findall(r"replace\(\w+, '([^']+)'", bicep)
    assert replaced
    targets = [t for t in replaced if t.split(" = ")[0] in query]
    assert targets, f"no replace() target of alerts.bicep belongs to {name}"
    for target in targets:
        assert target in query, f"{name} lacks the line alerts.bicep replaces: {target!r}"


def test_azd_parameters_connections_document_is_valid():
    schemas = ROOT / "shared" / "schemas"
    resources = {p.name: Resource.from_contents(json.loads(p.read_text(encoding="utf-8")))
                 for p in schemas.glob("*.json")}
    registry = Registry().with_resources(resources.items())
    schema = json.loads((schemas / "connections.schema.json").read_text(encoding="utf-8"))
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    document = parameters["syncConnections"]["value"]
    jsonschema.Draft202012Validator(schema, registry=registry).validate(document)
    connections = parse_connections(document)
    secrets = parameters["connectionSecrets"]["value"]
    assert {c.cloudsuite["ionapi_secret"] for c in connections} <= set(secrets)
    assert all(re.fullmatch(r"\$\{[A-Z0-9_]+\}", v) for v in secrets.values()), "secret values come from env vars only"


def test_secure_parameters_have_no_default():
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    secure = re.findall(r"@secure\(\)\s*\nparam (\w+) \w+(.*)$", main, re.MULTILINE)
    assert secure, "main.bicep declares the connection secrets as a @secure() parameter"
    assert all(rest.strip() == "" for _, rest in secure), f"@secure() parameters with a default: {secure}"
