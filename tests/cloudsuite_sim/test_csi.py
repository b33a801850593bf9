"""CSI Mongoose IDO REST v2 wire behaviour of the simulator (reference section 3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from localdev.cloudsuite import CloudSuiteSimulator

from .conftest import Api

LOAD = "/CSI/IDORequestService/ido/load/"
CONFIG = {"X-Infor-MongooseConfig": "ACME_TST_DALS"}
FAILURE = {"Items": None, "Bookmark": None, "MoreRowsExist": False, "Success": False}


def _load(api: Api, ido: str, params: dict, headers: dict | None = None) -> dict:
    response = api.get(LOAD + ido, params, headers=CONFIG if headers is None else headers)
    assert response.status_code == 200, response.text
    return response.json()


def _page_all(api: Api, ido: str, params: dict) -> tuple[list[dict], list[dict]]:
    """Every item plus each page's body, following NEXT + bookmark until MoreRowsExist is false."""
    items, bodies, bookmark = [], [], None
    for _ in range(100):
        query = {**params, "loadtype": "NEXT", **({"bookmark": bookmark} if bookmark else {})}
        body = _load(api, ido, query)
        bodies.append(body)
        items.extend(body["Items"])
        if not body["MoreRowsExist"]:
            return items, bodies
        bookmark = body["Bookmark"]
    raise AssertionError("paging did not end")


def test_keys_are_right_justified_with_leading_blanks(api: Api) -> None:
    body = _load(api, "SLVendors", {"properties": "VendNum,Name", "recordcap": "2"})
    assert [i["VendNum"] for i in body["Items"]] == ["  V1001", "  V1002"]
    assert body["Items"][0]["Name"] == "O'Neil & Sons Ltd"
    assert api.sim.keys("csi", "supplier")[:2] == ["V1001", "V1002"]


def test_first_page_envelope_and_bookmark_format(api: Api) -> None:
    body = _load(api, "SLVendors", {"properties": "VendNum", "recordcap": "3", "readonly": "true"})
    assert body == {"Items": [{"VendNum": "  V1001"}, {"VendNum": "  V1002"}, {"VendNum": "  V1003"}],
                    "Bookmark": "<B><P><p>VendNum</p></P><D><f>false</f></D><F><v>  V1001</v></F>"
                                "<L><v>  V1003</v></L></B>",
                    "MoreRowsExist": True, "Success": True, "Message": None}


def test_item_id_unless_readonly(api: Api) -> None:
    item = _load(api, "SLVendors", {"properties": "VendNum,RecordDate", "recordcap": "1"})["Items"][0]
    stamp = item["RecordDate"]
    dashed = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}{stamp[8:]}"
    assert item["_ItemId"].startswith(f"PBT=[vendor] ven.DT=[{dashed}] ven.ID=[")


def test_paging_with_next_and_bookmark_returns_every_row_once_and_ends_with_an_empty_page(api: Api) -> None:
    items, bodies = _page_all(api, "SLVendors", {"properties": "VendNum", "recordcap": "5", "readonly": "true"})
    assert [i["VendNum"].strip() for i in items] == api.sim.keys("csi", "supplier")
    assert [len(b["Items"]) for b in bodies] == [5, 5, 5, 5, 5, 0]  # 25 rows: exact multiple
    assert [b["MoreRowsExist"] for b in bodies] == [True, True, True, True, True, False]


def test_short_last_page_says_no_more_rows(api: Api) -> None:
    _, bodies = _page_all(api, "SLCustomers", {"properties": "CustNum", "recordcap": "10"})
    assert [len(b["Items"]) for b in bodies] == [10, 10, 5]


