"""FSM Landmark list wire behaviour of the simulator (reference section 5)."""

from __future__ import annotations

from urllib.parse import quote

import requests

from .conftest import Api

VENDORS = "/FSM/fsm/soap/classes/Vendor/lists/_generic"


def _get(api: Api, path: str, query: str) -> requests.Response:
    """Send the query string exactly as given (spaces must be %20 for Landmark, never '+')."""
    if not api.token:
        api.login()
    return api.http.get(f"{api.sim.api_base}{path}?{query}", headers={"Authorization": f"Bearer {api.token}"})


def test_array_response_with_metadata_first_and_dotted_fields(api: Api) -> None:
    response = _get(api, VENDORS, "_fields=Vendor,VendorName,CurrentAddressRel.PostalAddress.Municipality"
                                  "&_limit=2&_offset=0&_links=false&_pageNav=true&_out=JSON")
    body = response.json()
    assert response.status_code == 200 and isinstance(body, list)
    meta, first, second = body
    assert meta["_count"] == 25
    assert meta["_links"][0]["rel"] == "next" and "_offset=2" in meta["_links"][0]["href"]
    town = "CurrentAddressRel.PostalAddress.Municipality"
    expected_town = api.sim.records("fsm", "supplier")[0][town]
    assert first == {"_fields": {"Vendor": "100001", "VendorName": "O'Neil & Sons Ltd", town: expected_town}}
    assert second["_fields"]["Vendor"] == "100002"


def test_offset_paging_with_exact_multiple_ends_with_an_empty_page(api: Api) -> None:
    sizes, seen, offset = [], [], 0
    while True:
        body = _get(api, VENDORS, f"_fields=Vendor&_limit=5&_offset={offset}").json()
        page = [r["_fields"]["Vendor"] for r in body[1:]]
        sizes.append(len(page))
        seen.extend(page)
        if len(page) < 5:
            break
        offset += 5
    assert sizes == [5, 5, 5, 5, 5, 0]
    assert seen == api.sim.keys("fsm", "supplier")


def test_empty_page_is_only_the_metadata_element(api: Api) -> None:
    assert _get(api, VENDORS, "_fields=Vendor&_limit=5&_offset=25").json() == [{"_count": 25, "_links": []}]


def test_lpl_filter_with_double_quotes_and_percent_20(api: Api) -> None:
    expr = quote('VendorName = "O\'Neil & Sons Ltd" or Vendor like "10000*"', safe="")
    body = _get(api, VENDORS, f"_fields=Vendor&_limit=50&_lplFilter={expr}").json()
    assert [r["_fields"]["Vendor"] for r in body[1:]] == [f"10000{i}" for i in range(1, 10)]


def test_plus_in_lpl_filter_is_not_a_space_and_fails_with_condition_node_tree(api: Api) -> None:
    response = _get(api, VENDORS, '_fields=Vendor&_lplFilter=Vendor+=+"100001"')
    assert response.status_code == 400
    assert "ConditionNode tree failed" in response.json()["message"]


def test_unknown_field_in_filter_is_condition_node_tree_failed(api: Api) -> None:
    response = _get(api, VENDORS, "_fields=Vendor&_lplFilter=" + quote('UpdateStamp > "2024-01-01"', safe=""))
    assert response.status_code == 400 and "ConditionNode tree failed" in response.text


def test_named_lists_and_customer_class(api: Api) -> None:
    body = _get(api, "/FSM/fsm/soap/classes/Customer/lists/PrimaryCustomerList", "_limit=1").json()
    assert set(body[1]["_fields"]) == {"FinanceEnterpriseGroup", "Customer", "CustomerName"}
    assert body[1]["_fields"]["Customer"] == "500001"
    vendors = _get(api, "/FSM/fsm/soap/classes/Vendor/lists/PrimaryVendorList", "_fields=Vendor&_limit=100000")
    assert len(vendors.json()) == 26
    wrong = _get(api, "/FSM/fsm/soap/classes/Vendor/lists/PrimaryCustomerList", "_limit=1")
    assert wrong.status_code == 404


def test_unknown_field_in_fields_is_400(api: Api) -> None:
    assert _get(api, VENDORS, "_fields=Vendor,Nope").status_code == 400


def test_changes_are_visible_without_any_stamp(fapi: Api) -> None:
    sim = fapi.sim
    sim.change_record("fsm", "supplier", "100003", VendorName="Nordvik Festemidler AS")
    sim.deactivate("fsm", "customer", "500002")
    vendor = _get(fapi, VENDORS, "_fields=VendorName&_filter=Vendor::100003").json()
    assert vendor[1:] == [{"_fields": {"VendorName": "Nordvik Festemidler AS"}}]
    customer = _get(fapi, "/FSM/fsm/soap/classes/Customer/lists/_generic",
                    "_fields=Status&_lplFilter=" + quote('Customer = "500002"', safe="")).json()
    assert customer[1:] == [{"_fields": {"Status": "Inactive"}}]
    key = sim.add_record("fsm", "supplier", VendorName="Ny Leverandør AS")
    sim.delete("fsm", "supplier", "100001")
    assert key == "100013" and key in sim.keys("fsm", "supplier") and "100001" not in sim.keys("fsm", "supplier")


def test_omit_count_value_drops_count(api: Api) -> None:
    body = _get(api, VENDORS, "_fields=Vendor&_limit=1&_omitCountValue=true").json()
    assert "_count" not in body[0] and len(body) == 2


def test_filtered_results_follow_changes(fapi: Api) -> None:
    query = "_fields=Vendor&_lplFilter=" + quote('VendorName = "Moved AS"', safe="")
    assert _get(fapi, VENDORS, query).json() == [{"_count": 0, "_links": []}]
    fapi.sim.change_record("fsm", "supplier", "100004", VendorName="Moved AS")
    assert _get(fapi, VENDORS, query).json()[1:] == [{"_fields": {"Vendor": "100004"}}]
