"""Building a MappingConfig from a connection's mapping section: defaults, overrides and precise errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.connections import parse_connections
from shared.errors import ConfigError
from shared.mapping import MappingConfig, map_record, merge_section
from shared.mapping.config import PRODUCTS

M3_CUSTOMER = {"CUNO": "C10001", "CUNM": "Contoso Retail GmbH", "CUA2": "", "CUA3": "", "PHNO": "+49 30 000001",
               "PHN2": "+49 30 000002", "MAIL": ""}


@pytest.mark.parametrize("product", ["m3", "csi", "ln", "fsm"])
def test_every_product_has_defaults_that_compile(product: str) -> None:
    config = MappingConfig.from_section({}, connection="acme", product=product)
    assert config.product == product
    assert config.source_id == "acme"
    assert config.key_columns == {"account": "cssync_sourcekey", "contact": "cssync_sourcekey"}
    assert config.key_max_length == 100
    assert (config.on_too_long, config.on_invalid_email, config.empty) == ("reject", "drop", "null")
    assert set(config.plans) == {"supplier", "customer"}


def test_products_are_the_four_product_lines() -> None:
    assert PRODUCTS == ("m3", "csi", "ln", "fsm")


def test_key_prefixes_use_source_id_and_kind_marker(make_config: Callable[..., MappingConfig]) -> None:
    m3 = make_config("m3")
    ln = make_config("ln")
    assert m3.plans["supplier"].key_prefix == "acme-m3|S|"
    assert m3.plans["customer"].key_prefix == "acme-m3|C|"
    assert ln.plans["supplier"].key_prefix == ln.plans["customer"].key_prefix == "acme-ln|BP|"
    assert (m3.shared_key, ln.shared_key) == (False, True)


def test_documented_example_section_overrides_phone_typecode_country_length_rule_and_source_id(
        make_config: Callable[..., MappingConfig]) -> None:
    config = make_config("m3", {"supplier": {"fields": {"telephone1": "PHN2"}}, "customertypecode": {"supplier": 11},
                                "countries": {"XX": "Atlantis"}, "on_too_long": "truncate", "source_id": "acme"})
    supplier = map_record(config, "supplier", {"SUNO": "S1", "SUNM": "Nordvik", "PHNO": "1", "PHN2": "2",
                                               "CSCD": "xx"})
    assert supplier.source_key == "acme|S|S1"
    assert supplier.account.payload["telephone1"] == "2"
    assert supplier.account.payload["customertypecode"] == 11
    assert supplier.account.payload["address1_country"] == "Atlantis"
    assert config.on_too_long == "truncate"
    customer = map_record(config, "customer", M3_CUSTOMER)
    assert customer.account.payload["telephone1"] == "+49 30 000001"  # only the supplier map was changed
    assert customer.account.payload["customertypecode"] == 3


def test_field_mapped_to_null_is_removed_and_never_sent(make_config: Callable[..., MappingConfig]) -> None:
    config = make_config("m3", {"customer": {"fields": {"emailaddress1": None, "address1_line3": None}}})
    payload = map_record(config, "customer", M3_CUSTOMER).account.payload
    assert "emailaddress1" not in payload
    assert "address1_line3" not in payload
    assert payload["address1_line2"] is None  # still mapped, empty in the source


def test_merge_keeps_default_columns_and_adds_new_ones() -> None:
    merged = merge_section("m3", {"customer": {"fields": {"cssync_vatnumber": "VRNO", "telephone1": "PHN2"}}})
    fields = merged["customer"]["fields"]
    assert fields["cssync_vatnumber"] == "VRNO"
    assert fields["telephone1"] == "PHN2"
    assert fields["name"] == "CUNM"
    assert merged["customer"]["status"] == {"field": "STAT", "inactive": ["90"]}


def test_contacts_override_replaces_the_default_list(make_config: Callable[..., MappingConfig]) -> None:
    config = make_config("m3", {"customer": {"contacts": [{"id": "yre2", "fields": {"fullname": "YRE2"}}]}})
    assert [c.id for c in config.plans["customer"].contacts] == ["yre2"]
    assert make_config("m3", {"customer": {"contacts": []}}).plans["customer"].contacts == ()


def test_typecode_both_follows_the_customer_code_unless_given(make_config: Callable[..., MappingConfig]) -> None:
    assert make_config("ln").both_plan.typecode == 3
    assert make_config("ln", {"customertypecode": {"customer": 5}}).both_plan.typecode == 5
    assert make_config("ln", {"customertypecode": {"customer": 5, "both": 10}}).both_plan.typecode == 10


def test_section_from_a_parsed_connection_with_read_only_mappings_and_tuples_works() -> None:
    (connection,) = parse_connections({"connections": [{
        "name": "acme-m3", "cloudsuite": {"product": "m3", "ionapi_secret": "ionapi-acme"},
        "dataverse": {"url": "https://contoso.crm.dynamics.com"},
        "mapping": {"customer": {"id": ["CUNO"], "fields": {"address1_line1": ["CUA1", "CUA2"]},
                                 "contacts": [{"id": "yref", "fields": {"fullname": "YREF"}}]}},
    }]})
    config = MappingConfig.from_section(connection.mapping, connection=connection.name, product="m3")
    mapped = map_record(config, "customer", {**M3_CUSTOMER, "CUA1": "Hauptstr.", "CUA2": "5", "YREF": "Anna Schmidt"})
    assert mapped.account.payload["address1_line1"] == "Hauptstr. 5"
    assert [c.payload["lastname"] for c in mapped.contacts] == ["Schmidt"]


BAD_SECTIONS: list[tuple[str, Any, str]] = [
    ("not an object", ["x"], "connection 'acme-m3': 'mapping' must be an object"),
    ("typo", {"on_to_long": "truncate"},
     "connection 'acme-m3': mapping.on_to_long is not a mapping setting (allowed here: ['both', 'countries', "
     "'customer', 'customertypecode', 'default_countries', 'empty', 'kinds', 'max_lengths', "
     "'on_invalid_email', 'on_too_long', 'source_id', 'supplier'])"),
    ("on_too_long", {"on_too_long": "cut"},
     "connection 'acme-m3': mapping.on_too_long must be one of ['reject', 'truncate'], got 'cut'"),
    ("empty", {"empty": "blank"}, "connection 'acme-m3': mapping.empty must be one of ['null', 'omit'], got 'blank'"),
    ("source_id", {"source_id": "acme/m3"},
     "connection 'acme-m3': mapping.source_id must be 1-40 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting "
     "with a letter or digit (it starts every alternate-key value)"),
    ("source_id long", {"source_id": "a" * 41}, "mapping.source_id must be 1-40 characters"),
    ("key column lives in the dataverse section", {"key_column": "new_key"},
     "connection 'acme-m3': mapping.key_column is not a mapping setting"),
    ("typecode", {"customertypecode": {"supplier": "Supplier"}},
     "connection 'acme-m3': mapping.customertypecode.supplier must be a positive option value (e.g. 3 Customer, "
     "10 Supplier, 11 Vendor) or null to leave it unmanaged"),
    ("typecode bool", {"customertypecode": {"customer": True}}, "mapping.customertypecode.customer must be"),
    ("typecode key", {"customertypecode": {"vendor": 11}}, "mapping.customertypecode.vendor is not a mapping setting"),
    ("entity key", {"supplier": {"field": {}}}, "mapping.supplier.field is not a mapping setting"),
    ("fields", {"supplier": {"fields": ["SUNM"]}}, "connection 'acme-m3': mapping.supplier.fields must be an object"),
    ("name removed", {"supplier": {"fields": {"name": None}}},
     "connection 'acme-m3': mapping.supplier.fields.name is required: every account needs a name"),
    ("reserved", {"customer": {"fields": {"statecode": "STAT"}}},
     "connection 'acme-m3': mapping.customer.fields.statecode is set by the mapping itself and cannot be mapped "
     "from a source field"),
    ("key column mapped", {"customer": {"fields": {"cssync_sourcekey": "CUNO"}}},
     "mapping.customer.fields.cssync_sourcekey is set by the mapping itself"),
    ("source", {"customer": {"fields": {"telephone1": {"one": "PHNO"}}}},
     "connection 'acme-m3': mapping.customer.fields.telephone1 must be a field name, a list of field names (joined "
     "with a space), {\"join\": [...], \"sep\": \", \"} or {\"first\": [...]}"),
    ("empty source", {"customer": {"fields": {"telephone1": " "}}},
     "mapping.customer.fields.telephone1 must contain only non-empty strings"),
    ("id", {"customer": {"id": "CUNO"}},
     "connection 'acme-m3': mapping.customer.id must be a list of at least 1 field name(s)"),
    ("status", {"customer": {"status": {"field": "STAT", "inactive": "90"}}},
     "mapping.customer.status.inactive must be a list of at least 1 field name(s)"),
    ("contact id", {"customer": {"contacts": [{"id": "Your Ref", "fields": {"fullname": "YREF"}}]}},
     "connection 'acme-m3': mapping.customer.contacts[0].id must be 1-20 characters of a-z, 0-9, '_' and '-' (it "
     "is part of the key)"),
    ("contact without name", {"customer": {"contacts": [{"id": "mail", "fields": {"emailaddress1": "MAIL"}}]}},
     "connection 'acme-m3': mapping.customer.contacts[0].fields needs 'lastname' or 'fullname': a contact needs a "
     "last name"),
    ("list without key", {"customer": {"contacts": [{"id": "ref", "list": "Refs", "fields": {"fullname": "N"}}]}},
     "mapping.customer.contacts[0].key must be a list of at least 1 field name(s)"),
    ("key without list", {"customer": {"contacts": [{"id": "r", "key": ["X"], "fields": {"fullname": "N"}}]}},
     "mapping.customer.contacts[0].key applies only to list contacts (with 'list')"),
    ("duplicate contact ids", {"customer": {"contacts": [{"id": "a", "fields": {"fullname": "YREF"}},
                                                         {"id": "a", "fields": {"fullname": "YRE2"}}]}},
     "mapping.customer.contacts ids must be unique, got ['a', 'a']"),
    ("contacts not a list", {"customer": {"contacts": {"id": "a"}}},
     "mapping.customer.contacts must be a list of contact objects ([] for none)"),
    ("countries", {"countries": {"XX": ""}},
     "connection 'acme-m3': mapping.countries.XX must map a non-empty code to a name of 1-80 characters"),
    ("default countries", {"default_countries": "no"}, "mapping.default_countries must be true or false"),
    ("max length", {"max_lengths": {"cssync_vat": 0}}, "mapping.max_lengths.cssync_vat must be a positive integer"),
    ("kinds", {"kinds": {"supplier": "s"}}, "connection 'acme-m3': mapping.kinds.supplier must be 1-8 characters of "
                                            "A-Z and 0-9"),
    ("shared kinds need both", {"kinds": {"supplier": "P", "customer": "P"}},
     "connection 'acme-m3': mapping.both is required when kinds.supplier equals kinds.customer (one account per "
     "partner): say which field marks a partner that is customer and supplier"),
    ("both without shared kinds", {"both": {"field": "ROLE", "values": ["B"]}},
     "connection 'acme-m3': mapping.both applies only when kinds.supplier equals kinds.customer; set it to null"),
]


@pytest.mark.parametrize(("section", "message"), [(s, m) for _, s, m in BAD_SECTIONS],
                         ids=[name for name, _, _ in BAD_SECTIONS])
def test_bad_section_is_a_config_error_naming_connection_and_key(section: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MappingConfig.from_section(section, connection="acme-m3", product="m3")
    assert message in caught.value.message
    assert caught.value.message.startswith("connection 'acme-m3': ")


def test_key_columns_come_from_the_dataverse_section_and_are_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        MappingConfig.from_section({}, connection="acme", product="m3", key_columns={"contact": "Bad-Key"})
    assert caught.value.message == ("connection 'acme': key column of contact must be a Dataverse column logical "
                                    "name (lower-case a-z, 0-9, _), got 'Bad-Key'")


def test_ln_both_rule_needs_a_role_field() -> None:
    with pytest.raises(ConfigError) as caught:
        MappingConfig.from_section({"both": {"values": ["CustomerAndSupplier"]}}, connection="acme-ln", product="ln")
    assert caught.value.message == ("connection 'acme-ln': mapping.both.field must name the role field "
                                    "(e.g. BusinessPartnerRole)")


def test_unresolved_product_auto_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        MappingConfig.from_section({}, connection="acme", product="auto")
    assert caught.value.message == ("connection 'acme': mapping needs the product line resolved to one of "
                                    "['m3', 'csi', 'ln', 'fsm'], got 'auto'")


def test_unknown_entity_is_a_config_error(make_config: Callable[..., MappingConfig]) -> None:
    with pytest.raises(ConfigError) as caught:
        map_record(make_config("m3"), "item", {})
    assert caught.value.message == "connection 'acme-m3': unknown entity 'item'"
