"""Unit tests: response-body parsing per product, including shapes the simulator does not emit."""

from __future__ import annotations

import pytest

from shared.cloudsuite.csi import ido_items
from shared.cloudsuite.errors import IDOError, LandmarkError, MIError, ODataError
from shared.cloudsuite.fsm import landmark_records
from shared.cloudsuite.ln import odata_rows
from shared.cloudsuite.m3 import mi_records
from shared.cloudsuite.page import clean_record


def test_m3_records_tolerate_missing_keys() -> None:
    assert mi_records({"results": [{"records": [{"SUNO": "S1"}]}]}, "t") == [{"SUNO": "S1"}]
    assert mi_records({"results": [{"transaction": "LstByNumber"}]}, "t") == []
    assert mi_records({}, "t") == []


def test_m3_error_fields_are_trimmed_and_kept() -> None:
    body = {"results": [{"transaction": "GetBasicData", "errorMessage": "Supplier number S99999 does not exist  ",
                         "errorType": "ServerReturnedNOK", "errorCode": "WSU0203", "errorField": "SUNO      ",
                         "records": []}], "nrOfFailedTransactions": 1}
    with pytest.raises(MIError) as info:
        mi_records(body, "M3 CRS620MI/GetBasicData")
    assert (info.value.code, info.value.field, info.value.error_type) == ("WSU0203", "SUNO", "ServerReturnedNOK")
    assert str(info.value) == ("M3 CRS620MI/GetBasicData: Supplier number S99999 does not exist "
                               "(errorCode WSU0203, errorField SUNO, ServerReturnedNOK)")


def test_m3_terminated_run_without_error_message_is_an_mi_error() -> None:
    with pytest.raises(MIError, match="Timeout"):
        mi_records({"results": [], "wasTerminated": True, "terminationReason": "Timeout"}, "t")


PROPS = ("CustNum", "Name", "City")


@pytest.mark.parametrize("items", [
    [{"CustNum": "  C1001", "Name": "Acme ", "City": None, "_ItemId": "PBT=[customer]"}],  # v2 objects
    [["  C1001", "Acme ", None]],  # v1 positional rows
    [[{"Name": "CustNum", "Value": "  C1001"}, {"Name": "Name", "Value": "Acme "},
      {"Name": "City", "Value": None}]],  # Name/Value pairs
])
def test_csi_item_shapes_normalise_to_the_same_record(items: list) -> None:
    assert ido_items({"Items": items, "Success": True}, PROPS, "t") == [
        {"CustNum": "C1001", "Name": "Acme", "City": None}]


def test_csi_items_null_or_success_false_raise_with_the_message() -> None:
    with pytest.raises(IDOError, match="Property 'VendorEmail' not found"):
        ido_items({"Items": None, "Success": False, "Message": "Property 'VendorEmail' not found in IDO."}, PROPS, "t")
    with pytest.raises(IDOError, match="no Items"):
        ido_items({"Items": None}, PROPS, "t")


def test_ln_rows_next_link_and_error() -> None:
    rows, link = odata_rows({"value": [{"BusinessPartner": "BP1"}], "@odata.nextLink": "https://x/y"}, "t")
    assert (rows, link) == ([{"BusinessPartner": "BP1"}], "https://x/y")
    with pytest.raises(ODataError, match="Bad filter"):
        odata_rows({"error": {"code": "400", "message": "Bad filter"}}, "t")


def test_fsm_both_list_shapes_and_filter_error() -> None:
    array = [{"_count": 1}, {"_fields": {"Vendor": "100045 ", "VendorName": "Nordvik"}}]
    assert landmark_records(array, "t") == [{"Vendor": "100045", "VendorName": "Nordvik"}]
    assert landmark_records({"_count": 1, "_records": [{"_fields": {"Vendor": "1"}}]}, "t") == [{"Vendor": "1"}]
    with pytest.raises(LandmarkError, match="ConditionNode tree failed"):
        landmark_records({"message": "ConditionNode tree failed to build"}, "t")


def test_clean_record_flattens_expanded_objects_and_drops_annotations() -> None:
    raw = {"@odata.etag": "W/x", "BusinessPartner": " BP1 ", "AddressRef": {"City": " Oslo", "Zip": None},
           "Active": True}
    assert clean_record(raw) == {"BusinessPartner": "BP1", "AddressRef.City": "Oslo", "AddressRef.Zip": None,
                                 "Active": True}