def test_recordcap_omitted_or_minus_one_is_200_and_zero_is_all() -> None:
    with CloudSuiteSimulator(suppliers=230, customers=1, products=("csi",)) as sim:
        api = Api(sim)
        assert len(_load(api, "SLVendors", {"properties": "VendNum"})["Items"]) == 200
        assert len(_load(api, "SLVendors", {"properties": "VendNum", "recordcap": "-1"})["Items"]) == 200
        everything = _load(api, "SLVendors", {"properties": "VendNum", "recordcap": "0"})
        assert len(everything["Items"]) == 230 and everything["MoreRowsExist"] is False


def test_parameter_names_are_case_insensitive(api: Api) -> None:
    lower = _load(api, "SLVendors", {"properties": "VendNum", "recordcap": "2", "orderby": "VendNum DESC"})
    mixed = _load(api, "SLVendors", {"Properties": "VendNum", "recordCap": "2", "orderBy": "VendNum DESC"})
    assert lower["Items"] == mixed["Items"]
    assert [i["VendNum"] for i in lower["Items"]] == ["  V1025", "  V1024"]


def test_orderby_desc_paging_follows_the_bookmark(api: Api) -> None:
    items, _ = _page_all(api, "SLCustomers", {"properties": "CustNum,RecordDate", "orderby": "RecordDate DESC",
                                               "recordcap": "4"})
    stamps = [i["RecordDate"] for i in items]
    assert stamps == sorted(stamps, reverse=True) and len(items) == 25


def test_properties_star_or_blank_return_all_properties(api: Api) -> None:
    star = _load(api, "SLCustomers", {"properties": "*", "recordcap": "1"})["Items"][0]
    blank = _load(api, "SLCustomers", {"recordcap": "1"})["Items"][0]
    assert star == blank and {"CustNum", "CustSeq", "AdrRecordDate", "Country", "_ItemId"} <= set(star)
    assert star["CustSeq"] == "0"


def test_unknown_property_is_success_false_inside_200(api: Api) -> None:
    body = _load(api, "SLVendors", {"properties": "VendNum,VendorEmail"})
    assert body == {**FAILURE, "Message": "Property 'VendorEmail' not found in IDO 'SLVendors'."}


def test_double_quoted_literal_is_illegal_filter_exception(api: Api) -> None:
    body = _load(api, "SLVendors", {"properties": "VendNum", "filter": 'Name = "Nordvik Fasteners AS"'})
    assert body["Success"] is False and body["Items"] is None
    assert "IllegalFilterException" in body["Message"]


def test_disallowed_function_is_illegal_filter_exception(api: Api) -> None:
    body = _load(api, "SLVendors", {"properties": "VendNum", "filter": "UPPER(Name) = 'X'"})
    assert body["Success"] is False and "IllegalFilterException" in body["Message"]


def test_filter_single_quotes_with_escaped_apostrophe_and_padded_key(api: Api) -> None:
    body = _load(api, "SLVendors", {"properties": "VendNum", "filter": "Name = 'O''Neil & Sons Ltd'"})
    assert [i["VendNum"] for i in body["Items"]] == ["  V1001"]
    padded = _load(api, "SLVendors", {"properties": "VendNum", "filter": "VendNum = '  V1002'"})
    assert [i["VendNum"] for i in padded["Items"]] == ["  V1002"]
    stripped = _load(api, "SLVendors", {"properties": "VendNum", "filter": "VendNum = 'V1002'"})
    assert stripped["Items"] == []
    like = _load(api, "SLVendors", {"properties": "VendNum", "filter": "VendNum LIKE N'%V1002'"})
    assert [i["VendNum"] for i in like["Items"]] == ["  V1002"]


def test_missing_mongoose_config_header_is_success_false(api: Api) -> None:
    body = _load(api, "SLVendors", {"properties": "VendNum"}, headers={})
    assert body["Success"] is False and "X-Infor-MongooseConfig" in body["Message"]
    other = _load(api, "SLVendors", {"properties": "VendNum"}, headers={"X-Infor-MongooseConfig": "NOPE"})
    assert other == {**FAILURE, "Message": "Configuration 'NOPE' does not exist."}


