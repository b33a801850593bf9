"""LN OData wire behaviour of the simulator (reference section 4)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .conftest import Api

BP = "/LN/lnapi/odata/tcapi.comBusinessPartner/"
ROLE = "tcapi.comBusinessPartner.BusinessPartnerRole"


def _get(api: Api, path: str, params: dict | None = None, headers: dict | None = None) -> dict:
    response = api.get(path, params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_select_top_count_context_and_next_link(api: Api) -> None:
    body = _get(api, BP + "BusinessPartners", {"$select": "BusinessPartner,Name", "$top": "2", "$count": "true"})
    base = f"{api.sim.url}/ACME_TST/LN/lnapi/odata/tcapi.comBusinessPartner"
    assert body["@odata.context"] == f"{base}/$metadata#BusinessPartners(BusinessPartner,Name)"
    assert body["@odata.count"] == 48  # 25 suppliers + 25 customers - 2 shared (10, 20)
    assert [(v["BusinessPartner"], v["Name"]) for v in body["value"]] == [("BP0000101", "O'Neil & Sons Ltd"),
                                                                          ("BP0000102",
                                                                           'M&M Industrial Supply "East" Inc.')]
    assert all(v["@odata.etag"].startswith('W/"') for v in body["value"])
    link = urlsplit(body["@odata.nextLink"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{base}/BusinessPartners"
    assert parse_qs(link.query)["$skip"] == ["2"] and parse_qs(link.query)["$top"] == ["2"]


def test_following_next_link_reads_every_bp_once(api: Api) -> None:
    url = api.sim.api_base + BP + "BusinessPartners?$select=BusinessPartner&$top=10"
    seen = []
    for _ in range(20):
        response = api.http.get(url, headers={"Authorization": f"Bearer {api.token or api.login()}"})
        body = response.json()
        seen.extend(v["BusinessPartner"] for v in body["value"])
        if "@odata.nextLink" not in body:
            break
        url = body["@odata.nextLink"]
    assert len(seen) == 48 and len(set(seen)) == 48


def test_next_link_can_be_switched_off_and_skip_paging_stops_on_short_page(fapi: Api) -> None:
    fapi.sim.settings.ln_next_link = False
    seen, skip = [], 0
    while True:
        body = _get(fapi, BP + "SoldtoBusinessPartners", {"$top": "5", "$skip": str(skip)})
        assert "@odata.nextLink" not in body
        seen.extend(v["SoldtoBusinessPartner"] for v in body["value"])
        if len(body["value"]) < 5:
            break
        skip += 5
    assert seen == fapi.sim.keys("ln", "customer")


def test_shared_companies_are_one_bp_with_role_customer_and_supplier(api: Api) -> None:
    body = _get(api, BP + "BusinessPartners", {"$filter": f"BusinessPartnerRole eq {ROLE}'CustomerAndSupplier'",
                                               "$select": "BusinessPartner,BusinessPartnerRole"})
    assert [v["BusinessPartner"] for v in body["value"]] == ["BP0000110", "BP0000120"]
    assert "BP0000110" in api.sim.keys("ln", "supplier") and "BP0000110" in api.sim.keys("ln", "customer")


def test_status_filter_with_enum_literal_and_and(api: Api) -> None:
    body = _get(api, BP + "BusinessPartners", {
        "$filter": "BusinessPartnerStatus eq tcapi.comBusinessPartner.BusinessPartnerStatus'Active' and "
                   f"BusinessPartnerRole eq {ROLE}'Supplier'", "$select": "BusinessPartnerStatus,BusinessPartnerRole"})
    assert body["value"] and all(v["BusinessPartnerStatus"] == "Active" and v["BusinessPartnerRole"] == "Supplier"
                                 for v in body["value"])


def test_bad_filter_property_is_400_odata_error(api: Api) -> None:
    response = api.get(BP + "BusinessPartners", {"$filter": "LastModificationDate gt 2024-05-01T00:00:00Z"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == ("Could not find a property named 'LastModificationDate' on type "
                                "'tcapi.comBusinessPartner.BusinessPartner_'.")
    assert error["details"][0]["message"] == error["message"]


def test_unknown_entity_set_is_404_odata_error(api: Api) -> None:
    response = api.get(BP + "Partners")
    assert response.status_code == 404 and "error" in response.json()


def test_expand_address_ref_and_addresses_by_code(api: Api) -> None:
    body = _get(api, BP + "BuyfromBusinessPartners", {"$top": "1", "$expand": "AddressRef"})
    row = body["value"][0]
    code = row["AddressCode"]
    assert row["AddressRef"]["AddressCode"] == code
    address = _get(api, BP + "Addresses", {"$filter": f"AddressCode eq '{code}'"})["value"]
    assert [{k: v for k, v in a.items() if k != "@odata.etag"} for a in address] == [row["AddressRef"]]
    assert set(row["AddressRef"]) == {"AddressCode", "Name", "Street", "HouseNumber", "City", "CityDescription",
                                      "StateProvince", "ZIPCodePostalCode", "Country"}


def test_contacts_service_lists_contacts_of_a_bp(api: Api) -> None:
    body = _get(api, "/LN/lnapi/odata/tcapi.comContact/Contacts", {"$filter": "BusinessPartner eq 'BP0000101'"})
    assert body["value"] and all(c["BusinessPartner"] == "BP0000101" and "@" in c["Email"] for c in body["value"])


def test_metadata_is_csdl_json_with_enum_types(api: Api) -> None:
    body = _get(api, BP + "$metadata")
    assert body["$Version"] == "4.01"
    schema = body["tcapi.comBusinessPartner"]
    assert schema["BusinessPartnerRole"]["CustomerAndSupplier"] == 4
    assert schema["BusinessPartner_"]["$Key"] == ["BusinessPartner"]


def test_company_header_selects_a_different_data_set(api: Api) -> None:
    first = _get(api, BP + "BusinessPartners", {"$top": "6", "$select": "Name"})
    other = _get(api, BP + "BusinessPartners", {"$top": "6", "$select": "Name"}, headers={"X-Infor-LnCompany": "2000"})
    assert first["value"] != other["value"]
    unknown = api.get(BP + "BusinessPartners", headers={"X-Infor-LnCompany": "9999"})
    assert unknown.status_code == 400 and "error" in unknown.json()


def test_transient_oauth_u14_401_then_success(fapi: Api) -> None:
    fapi.sim.settings.ln_transient_401 = 1
    first = fapi.get(BP + "BusinessPartners", {"$top": "1"})
    assert (first.status_code, first.text) == (401, "OAuth [U14]: unknown oauth_consumer_key")
    assert fapi.get(BP + "BusinessPartners", {"$top": "1"}).status_code == 200


def test_changes_deactivation_and_deletes_have_no_stamp(fapi: Api) -> None:
    sim = fapi.sim
    before = sim.records("ln", "supplier")[0]
    sim.change_record("ln", "supplier", "BP0000101", Name="Renamed Ltd", City="YORK")
    sim.deactivate("ln", "supplier", "BP0000102")
    after = _get(fapi, BP + "BusinessPartners('BP0000101')", {"$expand": "AddressRef"})
    assert after["Name"] == "Renamed Ltd" and after["AddressRef"]["City"] == "YORK"
    assert after["@odata.etag"] != before.get("@odata.etag")
    assert _get(fapi, BP + "BusinessPartners('BP0000102')")["BusinessPartnerStatus"] == "Inactive"
    key = sim.add_record("ln", "customer", Name="Neue Kunde GmbH")
    assert key in sim.keys("ln", "customer")
    sim.delete("ln", "customer", key)
    assert fapi.get(BP + f"BusinessPartners('{key}')").status_code == 404


def test_deleting_one_role_of_a_shared_bp_keeps_the_other(fapi: Api) -> None:
    fapi.sim.delete("ln", "customer", "BP0000110")
    body = _get(fapi, BP + "BusinessPartners('BP0000110')")
    assert body["BusinessPartnerRole"] == "Supplier"


def test_records_helper_joins_role_and_bp(api: Api) -> None:
    record = api.sim.records("ln", "supplier")[0]
    assert record["BuyfromBusinessPartner"] == record["BusinessPartner"] == "BP0000101"
    assert record["BusinessPartnerRole"] == "Supplier"


def test_post_is_405(api: Api) -> None:
    assert api.raw("POST", BP + "BusinessPartners", json={}).status_code == 405


def test_orderby_desc_with_skip_paging(api: Api) -> None:
    body = _get(api, BP + "SoldtoBusinessPartners", {"$orderby": "SoldtoBusinessPartner desc", "$top": "3",
                                                     "$select": "SoldtoBusinessPartner"})
    assert [v["SoldtoBusinessPartner"] for v in body["value"]] == api.sim.keys("ln", "customer")[::-1][:3]


def test_expand_contact_ref_gives_the_primary_contact(api: Api) -> None:
    bp = _get(api, BP + "BusinessPartners('BP0000103')", {"$expand": "ContactRef($select=Contact,Email)"})
    assert bp["ContactRef"]["Contact"] == bp["PrimaryContact"] and "@" in bp["ContactRef"]["Email"]


def test_unknown_query_option_and_bad_top_are_400(api: Api) -> None:
    assert api.get(BP + "BusinessPartners", {"$search": "x"}).status_code == 400
    assert api.get(BP + "BusinessPartners", {"$top": "-1"}).status_code == 400


def test_filtered_paging_sees_changes_made_between_pages(fapi: Api) -> None:
    query = {"$filter": "BusinessPartnerStatus eq tcapi.comBusinessPartner.BusinessPartnerStatus'Inactive'",
             "$select": "BusinessPartner", "$count": "true", "$top": "2"}
    before = _get(fapi, BP + "BusinessPartners", query)["@odata.count"]
    fapi.sim.deactivate("ln", "customer", fapi.sim.keys("ln", "customer")[-1])
    assert _get(fapi, BP + "BusinessPartners", query)["@odata.count"] == before + 1
