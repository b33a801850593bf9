"""M3 MI REST v2 wire behaviour of the simulator (reference section 2)."""

from __future__ import annotations

import pytest

from localdev.cloudsuite import CloudSuiteSimulator

from .conftest import Api

ENVELOPE_OK = {"wasTerminated": False, "nrOfSuccessfullTransactions": 1, "nrOfNotProcessedTransactions": 0,
               "nrOfFailedTransactions": 0}


def _records(body: dict) -> list[dict]:
    return body["results"][0]["records"]


def test_lst_by_number_envelope_and_first_records(api: Api) -> None:
    body = api.m3("CRS620MI", "LstByNumber", {"SUNO": " ", "maxrecs": "3", "returncols": "SUNO,SUNM"})
    assert {k: body[k] for k in ENVELOPE_OK} == ENVELOPE_OK
    assert body["results"][0]["transaction"] == "LstByNumber"
    assert _records(body) == [{"SUNO": "S100001", "SUNM": "O'Neil & Sons Ltd"},
                              {"SUNO": "S100002", "SUNM": "M&M Industrial Supply \"East\" Inc."},
                              {"SUNO": "S100003", "SUNM": "Nordvik Fasteners AS"}]


def test_all_output_values_are_strings(api: Api) -> None:
    for record in _records(api.m3("CRS620MI", "LstByNumber", {"SUNO": " ", "maxrecs": "5"})):
        assert all(isinstance(v, str) for v in record.values())
        assert record["STAT"] in ("20", "90") and record["CONO"] == "100"


def test_maxrecs_defaults_to_100_and_zero_means_unlimited() -> None:
    with CloudSuiteSimulator(suppliers=150, customers=1, products=("m3",)) as sim:
        api = Api(sim)
        assert len(_records(api.m3("CRS620MI", "LstByNumber", {"SUNO": " "}))) == 100
        assert len(_records(api.m3("CRS620MI", "LstByNumber", {"SUNO": " ", "maxrecs": "0"}))) == 150


def test_matrix_params_work_like_query_params(api: Api) -> None:
    body = api.m3("CRS620MI", "LstByNumber", {"SUNO": "S100010"}, matrix=";maxrecs=2;returncols=SUNO,STAT")
    assert [r["SUNO"] for r in _records(body)] == ["S100010", "S100011"]
    assert set(_records(body)[0]) == {"SUNO", "STAT"}


def test_start_key_is_inclusive_and_paging_by_last_key_repeats_the_boundary(api: Api) -> None:
    keys = api.sim.keys("m3", "supplier")
    seen, start, pages = [], " ", 0
    while True:
        page = [r["SUNO"] for r in _records(api.m3("CRS620MI", "LstByNumber",
                                                   {"SUNO": start, "maxrecs": "10", "returncols": "SUNO"}))]
        pages += 1
        if seen and page and page[0] == seen[-1]:
            page = page[1:]
        seen.extend(page)
        if len(page) < 9:
            break
        start = seen[-1]
    assert seen == keys and pages == 3


def test_last_page_exactly_maxrecs_long_then_a_page_with_only_the_boundary_row(api: Api) -> None:
    keys = api.sim.keys("m3", "supplier")
    body = api.m3("CRS620MI", "LstByNumber", {"SUNO": keys[-5], "maxrecs": "5", "returncols": "SUNO"})
    assert [r["SUNO"] for r in _records(body)] == keys[-5:]
    body = api.m3("CRS620MI", "LstByNumber", {"SUNO": keys[-1], "maxrecs": "5", "returncols": "SUNO"})
    assert _records(body) == [{"SUNO": keys[-1]}]


def test_list_past_the_last_key_is_success_with_no_records(api: Api) -> None:
    body = api.m3("CRS620MI", "LstByNumber", {"SUNO": "ZZZ"})
    assert _records(body) == [] and body["nrOfFailedTransactions"] == 0


