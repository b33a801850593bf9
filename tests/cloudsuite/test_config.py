"""Unit tests: the cloudsuite section -> CloudSuiteConfig, its errors, and the JSON schema kept in step."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from shared import defaults
from shared.cloudsuite.config import CloudSuiteConfig
from shared.connections import parse_connections
from shared.errors import ConfigError

SCHEMA = json.loads((Path(__file__).parents[2] / "shared/schemas/cloudsuite.schema.json").read_text())

FULL_SECTION = {
    "product": "csi", "ionapi_secret": "ionapi-acme-csi", "page_size": 500, "max_pages": 2000, "overlap_s": 600,
    "enrich": ["addresses"], "token_client_auth": "basic", "token_refresh_share": 0.5, "token_safety_margin_s": 30,
    "connect_timeout_s": 5, "read_timeout_s": 70, "max_retries": 3, "backoff_base_s": 0.2, "backoff_max_s": 10,
    "ca_bundle": "/etc/ssl/corp-ca.pem", "reconcile_days": 7,
    "m3": {"cono": 100, "divi": "AAA", "change_detection": "exportmi", "returncols": {"supplier": ["SUNO", "SUNM"]},
           "exportmi_separator": "~", "timezone": "Europe/Stockholm"},
    "csi": {"mongoose_config": "ACME_TST_DALS", "site_timezone": "America/New_York",
            "properties": {"customer": ["CustNum", "Name"]}, "filters": {"customer": ""}, "address_date": False},
    "ln": {"company": "1000", "service": "tcapi.comBusinessPartner",
           "entity_sets": {"supplier": "BuyfromBusinessPartners"}, "select": {"supplier": ["BusinessPartner"]},
           "filters": {"supplier": ""}, "address_select": ["AddressCode", "City"]},
    "fsm": {"classes": {"supplier": "Vendor"}, "list_name": "PrimaryVendorList",
            "fields": {"supplier": ["Vendor", "VendorName"]}, "modified_field": "UpdateStamp",
            "timestamp_format": "%Y%m%d%H%M%S"},
}


def test_minimal_section_uses_named_defaults() -> None:
    config = CloudSuiteConfig.from_section({"product": "m3", "ionapi_secret": "ionapi-acme-m3"})
    assert (config.product, config.page_size, config.overlap_s, config.enrich) == (
        "m3", defaults.CLOUDSUITE_PAGE_SIZE, defaults.CLOUDSUITE_WATERMARK_OVERLAP_S, frozenset())
    assert config.m3.change_detection == "lmts"
    assert config.m3.returncols["customer"][0] == "CUNO"


def test_full_section_parses_and_matches_the_schema() -> None:
    jsonschema.validate(FULL_SECTION, SCHEMA)
    config = CloudSuiteConfig.from_section(FULL_SECTION, "connection 'acme-csi'")
    assert config.m3.cono == "100" and config.m3.timezone == "Europe/Stockholm"
    assert config.csi.properties["customer"] == ("CustNum", "Name")
    assert config.csi.properties["supplier"][0] == "VendNum"  # untouched entity keeps its default
    assert config.ln.entity_sets == {"supplier": "BuyfromBusinessPartners", "customer": "BusinessPartners"}
    assert config.fsm.fields["supplier"] == ("Vendor", "VendorName")
    assert config.enrich == frozenset({"addresses"})


def test_every_schema_property_is_in_the_full_example() -> None:
    assert set(SCHEMA["properties"]) == set(FULL_SECTION)
    for product in ("m3", "csi", "ln", "fsm"):
        assert set(SCHEMA["properties"][product]["properties"]) == set(FULL_SECTION[product])


def test_connection_section_frozen_by_connections_module_parses() -> None:
    (conn,) = parse_connections({"connections": [{
        "name": "acme-csi", "cloudsuite": FULL_SECTION,
        "dataverse": {"url": "https://contoso.crm.dynamics.com"}}]})
    assert CloudSuiteConfig.from_section(conn.cloudsuite, "x").csi.mongoose_config == "ACME_TST_DALS"


@pytest.mark.parametrize(("patch", "message"), [
    ({"product": "sap"}, "'cloudsuite.product' must be one of ['m3', 'csi', 'ln', 'fsm', 'auto']"),
    ({"ionapi_secret": ""}, "'cloudsuite.ionapi_secret' must name the secret holding the .ionapi file"),
    ({"page_size": 0}, "'cloudsuite.page_size' must be between 1 and 10000"),
    ({"page_size": 1.5}, "'cloudsuite.page_size' must be an integer"),
    ({"enrich": ["phones"]}, "'cloudsuite.enrich' must be a list drawn from ['addresses', 'contacts']"),
    ({"csi": {"mongoose_config": ""}}, "'cloudsuite.csi.mongoose_config' is required for product csi"),
    ({"csi": {"mongoose_config": "X", "site_timezone": "Mars/Olympus"}},
     "'cloudsuite.csi.site_timezone' must be an IANA time zone name"),
    ({"m3": {"change_detection": "magic"}}, "'cloudsuite.m3.change_detection' must be one of"),
    ({"m3": {"returncols": {"supplier": ["SUNO'; drop"]}}}, "'cloudsuite.m3.returncols.supplier' must contain only"),
    ({"ln": {"company": "12345"}}, "'cloudsuite.ln.company' must be a company number 0-9999"),
    ({"fsm": {"fields": {"vendor": ["Vendor"]}}}, "'cloudsuite.fsm.fields.vendor' is not an entity"),
])
def test_bad_values_are_named(patch: dict, message: str) -> None:
    section = {"product": "csi", "ionapi_secret": "s", "csi": {"mongoose_config": "ACME_TST_DALS"}, **patch}
    with pytest.raises(ConfigError) as info:
        CloudSuiteConfig.from_section(section, "connection 'acme'")
    assert str(info.value).startswith("connection 'acme': ")
    assert message in str(info.value)
