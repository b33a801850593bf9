"""shared/schemas/mapping.schema.json describes the same sections MappingConfig accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.errors import ConfigError
from shared.mapping import MappingConfig

SCHEMA = json.loads((Path(__file__).parents[2] / "shared" / "schemas" / "mapping.schema.json").read_text())

GOOD: list[tuple[str, dict[str, Any]]] = [
    ("m3", {}),
    ("m3", {"supplier": {"fields": {"telephone1": "PHN2"}}, "customertypecode": {"supplier": 11},
            "countries": {"XX": "Atlantis"}, "on_too_long": "truncate", "source_id": "acme"}),
    ("m3", {"customer": {"fields": {"emailaddress1": None, "address1_line3": {"join": ["CUA3", "CUA4"], "sep": ", "},
                                    "telephone1": {"first": ["PHN2", "PHNO"]}, "address1_line1": ["CUA1", "CUA2"]},
                         "contacts": [{"id": "yre2", "fields": {"fullname": "YRE2"}}],
                         "status": None}}),
    ("csi", {"empty": "omit", "on_invalid_email": "reject", "default_countries": False,
             "max_lengths": {"cssync_vat": 40},
             "customer": {"status": {"field": "Stat", "inactive": ["I"]}}}),
    ("ln", {"customertypecode": {"both": 10, "customer": None},
            "both": {"field": "BusinessPartnerRole", "values": ["CustomerAndSupplier"], "use": "supplier"}}),
    ("fsm", {"supplier": {"contacts": [{"id": "ap", "list": "Contacts", "key": ["Contact"],
                                        "fields": {"firstname": "First", "lastname": "Last"},
                                        "status": {"field": "Active", "inactive": ["false"]}}]}}),
]

BAD: list[tuple[str, dict[str, Any]]] = [
    ("m3", {"on_to_long": "truncate"}),
    ("m3", {"on_too_long": "cut"}),
    ("m3", {"source_id": "acme/m3"}),
    ("m3", {"customertypecode": {"supplier": "Supplier"}}),
    ("m3", {"supplier": {"fields": {"statecode": "STAT"}}}),
    ("m3", {"supplier": {"fields": {"telephone1": {"one": "PHNO"}}}}),
    ("m3", {"supplier": {"id": "SUNO"}}),
    ("m3", {"customer": {"contacts": [{"id": "mail", "fields": {"emailaddress1": "MAIL"}}]}}),
    ("m3", {"customer": {"contacts": [{"id": "ref", "list": "Refs", "fields": {"fullname": "N"}}]}}),
    ("m3", {"kinds": {"supplier": "s"}}),
    ("m3", {"max_lengths": {"cssync_vat": 0}}),
    ("m3", {"countries": {"XX": ""}}),
    ("m3", {"key_column": "new_key"}),
]


@pytest.mark.parametrize(("product", "section"), GOOD)
def test_sections_the_mapping_accepts_are_valid_against_the_schema(product: str, section: dict[str, Any]) -> None:
    jsonschema.validate(section, SCHEMA)
    MappingConfig.from_section(section, connection="acme", product=product)


@pytest.mark.parametrize(("product", "section"), BAD)
def test_sections_the_mapping_rejects_are_invalid_against_the_schema(product: str, section: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(section, SCHEMA)
    with pytest.raises(ConfigError):
        MappingConfig.from_section(section, connection="acme", product=product)


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
