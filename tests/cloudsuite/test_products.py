"""Product specifics: record shapes and normalisation, enrichment, and the reference's awkward edges."""

from __future__ import annotations

import pytest

from localdev.cloudsuite import CloudSuiteSimulator
from shared.cloudsuite import CloudSuiteClient
from tests.cloudsuite.support import list_requests, start_sim


def _records(client: CloudSuiteClient, entity: str) -> list[dict]:
    return [r for p in client.iter_changed(entity) for r in p.records]


def test_m3_records_are_product_fields_with_string_values(sim: CloudSuiteSimulator, make_client) -> None:
    records = _records(make_client(sim, "m3", page_size=50), "supplier")
    expected = {r["SUNO"]: r for r in sim.records("m3", "supplier")}
    assert [r["SUNO"] for r in records] == list(expected)
    first = records[0]
    assert set(first) == {"SUNO", "SUNM", "STAT", "PHNO", "CSCD", "ECAR", "LNCD", "VRNO", "SUTY", "SUCL", "CUCD",
                          "TEPY", "TINO"}
    assert first["SUNM"] == expected[first["SUNO"]]["SUNM"] == "O'Neil & Sons Ltd"


def test_m3_query_maxrecs_ignored_still_pages_by_the_matrix_form(make_client) -> None:
    sim = start_sim(suppliers=30, customers=1, products=("m3",), m3_ignore_query_maxrecs=True)
    try:
        records = _records(make_client(sim, "m3", page_size=7), "supplier")
        assert [r["SUNO"] for r in records] == sim.keys("m3", "supplier")
    finally:
        sim.stop()


def test_m3_enrichment_adds_one_bulk_request_per_page_and_kind(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", page_size=25, enrich=["addresses", "contacts"])
    pages = list(client.iter_changed("supplier"))
    records = [r for p in pages for r in p.records]
    assert len(records) == 40
    assert all(r["_addresses"] and r["_addresses"][0]["SUNO"] == r["SUNO"] for r in records)
    assert all(isinstance(r["_contacts"], list) for r in records) and any(r["_contacts"] for r in records)
    assert len(list_requests(sim)) == 1 + len(pages) * 3  # GetServerTime + (list + 2 bulk POSTs) per page


def test_csi_keys_are_stripped_nulls_kept_and_row_handles_dropped(sim: CloudSuiteSimulator, make_client) -> None:
    records = _records(make_client(sim, "csi", page_size=15), "supplier")
    assert [r["VendNum"] for r in records] == sim.keys("csi", "supplier")
    assert records[0]["VendNum"] == "V1001"  # served as "  V1001"
    assert all("_ItemId" not in r for r in records)
    assert any(r["VadAddr_3"] is None for r in records)
    assert "readOnly=true" in list_requests(sim)[0].path


def test_csi_customers_default_to_the_main_address_row(make_client) -> None:
    sim = start_sim(suppliers=1, customers=20, products=("csi",), csi_ship_to_every=3)
    try:
        records = _records(make_client(sim, "csi", page_size=4), "customer")
        assert len(sim.keys("csi", "customer")) > 20  # ship-to rows exist
        assert [r["CustNum"] for r in records] == sorted(set(sim.keys("csi", "customer")))
        assert {r["CustSeq"] for r in records} == {"0"}
    finally:
        sim.stop()


def test_csi_boundary_row_repeated_by_the_server_is_dropped(make_client) -> None:
    sim = start_sim(suppliers=23, customers=1, products=("csi",), csi_next_repeats_boundary=True)
    try:
        keys = [k for p in make_client(sim, "csi", page_size=5).iter_changed("supplier") for k in p.key_values()]
        assert keys == sim.keys("csi", "supplier")
    finally:
        sim.stop()


def test_ln_expand_addresses_and_company_header(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "ln", page_size=20, enrich=["addresses"], ln={"company": "1000"})
    records = _records(client, "customer")
    assert sorted(r["BusinessPartner"] for r in records) == sorted(sim.keys("ln", "customer"))
    assert all(r["AddressRef.AddressCode"] == r["AddressCode"] and r["AddressRef.City"] for r in records)
    assert all("@odata.etag" not in r for r in records)
    assert len(list_requests(sim)) == 3  # 45 rows, nextLink after pages 1 and 2 only


def test_ln_without_next_link_falls_back_to_skip(make_client) -> None:
    sim = start_sim(suppliers=12, customers=1, products=("ln",), ln_next_link=False)
    try:
        keys = [k for p in make_client(sim, "ln", page_size=4).iter_changed("supplier") for k in p.key_values()]
        assert sorted(keys) == sorted(sim.keys("ln", "supplier")) and len(keys) == 12
        calls = list_requests(sim)
        assert len(calls) == 4 and "%24skip=12" in calls[-1].path  # 12 rows: the 4th, empty page ends it
    finally:
        sim.stop()


def test_ln_transient_oauth_401_is_refreshed_and_retried(sim: CloudSuiteSimulator, make_client) -> None:
    sim.settings.ln_transient_401 = 1
    keys = [k for p in make_client(sim, "ln", page_size=50).iter_changed("supplier") for k in p.key_values()]
    assert len(keys) == 40
    assert sim.tokens_issued == 2


@pytest.mark.parametrize("entity", ["supplier", "customer"])
def test_fsm_lists_skip_the_metadata_element(sim: CloudSuiteSimulator, make_client, entity: str) -> None:
    records = _records(make_client(sim, "fsm", page_size=16), entity)
    key = {"supplier": "Vendor", "customer": "Customer"}[entity]
    assert [r[key] for r in records] == sim.keys("fsm", entity)
    assert all(set(r) >= {key} and "_count" not in r for r in records)
