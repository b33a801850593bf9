"""map_record: exact account/contact rows, keys, the empty/null rule, status, validation, e-mail and countries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from shared.errors import RecordError
from shared.mapping import MappingConfig, content_hash, map_record

Make = Callable[..., MappingConfig]
BIND = "parentcustomerid_account@odata.bind"

M3_SUPPLIER = {"CONO": "100", "SUNO": "S10001", "SUNM": "Nordvik Fasteners AS", "STAT": "20", "PHNO": "+47 22 000001",
               "CSCD": "NO", "ECAR": "",
               "_addresses": [{"ADTE": "1", "ADID": "", "ADR1": "Industriveien 1", "ADR2": "", "ADR3": "",
                               "TOWN": "Oslo", "PONO": "0150", "ECAR": "", "CSCD": "NO"}]}
M3_CUSTOMER = {"CUNO": "C10001", "CUNM": "Contoso Retail GmbH", "CUA1": "Hauptstraße 1", "CUA2": "", "TOWN": "Berlin",
               "PONO": "10115", "CSCD": "DE", "PHNO": "+49 30 000001", "MAIL": "einkauf@contoso.example",
               "YREF": "Hans Müller-Lüdenscheidt", "STAT": "20"}
LN_PARTNER = {"BusinessPartner": "BP0000101", "Name": "Contoso Retail GmbH",
              "BusinessPartnerRole": "CustomerAndSupplier", "BusinessPartnerStatus": "Active",
              "PhoneNumber": "+49 30 000001",
              "AddressRef": {"Street": "Hauptstraße", "HouseNumber": "1", "City": "BER", "CityDescription": "Berlin",
                             "ZIPCodePostalCode": "10115", "Country": "DEU"},
              "Contacts": [{"Contact": "CT0001", "FirstName": "Anna", "LastName": "de Vries",
                            "Email": "a@contoso.example", "Active": True}]}


def _canonical_hash(key: dict[str, str], payload: dict[str, Any]) -> str:
    text = json.dumps({"key": key, "payload": payload}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- keys and rows --------------------------------------------------------------------------------------------------

def test_m3_supplier_maps_to_a_supplier_account_keyed_by_source_id_kind_and_number(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "supplier", M3_SUPPLIER)
    assert (mapped.entity, mapped.source_key) == ("supplier", "acme-m3|S|S10001")
    assert mapped.account.table == "account"
    assert mapped.account.entity_set == "accounts"
    assert mapped.account.key == {"cssync_sourcekey": "acme-m3|S|S10001"}
    assert mapped.account.ref == "accounts(cssync_sourcekey='acme-m3|S|S10001')"
    assert mapped.account.parent_key is None
    assert mapped.account.payload == {
        "name": "Nordvik Fasteners AS", "accountnumber": "S10001", "address1_line1": "Industriveien 1",
        "address1_line2": None, "address1_line3": None, "address1_city": "Oslo", "address1_stateorprovince": None,
        "address1_postalcode": "0150", "address1_country": "Norway", "telephone1": "+47 22 000001",
        "customertypecode": 10, "statecode": 0, "statuscode": 1,
    }
    assert mapped.contacts == ()
    assert mapped.notes == ()


def test_m3_customer_gets_its_own_key_kind_and_customer_type(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "CUNO": "S10001"})
    assert mapped.source_key == "acme-m3|C|S10001"  # same number as a supplier: a different account
    assert mapped.account.payload["customertypecode"] == 3


def test_vendor_type_code_is_configurable(make_config: Make) -> None:
    mapped = map_record(make_config("m3", {"customertypecode": {"supplier": 11}}), "supplier", M3_SUPPLIER)
    assert mapped.account.payload["customertypecode"] == 11


def test_type_code_null_is_never_sent(make_config: Make) -> None:
    mapped = map_record(make_config("m3", {"customertypecode": {"supplier": None}}), "supplier", M3_SUPPLIER)
    assert "customertypecode" not in mapped.account.payload


def test_key_columns_per_table_are_in_the_key_and_never_in_the_payload() -> None:
    config = MappingConfig.from_section({}, connection="acme-m3", product="m3",
                                        key_columns={"account": "new_accountkey", "contact": "new_contactkey"})
    mapped = map_record(config, "customer", M3_CUSTOMER)
    assert mapped.account.key == {"new_accountkey": "acme-m3|C|C10001"}
    assert mapped.contacts[0].key == {"new_contactkey": "acme-m3|C|C10001|yref"}
    assert mapped.contacts[0].parent_key == {"new_accountkey": "acme-m3|C|C10001"}
    assert mapped.contacts[0].ref == "contacts(new_contactkey='acme-m3|C|C10001|yref')"
    assert mapped.contacts[0].payload[BIND] == "/accounts(new_accountkey='acme-m3|C|C10001')"
    assert all(column not in row.payload for row in mapped.rows for column in ("new_accountkey", "new_contactkey"))


def test_id_with_forbidden_characters_is_escaped_in_the_key_not_in_the_account_number(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "supplier", {**M3_SUPPLIER, "SUNO": "SUP/2024"})
    assert mapped.source_key == "acme-m3|S|SUP~2F2024"
    assert mapped.account.payload["accountnumber"] == "SUP/2024"


def test_apostrophe_in_id_is_doubled_in_ref_and_contact_bind(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "CUNO": "O'NEIL"})
    assert mapped.account.key == {"cssync_sourcekey": "acme-m3|C|O'NEIL"}
    assert mapped.account.ref == "accounts(cssync_sourcekey='acme-m3|C|O''NEIL')"
    assert mapped.contacts[0].payload[BIND] == "/accounts(cssync_sourcekey='acme-m3|C|O''NEIL')"


def test_composite_record_id_joins_escaped_parts(make_config: Make) -> None:
    mapped = map_record(make_config("fsm"), "supplier", {"VendorGroup": "ACME", "Vendor": "100045",
                                                         "VendorName": "Nordvik Fasteners AS"})
    assert mapped.source_key == "acme-fsm|S|ACME|100045"
    assert mapped.account.payload["accountnumber"] == "100045"


def test_missing_record_id_is_a_record_error(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3"), "supplier", {"SUNO": "  ", "SUNM": "Nordvik"})
    assert (caught.value.reason, caught.value.code, caught.value.key) == (
        "supplier record has no SUNO (part of the record id)", "missing_id", "")


def test_key_of_exactly_100_characters_is_accepted(make_config: Make) -> None:
    config = make_config("m3", {"supplier": {"fields": {"accountnumber": None}}})  # accountnumber allows only 20
    mapped = map_record(config, "supplier", {**M3_SUPPLIER, "SUNO": "X" * 90})
    assert len(mapped.source_key) == 100


def test_key_longer_than_the_key_column_is_rejected_even_when_truncating(make_config: Make) -> None:
    key = "acme-m3|S|" + "X" * 91
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3", {"on_too_long": "truncate"}), "supplier", {**M3_SUPPLIER, "SUNO": "X" * 91})
    assert (caught.value.reason, caught.value.code, caught.value.key) == (
        f"alternate key {key} is 101 characters, the key column allows 100", "key_too_long", key)


def test_record_that_is_not_an_object_is_a_record_error(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3"), "supplier", ["S10001"])  # type: ignore[arg-type]
    assert (caught.value.reason, caught.value.code) == ("supplier record is a list, expected an object", "bad_record")


def test_object_where_text_is_expected_is_a_record_error(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3"), "supplier", {**M3_SUPPLIER, "PHNO": {"number": "1"}})
    assert (caught.value.reason, caught.value.code, caught.value.key) == (
        "field PHNO holds a dict, expected text", "bad_value", "acme-m3|S|S10001")


# --- name, empty values and the null rule ---------------------------------------------------------------------------

def test_missing_name_is_a_record_error_with_the_record_key(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3"), "supplier", {**M3_SUPPLIER, "SUNM": "   "})
    assert (caught.value.reason, caught.value.code, caught.value.key) == (
        "supplier record acme-m3|S|S10001 has no name (source SUNM)", "missing_name", "acme-m3|S|S10001")


def test_empty_or_null_source_field_sends_null_so_a_removal_in_cloudsuite_clears_dataverse(make_config: Make) -> None:
    payload = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "PHNO": " ", "MAIL": None}).account.payload
    assert payload["telephone1"] is None  # blank
    assert payload["emailaddress1"] is None  # null
    assert payload["address1_line2"] is None  # empty string


def test_source_field_the_record_does_not_carry_is_left_out_so_dataverse_keeps_its_value(make_config: Make) -> None:
    payload = map_record(make_config("m3"), "customer", M3_CUSTOMER).account.payload
    assert "address1_stateorprovince" not in payload  # ECAR was not read by the client
    assert "address1_line3" not in payload  # nor CUA3
    supplier = map_record(make_config("m3"), "supplier", {k: v for k, v in M3_SUPPLIER.items() if k != "_addresses"})
    assert supplier.account.payload == {  # address enrichment off: no address columns at all
        "name": "Nordvik Fasteners AS", "accountnumber": "S10001", "address1_stateorprovince": None,
        "address1_country": "Norway", "telephone1": "+47 22 000001", "customertypecode": 10, "statecode": 0,
        "statuscode": 1}


def test_empty_address_list_clears_the_address(make_config: Make) -> None:
    payload = map_record(make_config("m3"), "supplier", {**M3_SUPPLIER, "_addresses": []}).account.payload
    assert (payload["address1_line1"], payload["address1_city"], payload["address1_country"]) == (None, None, "Norway")


def test_status_field_the_record_does_not_carry_sends_no_state(make_config: Make) -> None:
    payload = map_record(make_config("m3"), "customer", {"CUNO": "C1", "CUNM": "N"}).account.payload
    assert "statecode" not in payload
    assert "statuscode" not in payload


def test_empty_omit_leaves_empty_columns_out(make_config: Make) -> None:
    mapped = map_record(make_config("m3", {"empty": "omit"}), "customer", {**M3_CUSTOMER, "PHNO": ""})
    assert mapped.account.payload == {
        "name": "Contoso Retail GmbH", "accountnumber": "C10001", "address1_line1": "Hauptstraße 1",
        "address1_city": "Berlin", "address1_postalcode": "10115", "address1_country": "Germany",
        "emailaddress1": "einkauf@contoso.example", "customertypecode": 3, "statecode": 0, "statuscode": 1,
    }
    assert mapped.contacts[0].payload == {
        "firstname": "Hans", "lastname": "Müller-Lüdenscheidt", "emailaddress1": "einkauf@contoso.example",
        BIND: "/accounts(cssync_sourcekey='acme-m3|C|C10001')",
    }


def test_values_are_trimmed_and_numbers_become_text(make_config: Make) -> None:
    payload = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "CUNM": "  Nordvik AS  ", "PONO": 150}
                         ).account.payload
    assert (payload["name"], payload["address1_postalcode"]) == ("Nordvik AS", "150")


# --- status ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("product", "entity", "raw", "state"), [
    ("m3", "supplier", {"SUNO": "S1", "SUNM": "N", "STAT": "90"}, (1, 2)),
    ("m3", "supplier", {"SUNO": "S1", "SUNM": "N", "STAT": "20"}, (0, 1)),
    ("m3", "supplier", {"SUNO": "S1", "SUNM": "N", "STAT": "10"}, (0, 1)),
    ("m3", "customer", {"CUNO": "C1", "CUNM": "N", "STAT": "90"}, (1, 2)),
    ("csi", "supplier", {"VendNum": "V1", "Name": "N", "Stat": "I"}, (1, 2)),
    ("csi", "supplier", {"VendNum": "V1", "Name": "N", "Stat": "i"}, (1, 2)),
    ("csi", "supplier", {"VendNum": "V1", "Name": "N", "Stat": "A"}, (0, 1)),
    ("ln", "customer", {"BusinessPartner": "BP1", "Name": "N", "BusinessPartnerStatus": "Inactive"}, (1, 2)),
    ("ln", "customer", {"BusinessPartner": "BP1", "Name": "N", "BusinessPartnerStatus": "3"}, (1, 2)),
    ("ln", "customer", {"BusinessPartner": "BP1", "Name": "N", "BusinessPartnerStatus": "Prospect"}, (0, 1)),
])
def test_inactive_status_deactivates_the_account_and_active_keeps_it_active(
        make_config: Make, product: str, entity: str, raw: dict[str, str], state: tuple[int, int]) -> None:
    payload = map_record(make_config(product), entity, raw).account.payload
    assert (payload["statecode"], payload["statuscode"]) == state


def test_csi_customer_credit_hold_does_not_deactivate_and_no_state_is_sent_without_a_status_field(
        make_config: Make) -> None:
    payload = map_record(make_config("csi"), "customer", {"CustNum": "C1", "Name": "N", "CreditHold": "1"}
                         ).account.payload
    assert "statecode" not in payload
    assert "statuscode" not in payload


def test_fsm_status_field_is_configurable(make_config: Make) -> None:
    config = make_config("fsm", {"supplier": {"status": {"field": "VendorStatus", "inactive": ["Inactive"]}}})
    raw = {"VendorGroup": "G", "Vendor": "1", "VendorName": "N", "VendorStatus": "Inactive"}
    payload = map_record(config, "supplier", raw).account.payload
    assert (payload["statecode"], payload["statuscode"]) == (1, 2)


# --- customer and supplier at once (LN) -----------------------------------------------------------------------------

def test_ln_partner_in_both_roles_maps_identically_from_both_listings(make_config: Make) -> None:
    config = make_config("ln")
    as_supplier = map_record(config, "supplier", LN_PARTNER)
    as_customer = map_record(config, "customer", LN_PARTNER)
    assert as_supplier.source_key == as_customer.source_key == "acme-ln|BP|BP0000101"
    assert as_supplier.rows == as_customer.rows
    assert as_supplier.account.hash == as_customer.account.hash
    assert as_supplier.account.payload["customertypecode"] == 3


def test_both_roles_use_the_configured_type_code_and_field_map_from_either_listing(make_config: Make) -> None:
    config = make_config("ln", {"customertypecode": {"both": 10},
                                "supplier": {"fields": {"telephone1": "FaxNumber"}}})
    raw = {**LN_PARTNER, "FaxNumber": "+49 30 999"}
    as_supplier = map_record(config, "supplier", raw)
    as_customer = map_record(config, "customer", raw)
    assert as_supplier.rows == as_customer.rows  # the supplier override does not apply to a "both" partner
    assert as_supplier.account.payload["telephone1"] == "+49 30 000001"
    assert as_supplier.account.payload["customertypecode"] == 10


def test_ln_partner_in_one_role_gets_that_roles_type_code_under_the_shared_key(make_config: Make) -> None:
    config = make_config("ln")
    supplier = map_record(config, "supplier", {**LN_PARTNER, "BusinessPartnerRole": "Supplier"})
    customer = map_record(config, "customer", {**LN_PARTNER, "BusinessPartnerRole": "Customer"})
    assert supplier.source_key == customer.source_key == "acme-ln|BP|BP0000101"
    assert (supplier.account.payload["customertypecode"], customer.account.payload["customertypecode"]) == (10, 3)


def test_ln_role_given_as_enum_number_is_recognised(make_config: Make) -> None:
    mapped = map_record(make_config("ln", {"customertypecode": {"both": 12}}), "supplier",
                        {**LN_PARTNER, "BusinessPartnerRole": "4"})
    assert mapped.account.payload["customertypecode"] == 12


def test_ln_address_is_read_from_the_expanded_address_or_flattened_keys(make_config: Make) -> None:
    flat = {k: v for k, v in LN_PARTNER.items() if k != "AddressRef"}
    flat.update({"AddressRef.Street": "Hauptstraße", "AddressRef.HouseNumber": "1", "AddressRef.City": "BER",
                 "AddressRef.ZIPCodePostalCode": "10115", "AddressRef.Country": "DEU"})
    nested = map_record(make_config("ln"), "customer", LN_PARTNER).account.payload
    flattened = map_record(make_config("ln"), "customer", flat).account.payload
    assert nested["address1_line1"] == flattened["address1_line1"] == "Hauptstraße 1"
    assert nested["address1_city"] == "Berlin"  # CityDescription first
    assert flattened["address1_city"] == "BER"  # then the city code
    assert nested["address1_country"] == flattened["address1_country"] == "Germany"


def test_ln_address_expanded_as_null_clears_the_address_and_an_unread_one_is_left_out(make_config: Make) -> None:
    no_address = map_record(make_config("ln"), "customer", {**LN_PARTNER, "AddressRef": None}).account.payload
    not_read = map_record(make_config("ln"), "customer",
                          {k: v for k, v in LN_PARTNER.items() if k != "AddressRef"}).account.payload
    assert (no_address["address1_line1"], no_address["address1_city"]) == (None, None)
    assert "address1_line1" not in not_read
    assert "address1_city" not in not_read


# --- contacts -------------------------------------------------------------------------------------------------------

def test_m3_customer_reference_becomes_a_contact_bound_to_its_account(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer", M3_CUSTOMER)
    (contact,) = mapped.contacts
    assert contact.table == "contact"
    assert contact.entity_set == "contacts"
    assert contact.key == {"cssync_sourcekey": "acme-m3|C|C10001|yref"}
    assert contact.ref == "contacts(cssync_sourcekey='acme-m3|C|C10001|yref')"
    assert contact.parent_key == {"cssync_sourcekey": "acme-m3|C|C10001"}
    assert contact.payload == {
        "firstname": "Hans", "lastname": "Müller-Lüdenscheidt", "emailaddress1": "einkauf@contoso.example",
        "telephone1": "+49 30 000001", BIND: "/accounts(cssync_sourcekey='acme-m3|C|C10001')",
    }
    assert mapped.rows == (mapped.account, contact)


def test_no_contact_row_without_a_person_name(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "YREF": ""})
    assert mapped.contacts == ()
    assert mapped.notes == ("contact yref: no person name, contact not written",)


def test_no_contact_and_no_note_when_the_slot_is_entirely_empty(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer", {"CUNO": "C1", "CUNM": "N"})
    assert (mapped.contacts, mapped.notes) == ((), ())


def test_e_mail_address_in_the_name_field_is_not_a_person(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "YREF": "einkauf@contoso.example"})
    assert mapped.contacts == ()
    assert mapped.notes == ("contact yref: the name is an e-mail address, contact not written",)


def test_m3_supplier_references_become_one_contact_each_keyed_by_type_and_id(make_config: Make) -> None:
    raw = {**M3_SUPPLIER, "_contacts": [
        {"RFTY": "1", "RFID": "AP", "YRE1": "Kari Nordmann", "PHNO": "+47 22 000002", "EMAL": "ap@nordvik.example"},
        {"RFTY": "1", "RFID": "SALES/EU", "YRE1": "Ola", "PHNO": "", "EMAL": ""},
        {"RFTY": "2", "RFID": "X", "YRE1": "", "PHNO": "+47 22 000003"},
    ]}
    mapped = map_record(make_config("m3"), "supplier", raw)
    assert [c.key["cssync_sourcekey"] for c in mapped.contacts] == [
        "acme-m3|S|S10001|ref|1|AP", "acme-m3|S|S10001|ref|1|SALES~2FEU"]
    assert mapped.contacts[0].payload == {
        "firstname": "Kari", "lastname": "Nordmann", "emailaddress1": "ap@nordvik.example",
        "telephone1": "+47 22 000002", BIND: "/accounts(cssync_sourcekey='acme-m3|S|S10001')"}
    assert mapped.contacts[1].payload["firstname"] is None
    assert mapped.contacts[1].payload["lastname"] == "Ola"
    assert mapped.notes == ("contact ref|2|X: no person name, contact not written",)


def test_list_contact_without_its_id_is_skipped_with_a_note(make_config: Make) -> None:
    raw = {**M3_SUPPLIER, "_contacts": [{"RFTY": "1", "YRE1": "Kari Nordmann"}]}
    mapped = map_record(make_config("m3"), "supplier", raw)
    assert mapped.contacts == ()
    assert mapped.notes == ("contact ref: an item has no RFTY/RFID, contact not written",)


def test_duplicate_contact_keys_keep_the_first(make_config: Make) -> None:
    item = {"RFTY": "1", "RFID": "AP", "YRE1": "Kari Nordmann"}
    raw = {**M3_SUPPLIER, "_contacts": [item, dict(item, YRE1="Ola")]}
    mapped = map_record(make_config("m3"), "supplier", raw)
    assert [c.payload["lastname"] for c in mapped.contacts] == ["Nordmann"]
    assert mapped.notes == ("contact ref: duplicate key acme-m3|S|S10001|ref|1|AP, only the first is written",)


def test_contact_list_that_is_not_a_list_of_objects_is_a_record_error(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3"), "supplier", {**M3_SUPPLIER, "_contacts": ["Kari"]})
    assert (caught.value.reason, caught.value.code) == (
        "field _contacts must hold a list of contact objects", "bad_value")


def test_csi_vendor_contact_uses_contact_phone_and_external_email(make_config: Make) -> None:
    raw = {"VendNum": "V1001", "Name": "Nordvik Fasteners AS", "Contact": "Kari Nordmann", "Phone": "+47 22 000001",
           "ExternalEmailAddr": "ap@nordvik.example", "Stat": "A"}
    (contact,) = map_record(make_config("csi"), "supplier", raw).contacts
    assert contact.key == {"cssync_sourcekey": "acme-csi|S|V1001|contact"}
    assert contact.payload == {
        "firstname": "Kari", "lastname": "Nordmann", "telephone1": "+47 22 000001",
        "emailaddress1": "ap@nordvik.example", BIND: "/accounts(cssync_sourcekey='acme-csi|S|V1001')"}


def test_csi_customer_contact_slots_1_to_3_pair_with_their_phones(make_config: Make) -> None:
    raw = {"CustNum": "C1001", "Name": "Contoso", "Contact_1": "Anna Schmidt", "Phone_1": "1",
           "Contact_3": "van der Berg, Jan", "Phone_3": "3"}
    contacts = map_record(make_config("csi"), "customer", raw).contacts
    assert [(c.key["cssync_sourcekey"], c.payload["firstname"], c.payload["lastname"], c.payload["telephone1"])
            for c in contacts] == [("acme-csi|C|C1001|contact1", "Anna", "Schmidt", "1"),
                                   ("acme-csi|C|C1001|contact3", "Jan", "van der Berg", "3")]


def test_ln_contacts_use_first_and_last_name_and_their_active_flag(make_config: Make) -> None:
    raw = {**LN_PARTNER, "Contacts": [
        {"Contact": "CT0001", "FirstName": "Anna", "LastName": "de Vries", "FullName": "ignored", "Active": True,
         "JobTitle": "Buyer", "MobilePhone": "+49 170 0000001"},
        {"Contact": "CT0002", "FullName": "Jan van der Berg", "Active": False},
        {"Contact": "CT0003", "FirstName": "Cher", "Active": "No"},
    ]}
    contacts = map_record(make_config("ln"), "customer", raw).contacts
    parent = "/accounts(cssync_sourcekey='acme-ln|BP|BP0000101')"
    assert [c.payload for c in contacts] == [
        {"firstname": "Anna", "lastname": "de Vries", "mobilephone": "+49 170 0000001", "jobtitle": "Buyer",
         "statecode": 0, "statuscode": 1, BIND: parent},
        {"firstname": "Jan", "lastname": "van der Berg", "statecode": 1, "statuscode": 2, BIND: parent},
        {"firstname": None, "lastname": "Cher", "statecode": 1, "statuscode": 2, BIND: parent},
    ]
    assert contacts[0].key == {"cssync_sourcekey": "acme-ln|BP|BP0000101|contact|CT0001"}


def test_ln_single_expanded_contact_object_is_accepted(make_config: Make) -> None:
    raw = {**LN_PARTNER, "Contacts": {"Contact": "CT0001", "LastName": "de Vries"}}
    assert [c.payload["lastname"] for c in map_record(make_config("ln"), "customer", raw).contacts] == ["de Vries"]


# --- lengths --------------------------------------------------------------------------------------------------------

def test_too_long_value_is_rejected_naming_column_source_and_lengths(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "TOWN": "X" * 81})
    assert (caught.value.reason, caught.value.code, caught.value.key) == (
        "account.address1_city (source TOWN) is 81 characters, Dataverse allows 80", "too_long", "acme-m3|C|C10001")


def test_value_at_the_limit_is_accepted(make_config: Make) -> None:
    payload = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "TOWN": "X" * 80}).account.payload
    assert payload["address1_city"] == "X" * 80


def test_too_long_value_is_truncated_with_a_note_when_configured(make_config: Make) -> None:
    mapped = map_record(make_config("m3", {"on_too_long": "truncate"}), "supplier",
                        {**M3_SUPPLIER, "SUNM": "N" * 159 + " " + "x" * 20})
    assert mapped.account.payload["name"] == "N" * 159  # cut at 160, trailing blank trimmed
    assert mapped.notes == ("account.name (source SUNM) truncated to fit 160 characters (was 180)",)


def test_length_counts_utf16_units_like_dataverse(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "PONO": "😀" * 11})  # 11 characters, 22 units
    assert caught.value.reason == "account.address1_postalcode (source PONO) is 22 characters, Dataverse allows 20"
    mapped = map_record(make_config("m3", {"on_too_long": "truncate"}), "customer", {**M3_CUSTOMER, "PONO": "😀" * 11})
    assert mapped.account.payload["address1_postalcode"] == "😀" * 10


def test_contact_last_name_longer_than_50_rejects_the_record(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "YREF": "Anna " + "L" * 51})
    assert (caught.value.reason, caught.value.code, caught.value.key) == (
        "contact yref.lastname is 51 characters, Dataverse allows 50", "too_long", "acme-m3|C|C10001")


def test_custom_column_length_comes_from_max_lengths(make_config: Make) -> None:
    config = make_config("m3", {"max_lengths": {"cssync_vatnumber": 5},
                                "supplier": {"fields": {"cssync_vatnumber": "VRNO"}}})
    payload = map_record(config, "supplier", {**M3_SUPPLIER, "VRNO": "NO123"}).account.payload
    assert payload["cssync_vatnumber"] == "NO123"
    with pytest.raises(RecordError) as caught:
        map_record(config, "supplier", {**M3_SUPPLIER, "VRNO": "NO1234"})
    assert caught.value.reason == "account.cssync_vatnumber (source VRNO) is 6 characters, Dataverse allows 5"


# --- e-mail ---------------------------------------------------------------------------------------------------------

def test_invalid_email_is_dropped_with_a_note_by_default(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "MAIL": "einkauf at contoso"})
    assert "emailaddress1" not in mapped.account.payload  # left out: Dataverse keeps its last valid value
    assert "emailaddress1" not in mapped.contacts[0].payload
    assert mapped.notes == ("account.emailaddress1 (source MAIL): invalid e-mail address left out",
                            "contact yref.emailaddress1 (source MAIL): invalid e-mail address left out")


@pytest.mark.parametrize("address", ["einkauf at contoso", "x@y", "@contoso.example", "a@b@contoso.example",
                                     "anna@contoso.", "anna@.example", "mailto:<a@contoso.example>"])
def test_malformed_email_addresses_are_invalid(make_config: Make, address: str) -> None:
    mapped = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "MAIL": address, "YREF": ""})
    assert "emailaddress1" not in mapped.account.payload
    assert mapped.notes[0] == "account.emailaddress1 (source MAIL): invalid e-mail address left out"


def test_invalid_email_rejects_the_record_when_configured(make_config: Make) -> None:
    with pytest.raises(RecordError) as caught:
        map_record(make_config("m3", {"on_invalid_email": "reject"}), "customer", {**M3_CUSTOMER, "MAIL": "x@y"})
    assert (caught.value.reason, caught.value.code) == (
        "account.emailaddress1 (source MAIL) is not a valid e-mail address", "invalid_email")


def test_list_of_email_addresses_keeps_the_first(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer",
                        {**M3_CUSTOMER, "MAIL": "einkauf@contoso.example; ap@contoso.example", "YREF": ""})
    assert mapped.account.payload["emailaddress1"] == "einkauf@contoso.example"
    assert mapped.notes == ("account.emailaddress1 (source MAIL): kept the first of 2 e-mail addresses",
                            "contact yref: no person name, contact not written")


@pytest.mark.parametrize("address", ["o'neil@contoso.example", "anna.müller@bücher.example", "a+b@x.co",
                                     "info@example.xn--p1ai"])
def test_valid_email_addresses_are_kept(make_config: Make, address: str) -> None:
    assert map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "MAIL": address}).account.payload[
        "emailaddress1"] == address


# --- countries ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "country"), [
    ("DE", "Germany"), ("de", "Germany"), ("DEU", "Germany"), ("Germany", "Germany"), ("GERMANY", "Germany"),
    ("USA", "United States"), ("US", "United States"), ("UK", "United Kingdom"), ("GB", "United Kingdom"),
    ("Deutschland", "Germany"), ("KR", "South Korea"), ("Atlantis", "Atlantis"), ("XX", "XX"),
])
def test_country_codes_and_names_map_to_english_names_and_unknown_values_pass_through(
        make_config: Make, value: str, country: str) -> None:
    payload = map_record(make_config("m3"), "customer", {**M3_CUSTOMER, "CSCD": value}).account.payload
    assert payload["address1_country"] == country


def test_country_table_is_extended_and_overridden_per_connection(make_config: Make) -> None:
    config = make_config("m3", {"countries": {"xx": "Atlantis", "DE": "Deutschland"}})
    def country(value: str) -> str:
        return map_record(config, "customer", {**M3_CUSTOMER, "CSCD": value}).account.payload["address1_country"]

    assert (country("XX"), country("de"), country("DEU")) == ("Atlantis", "Deutschland", "Germany")


def test_default_country_table_can_be_switched_off(make_config: Make) -> None:
    config = make_config("m3", {"default_countries": False, "countries": {"NO": "Norge"}})
    assert map_record(config, "customer", {**M3_CUSTOMER, "CSCD": "DE"}).account.payload["address1_country"] == "DE"
    assert map_record(config, "customer", {**M3_CUSTOMER, "CSCD": "NO"}).account.payload["address1_country"] == "Norge"


# --- sources --------------------------------------------------------------------------------------------------------

def test_join_and_first_sources(make_config: Make) -> None:
    config = make_config("m3", {"supplier": {"fields": {
        "address1_line3": {"join": ["ADR3", "ADR4"], "sep": ", "},
        "telephone1": {"first": ["PHN2", "PHNO"]},
    }}})
    payload = map_record(config, "supplier", {**M3_SUPPLIER, "ADR3": "Bygg B", "ADR4": "Postboks 5"}).account.payload
    assert payload["address1_line3"] == "Bygg B, Postboks 5"
    assert payload["telephone1"] == "+47 22 000001"
    payload = map_record(config, "supplier", {**M3_SUPPLIER, "ADR4": "Postboks 5", "PHN2": "+47 99"}).account.payload
    assert (payload["address1_line3"], payload["telephone1"]) == ("Postboks 5", "+47 99")


# --- hash -----------------------------------------------------------------------------------------------------------

def test_row_hash_is_sha256_of_canonical_json_of_key_and_payload(make_config: Make) -> None:
    mapped = map_record(make_config("m3"), "customer", M3_CUSTOMER)
    for row in mapped.rows:
        assert row.hash == _canonical_hash(row.key, row.payload)
        assert row.hash == content_hash(row.key, row.payload)


def test_hash_is_independent_of_source_field_order(make_config: Make) -> None:
    reordered = dict(reversed(list(M3_CUSTOMER.items())))
    assert map_record(make_config("m3"), "customer", reordered).rows == map_record(
        make_config("m3"), "customer", M3_CUSTOMER).rows


def test_hash_changes_when_a_mapped_value_changes_and_not_for_unmapped_fields(make_config: Make) -> None:
    config = make_config("m3")
    base = map_record(config, "customer", M3_CUSTOMER)
    unmapped = map_record(config, "customer", {**M3_CUSTOMER, "CUCD": "EUR"})
    changed = map_record(config, "customer", {**M3_CUSTOMER, "TOWN": "Potsdam"})
    assert unmapped.account.hash == base.account.hash
    assert changed.account.hash != base.account.hash
    assert changed.contacts[0].hash == base.contacts[0].hash  # the contact did not change


def test_hash_encodes_quotes_backslashes_control_and_non_ascii_characters_canonically() -> None:
    payload = {"name": 'A "B" \\ C\n\t\u2028 Ü 😀', "statecode": 0, "address1_line2": None}
    key = {"cssync_sourcekey": "acme|S|O'NEIL"}
    assert content_hash(key, payload) == _canonical_hash(key, payload)


def test_known_hash_value_stays_stable_across_releases() -> None:
    assert content_hash({"cssync_sourcekey": "acme|S|1"}, {"name": "Ä", "telephone1": None, "statecode": 0}) == (
        hashlib.sha256('{"key":{"cssync_sourcekey":"acme|S|1"},"payload":{"name":"Ä","statecode":0,'
                       '"telephone1":null}}'.encode()).hexdigest())