def test_configurations_probe_lists_the_configurations(api: Api) -> None:
    response = api.get("/CSI/IDORequestService/ido/configurations")
    assert (response.status_code, response.json()) == (200, ["ACME_TST_DALS"])


def test_record_date_is_site_local_and_changes_are_found_by_filter(fapi: Api) -> None:
    sim = fapi.sim
    site_now = sim.server_time("csi")
    expected = datetime.now(tz=ZoneInfo("America/New_York")).replace(tzinfo=None)
    assert abs((site_now - expected).total_seconds()) < 60
    since = site_now.strftime("%Y-%m-%d %H:%M:%S")
    sim.advance_clock(2)
    sim.change_record("csi", "supplier", "V1004", Name="Changed Vendor AB")
    body = _load(fapi, "SLVendors", {"properties": "VendNum,Name,RecordDate", "filter": f"RecordDate >= '{since}'"})
    assert [(i["VendNum"], i["Name"]) for i in body["Items"]] == [("  V1004", "Changed Vendor AB")]
    stamp = datetime.strptime(body["Items"][0]["RecordDate"], "%Y%m%d %H:%M:%S.%f")
    assert timedelta(seconds=1) < stamp - site_now < timedelta(seconds=30)


def test_customer_address_only_change_bumps_adr_record_date_only(fapi: Api) -> None:
    sim = fapi.sim
    since = sim.server_time("csi").strftime("%Y%m%d %H:%M:%S")
    sim.advance_clock(2)
    sim.change_record("csi", "customer", "C1003", City="Trondheim")
    by_record = _load(fapi, "SLCustomers", {"properties": "CustNum", "filter": f"RecordDate >= '{since}'"})
    assert by_record["Items"] == []
    either = _load(fapi, "SLCustomers", {"properties": "CustNum,City",
                                         "filter": f"RecordDate >= '{since}' OR AdrRecordDate >= '{since}'"})
    assert either["Items"] == [{"CustNum": "  C1003", "City": "Trondheim", "_ItemId": either["Items"][0]["_ItemId"]}]


def test_filter_and_with_paging_and_dateadd(fapi: Api) -> None:
    sim = fapi.sim
    sim.advance_clock(3600)
    for key in ("V1002", "V1005", "V1009"):
        sim.change_record("csi", "supplier", key, Phone="+1 555 0100")
    items, _ = _page_all(fapi, "SLVendors", {"properties": "VendNum", "recordcap": "2", "readonly": "true",
                                             "filter": "RecordDate >= DATEADD(minute, -5, GETDATE()) AND "
                                                       "Phone = '+1 555 0100'"})
    assert [i["VendNum"] for i in items] == ["  V1002", "  V1005", "  V1009"]


def test_deactivate_add_delete(fapi: Api) -> None:
    sim = fapi.sim
    sim.deactivate("csi", "supplier", "V1001")
    assert _load(fapi, "SLVendors", {"properties": "Stat", "filter": "VendNum = '  V1001'"})["Items"][0]["Stat"] == "I"
    key = sim.add_record("csi", "customer", Name="Nouveau Client SARL")
    assert key == "C1013"
    sim.delete("csi", "customer", "C1002")
    keys = sim.keys("csi", "customer")
    assert "C1013" in keys and "C1002" not in keys
    body = _load(fapi, "SLCustomers", {"properties": "Name", "filter": "CustNum = '  C1013'"})
    assert body["Items"][0]["Name"] == "Nouveau Client SARL"


def test_boundary_repeat_switch_repeats_the_bookmark_row(fapi: Api) -> None:
    fapi.sim.settings.csi_next_repeats_boundary = True
    first = _load(fapi, "SLVendors", {"properties": "VendNum", "recordcap": "2", "readonly": "true"})
    second = _load(fapi, "SLVendors", {"properties": "VendNum", "recordcap": "2", "readonly": "true",
                                       "loadtype": "NEXT", "bookmark": first["Bookmark"]})
    assert [i["VendNum"] for i in second["Items"]] == ["  V1002", "  V1003"]