def test_get_basic_data_on_missing_key_is_mi_error_inside_200(api: Api) -> None:
    body = api.m3("CRS620MI", "GetBasicData", {"SUNO": "S999999"})
    assert body["nrOfFailedTransactions"] == 1 and body["nrOfSuccessfullTransactions"] == 0
    assert body["results"][0] == {"transaction": "GetBasicData",
                                  "errorMessage": "Supplier number S999999 does not exist",
                                  "errorType": "ServerReturnedNOK", "errorCode": "WSU0203", "errorField": "SUNO",
                                  "errorCfg": "", "records": []}


def test_missing_mandatory_input_is_mandatory_input_field_not_found(api: Api) -> None:
    result = api.m3("CRS620MI", "LstByNumber")["results"][0]
    assert (result["errorType"], result["errorField"]) == ("MandatoryInputFieldNotFound", "SUNO")


def test_too_long_input_is_input_field_too_long(api: Api) -> None:
    result = api.m3("CRS620MI", "GetBasicData", {"SUNO": "S" * 11})["results"][0]
    assert (result["errorType"], result["errorField"], result["errorCode"]) == ("InputFieldTooLong", "SUNO",
                                                                                "XFL0001")


def test_unknown_transaction_is_bare_400(api: Api) -> None:
    response = api.get("/M3/m3api-rest/v2/execute/CRS620MI/LstEverything")
    assert response.status_code == 400 and response.content == b""


def test_get_server_time_is_consistent_with_sim_clock(api: Api) -> None:
    before = api.sim.server_time("m3")
    record = _records(api.m3("CRS620MI", "GetServerTime"))[0]
    after = api.sim.server_time("m3")
    assert before <= int(record["LMTS"]) <= after
    assert len(record["LMTS"]) == 13 and len(record["DATE"]) == 8 and len(record["TIME"]) == 6


def test_customer_lmts_filter_is_strictly_greater_by_default(fapi: Api) -> None:
    sim = fapi.sim
    stamp = sim.server_time("m3")
    sim.advance_clock(5)
    sim.change_record("m3", "customer", "C100004", CUNM="Renamed Kunde GmbH")
    body = fapi.m3("CRS610MI", "LstByNumber", {"LMTS": str(stamp), "maxrecs": "0"})
    assert [(r["CUNO"], r["CUNM"]) for r in _records(body)] == [("C100004", "Renamed Kunde GmbH")]
    lmts = sim.product("m3").row("customer", "C100004")["LMTS"]
    assert stamp + 5000 <= int(lmts) <= sim.server_time("m3")
    assert _records(fapi.m3("CRS610MI", "LstByNumber", {"LMTS": lmts, "maxrecs": "0"})) == []
    sim.settings.m3_lmts_inclusive = True
    assert [r["CUNO"] for r in _records(fapi.m3("CRS610MI", "LstByNumber", {"LMTS": lmts, "maxrecs": "0"}))] == \
        ["C100004"]


def test_supplier_lmts_via_lst_suppliers_and_exportmi_lmdt(fapi: Api) -> None:
    sim = fapi.sim
    stamp = sim.server_time("m3")
    sim.advance_clock(1)
    sim.change_record("m3", "supplier", "S100007", SUNM="Nye Navn AS")
    body = fapi.m3("CRS620MI", "LstSuppliers", {"LMTS": str(stamp), "maxrecs": "0"})
    assert [r["SUNO"] for r in _records(body)] == ["S100007"]
    lmdt = sim.product("m3").row("supplier", "S100007")["LMDT"]
    body = fapi.m3("EXPORTMI", "Select", {"QERY": f"IDSUNO, IDSUNM from CIDMAS where IDCONO = 100 and "
                                                  f"IDLMDT >= {lmdt}", "HDRS": "1"})
    rows = [r["REPL"] for r in _records(body)]
    assert rows[0] == "IDSUNO;IDSUNM" and "S100007;Nye Navn AS" in rows


