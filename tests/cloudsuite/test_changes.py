"""Modified-since: a run from the stored watermark returns the changed records, re-reads the overlap window,
and nothing older; products without a change stamp scan fully and report watermark None."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from localdev.cloudsuite import CloudSuiteSimulator
from shared import defaults
from tests.cloudsuite.support import CSI_ZONE, list_requests

OVERLAP_S = 600


def _keys(client, entity: str, since: str | None) -> tuple[list[str], str | None]:
    pages = list(client.iter_changed(entity, since))
    keys = [k for p in pages for k in p.key_values()]
    assert len({p.watermark for p in pages}) == 1
    return keys, pages[0].watermark


def test_m3_lmts_returns_changes_and_the_overlap_window_only(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", page_size=5, overlap_s=OVERLAP_S)
    old, edge = sim.keys("m3", "customer")[2], sim.keys("m3", "customer")[7]
    sim.change_record("m3", "customer", old, CUNM="Changed long before the window")
    sim.advance_clock(OVERLAP_S + 120)
    sim.change_record("m3", "customer", edge, CUNM="Changed inside the overlap window")
    sim.advance_clock(60)
    keys, watermark = _keys(client, "customer", None)  # first run: full scan, remember the watermark
    assert len(keys) == 45
    assert int(watermark) <= sim.server_time("m3")
    sim.advance_clock(30)
    new = sim.keys("m3", "customer")[20]
    sim.change_record("m3", "customer", new, CUNM="Changed after the watermark")
    added = sim.add_record("m3", "customer")
    keys, next_watermark = _keys(client, "customer", watermark)
    assert sorted(keys) == sorted([edge, new, added])
    assert int(next_watermark) > int(watermark)
    assert any(f"LMTS={int(watermark) - OVERLAP_S * 1000}" in r.path for r in list_requests(sim))


def test_m3_suppliers_use_lmts_on_lst_suppliers(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", page_size=10)
    watermark = client.start_watermark()
    key = sim.keys("m3", "supplier")[3]
    sim.change_record("m3", "supplier", key, SUNM="Renamed AS")
    keys, _ = _keys(client, "supplier", watermark)
    assert keys == [key]


@pytest.mark.parametrize(("entity", "key", "name", "prefix"), [("customer", "CUNO", "CUNM", "OK"),
                                                              ("supplier", "SUNO", "SUNM", "ID")])
def test_m3_exportmi_change_detection_reads_the_boundary_day(sim: CloudSuiteSimulator, make_client, entity: str,
                                                             key: str, name: str, prefix: str) -> None:
    client = make_client(sim, "m3", page_size=3, m3={"change_detection": "exportmi", "cono": "100"})
    watermark = client.start_watermark()
    changed = sim.keys("m3", entity)[5:9]
    for k in changed:
        sim.change_record("m3", entity, k, **{name: f"Renamed {k}"})
    pages = list(client.iter_changed(entity, watermark))
    records = {r[key]: r for p in pages for r in p.records}
    assert sum(len(p.records) for p in pages) == len(records)  # no key twice
    assert set(changed) <= set(records)  # day-granular: the whole boundary day is read again
    assert records[changed[0]][name] == f"Renamed {changed[0]}"  # columns named like the list transaction's
    assert all(p.key_field == key for p in pages)
    lower_ms = int(watermark) - int(defaults.CLOUDSUITE_WATERMARK_OVERLAP_S * 1000)
    day = datetime.fromtimestamp(lower_ms / 1000, UTC).strftime("%Y%m%d")
    assert any(f"{prefix}LMDT%20%3E%3D%20{day}" in r.path for r in list_requests(sim))


def test_csi_record_date_in_site_time_returns_changes_and_overlap(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "csi", page_size=4, overlap_s=OVERLAP_S)
    edge = sim.keys("csi", "supplier")[6]
    sim.change_record("csi", "supplier", edge, Name="Changed just before the first run")
    keys, watermark = _keys(client, "supplier", None)
    assert len(keys) == 40
    site_now = sim.server_time("csi")
    assert abs(datetime.strptime(watermark, "%Y-%m-%d %H:%M:%S") - site_now.replace(microsecond=0)) < timedelta(
        seconds=5)  # site-local (America/New_York), not UTC
    new = sim.keys("csi", "supplier")[30]
    sim.change_record("csi", "supplier", new, Phone="+1 555 0100")
    keys, _ = _keys(client, "supplier", watermark)
    assert sorted(keys) == sorted([edge, new])  # the edge is re-read (overlap), older records are not
    lower = (datetime.strptime(watermark, "%Y-%m-%d %H:%M:%S") - timedelta(seconds=OVERLAP_S))
    assert any(f"RecordDate%20%3E%3D%20%27{lower:%Y-%m-%d%%20%H%%3A%M%%3A%S}%27" in r.path
               for r in list_requests(sim))


def test_csi_address_only_customer_change_is_found_by_adr_record_date(sim: CloudSuiteSimulator,
                                                                      make_client) -> None:
    client = make_client(sim, "csi", page_size=10)
    watermark = client.start_watermark()
    key = sim.keys("csi", "customer")[4]
    sim.change_record("csi", "customer", key, City="Springfield")
    keys, _ = _keys(client, "customer", watermark)
    assert keys == [key]


@pytest.mark.parametrize("product", ["ln", "fsm"])
def test_products_without_a_stamp_scan_fully_and_store_no_watermark(sim: CloudSuiteSimulator, make_client,
                                                                    product: str) -> None:
    client = make_client(sim, product, page_size=100)
    keys, watermark = _keys(client, "customer", "2026-01-01T00:00:00")
    assert watermark is None
    assert sorted(keys) == sorted(sim.keys(product, "customer"))


def test_csi_zone_constant_matches_the_simulator() -> None:
    assert CloudSuiteSimulator(products=()).settings.csi_site_timezone == CSI_ZONE


@pytest.mark.parametrize("since", ["2026-01-15 12:00:00", "2026-07-15 12:00:00"])
def test_csi_lower_bound_absorbs_a_dst_change_since_the_watermark(sim: CloudSuiteSimulator, make_client,
                                                                   since: str) -> None:
    client = make_client(sim, "csi", overlap_s=OVERLAP_S)
    zone = ZoneInfo(CSI_ZONE)
    then = datetime.strptime(since, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone).utcoffset()
    shift = abs(datetime.now(zone).utcoffset() - then)  # one hour for exactly one of the two dates
    expected = datetime.strptime(since, "%Y-%m-%d %H:%M:%S") - timedelta(seconds=OVERLAP_S) - shift
    assert client.adapter.lower_bound(since, OVERLAP_S) == f"{expected:%Y-%m-%d %H:%M:%S}"