def test_records_helper_matches_the_wire(api: Api) -> None:
    body = _load(api, "SLCustomers", {"recordcap": "0"})
    assert body["Items"] == api.sim.records("csi", "customer")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_wrong_method_on_load_is_405(api: Api, method: str) -> None:
    assert api.raw(method, LOAD + "SLVendors", headers=CONFIG).status_code == 405


def test_next_page_continues_after_a_deleted_bookmark_row(fapi: Api) -> None:
    first = _load(fapi, "SLVendors", {"properties": "VendNum", "recordcap": "3", "readonly": "true"})
    fapi.sim.delete("csi", "supplier", "V1003")  # the bookmark's last row
    fapi.sim.add_record("csi", "supplier", VendNum="V1000")  # sorts before the bookmark: not seen
    second = _load(fapi, "SLVendors", {"properties": "VendNum", "recordcap": "3", "readonly": "true",
                                       "loadtype": "NEXT", "bookmark": first["Bookmark"]})
    assert [i["VendNum"] for i in second["Items"]] == ["  V1004", "  V1005", "  V1006"]


def test_prev_and_last_load_types(api: Api) -> None:
    last = _load(api, "SLVendors", {"properties": "VendNum", "recordcap": "2", "readonly": "true",
                                    "loadtype": "LAST"})
    assert [i["VendNum"] for i in last["Items"]] == ["  V1024", "  V1025"]
    prev = _load(api, "SLVendors", {"properties": "VendNum", "recordcap": "2", "readonly": "true",
                                    "loadtype": "PREV", "bookmark": last["Bookmark"]})
    assert [i["VendNum"] for i in prev["Items"]] == ["  V1022", "  V1023"]


def test_ship_to_rows_when_enabled() -> None:
    with CloudSuiteSimulator(suppliers=1, customers=6, products=("csi",), csi_ship_to_every=3) as sim:
        api = Api(sim)
        body = _load(api, "SLCustomers", {"properties": "CustNum,CustSeq", "readonly": "true", "recordcap": "0"})
        assert [(i["CustNum"], i["CustSeq"]) for i in body["Items"]] == [
            ("  C1001", "0"), ("  C1002", "0"), ("  C1003", "0"), ("  C1003", "1"), ("  C1004", "0"),
            ("  C1005", "0"), ("  C1006", "0"), ("  C1006", "1")]
        main_only = _load(api, "SLCustomers", {"properties": "CustNum", "readonly": "true", "filter": "CustSeq = 0"})
        assert len(main_only["Items"]) == 6


def test_invalid_bookmark_and_bad_date_literal_are_success_false(api: Api) -> None:
    body = _load(api, "SLVendors", {"properties": "VendNum", "loadtype": "NEXT", "bookmark": "<nonsense/>"})
    assert body == {**FAILURE, "Message": "Invalid bookmark."}
    bad_date = _load(api, "SLVendors", {"properties": "VendNum", "filter": "RecordDate >= 'yesterday'"})
    assert bad_date["Success"] is False and "Conversion failed" in bad_date["Message"]
    unknown_column = _load(api, "SLVendors", {"properties": "VendNum", "filter": "Nope = 'x'"})
    assert unknown_column == {**FAILURE, "Message": "Invalid column name 'Nope'."}


def test_lookahead_switch_ends_an_exact_multiple_without_the_empty_page(fapi: Api) -> None:
    fapi.sim.settings.csi_more_rows_lookahead = True
    _, bodies = _page_all(fapi, "SLVendors", {"properties": "VendNum", "recordcap": "4", "readonly": "true"})
    assert [(len(b["Items"]), b["MoreRowsExist"]) for b in bodies] == [(4, True), (4, True), (4, False)]