def test_supplier_address_edit_stamps_only_the_address_row_by_default(fapi: Api) -> None:
    sim = fapi.sim
    stamp = sim.server_time("m3")
    sim.advance_clock(1)
    sim.change_record("m3", "supplier", "S100002", ADR1="Ny gate 1", TOWN="Bergen")
    assert _records(fapi.m3("CRS620MI", "LstSuppliers", {"LMTS": str(stamp), "maxrecs": "0"})) == []
    address = _records(fapi.m3("CRS620MI", "LstAddresses", {"SUNO": "S100002"}))[0]
    assert (address["ADR1"], address["TOWN"]) == ("Ny gate 1", "Bergen")
    got = _records(fapi.m3("CRS620MI", "GetAddress", {"SUNO": "S100002", "ADTE": "1", "ADID": " "}))[0]
    assert int(got["LMTS"]) > stamp
    sim.settings.m3_address_bumps_master = True
    sim.change_record("m3", "supplier", "S100002", ADR2="Bygg 2")
    assert [r["SUNO"] for r in _records(fapi.m3("CRS620MI", "LstSuppliers", {"LMTS": str(stamp)}))] == ["S100002"]


def test_add_deactivate_delete_show_up_in_lists(fapi: Api) -> None:
    sim = fapi.sim
    key = sim.add_record("m3", "supplier", SUNM="Brand New Supplier Ltd")
    assert key == "S100013"
    record = _records(fapi.m3("CRS620MI", "GetBasicData", {"SUNO": key}))[0]
    assert (record["SUNM"], record["STAT"]) == ("Brand New Supplier Ltd", "20")
    sim.deactivate("m3", "supplier", key)
    assert _records(fapi.m3("CRS620MI", "GetBasicData", {"SUNO": key}))[0]["STAT"] == "90"
    sim.delete("m3", "supplier", key)
    assert fapi.m3("CRS620MI", "GetBasicData", {"SUNO": key})["nrOfFailedTransactions"] == 1
    assert key not in sim.keys("m3", "supplier")


def test_exportmi_can_be_switched_to_not_allowed(fapi: Api) -> None:
    fapi.sim.settings.m3_exportmi_enabled = False
    result = fapi.m3("EXPORTMI", "Select", {"QERY": "OKCUNO from OCUSMA"})["results"][0]
    assert (result["errorMessage"], result["errorType"]) == ("Not allowed", "ServerReturnedNOK")


def test_exportmi_key_cursor_and_count(api: Api) -> None:
    body = api.m3("EXPORTMI", "Select", {"QERY": "OKCUNO from OCUSMA where OKCONO = 100 and OKCUNO > 'C100020'",
                                         "maxrecs": "3"})
    assert [r["REPL"] for r in _records(body)] == ["C100021", "C100022", "C100023"]
    count = api.m3("EXPORTMI", "Select", {"QERY": "count(*) from OCUSMA where OKCONO = 100"})
    assert _records(count) == [{"REPL": "25"}]


def test_supplier_contacts_and_customer_emails(api: Api) -> None:
    refs = _records(api.m3("CRS620MI", "LstSupplierRef", {"SUNO": "S100001"}))
    assert refs and all(r["SUNO"] == "S100001" and "@" in r["EMAL"] for r in refs)
    mails = _records(api.m3("CRS111MI", "List", {"EMTP": "01", "EMKY": "C100003", "maxrecs": "2"}))
    assert [m["EMKY"] for m in mails] == ["C100003", "C100004"]


def test_customer_lst_by_name_is_ordered_by_name(api: Api) -> None:
    names = [r["CUNM"].upper() for r in _records(api.m3("CRS610MI", "LstByName", {"CUNM": " ", "maxrecs": "0"}))]
    assert names == sorted(names) and len(names) == 25


def test_records_and_keys_match_the_wire(api: Api) -> None:
    wire = _records(api.m3("CRS610MI", "LstByNumber", {"maxrecs": "0"}))
    assert wire == api.sim.records("m3", "customer")
    assert [r["CUNO"] for r in wire] == api.sim.keys("m3", "customer")


def test_bulk_post_runs_each_transaction_and_counts_failures(api: Api) -> None:
    body = {"program": "CRS620MI", "cono": 100, "maxReturnedRecords": 0, "transactions": [
        {"transaction": "GetBasicData", "record": {"SUNO": "S100001"}, "selectedColumns": ["SUNO", "SUNM"]},
        {"transaction": "GetBasicData", "record": {"SUNO": "NOPE"}}]}
    response = api.raw("POST", "/M3/m3api-rest/v2/execute?format=COMPACT", json=body)
    data = response.json()
    assert response.status_code == 200
    assert data["results"][0]["records"] == [{"SUNO": "S100001", "SUNM": "O'Neil & Sons Ltd"}]
    assert (data["nrOfSuccessfullTransactions"], data["nrOfFailedTransactions"]) == (1, 1)


def test_v1_path_returns_padded_mirecords(api: Api) -> None:
    response = api.get("/M3/m3api-rest/execute/CRS620MI/LstByNumber;maxrecs=1;returncols=SUNO", {"SUNO": " "})
    body = response.json()
    assert body["MIRecord"][0]["NameValue"] == [{"Name": "SUNO", "Value": "S100001   "}]


@pytest.mark.parametrize("value", ["20", "90"])
def test_stat_values_are_active_or_blocked(api: Api, value: str) -> None:
    assert any(r["STAT"] == value for r in api.sim.records("m3", "supplier"))


def test_query_maxrecs_can_be_ignored_while_matrix_maxrecs_still_works(fapi: Api) -> None:
    fapi.sim.settings.m3_ignore_query_maxrecs = True
    fapi.sim.settings.m3_default_maxrecs = 4
    assert len(_records(fapi.m3("CRS620MI", "LstByNumber", {"SUNO": " ", "maxrecs": "0"}))) == 4
    assert len(_records(fapi.m3("CRS620MI", "LstByNumber", {"SUNO": " "}, matrix=";maxrecs=0"))) == 12


def test_optional_server_cap_limits_unlimited_lists(fapi: Api) -> None:
    fapi.sim.settings.m3_max_records_cap = 7
    assert len(_records(fapi.m3("CRS620MI", "LstByNumber", {"SUNO": " ", "maxrecs": "0"}))) == 7


def test_customer_delivery_addresses_and_get_address(api: Api) -> None:
    with_addresses = [k for k in api.sim.keys("m3", "customer")
                      if _records(api.m3("CRS610MI", "LstAddresses", {"CUNO": k}))]
    assert with_addresses
    cuno = with_addresses[0]
    first = _records(api.m3("CRS610MI", "LstAddresses", {"CUNO": cuno}))[0]
    assert (first["CUNO"], first["ADRT"], first["ADID"]) == (cuno, "1", "D01")
    got = _records(api.m3("CRS610MI", "GetAddress", {"CUNO": cuno, "ADRT": "1", "ADID": "D01"}))[0]
    assert got["CUA1"] == first["CUA1"] and got["CHNO"] == "1"


def test_exportmi_unknown_column_is_mi_error(api: Api) -> None:
    result = api.m3("EXPORTMI", "Select", {"QERY": "OKNOPE from OCUSMA"})["results"][0]
    assert (result["errorType"], result["errorField"]) == ("ServerReturnedNOK", "QERY")


def test_v1_mi_error_shape(api: Api) -> None:
    body = api.get("/M3/m3api-rest/execute/CRS620MI/GetBasicData", {"SUNO": "S999999"}).json()
    assert (body["@type"], body["@field"], body["Message"].strip()) == ("ServerReturnedNOK", "SUNO",
                                                                          "Supplier number S999999 does not exist")


def test_other_company_is_an_mi_error(api: Api) -> None:
    result = api.m3("CRS620MI", "LstByNumber", {"SUNO": " ", "CONO": "200"})["results"][0]
    assert (result["errorType"], result["errorField"]) == ("ServerReturnedNOK", "CONO")
