"""The seeded data generator behind every product view."""

from __future__ import annotations

import time

from localdev.cloudsuite import CloudSuiteSimulator
from localdev.cloudsuite.data import generate


def _names(seed: int, tenant: str = "ACME_TST") -> list[str]:
    return [c.name for c in generate(seed, tenant, "", "supplier", 200, 200, now_s=1.8e9)]


def test_same_seed_and_tenant_give_the_same_companies_and_others_differ() -> None:
    assert _names(1) == _names(1)
    assert _names(1)[5:] != _names(2)[5:]
    assert _names(1)[5:] != _names(1, "OTHER_TST")[5:]


def test_awkward_names_are_always_present() -> None:
    names = _names(9)
    assert names[:5] == ["O'Neil & Sons Ltd", 'M&M Industrial Supply "East" Inc.', "Nordvik Fasteners AS",
                         "Müller & Söhne Maschinenbau GmbH", "Société Générale de Façonnage SARL"]
    text = " ".join(names)
    assert all(ch in text for ch in "øéçñ") and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_optional_fields_are_sometimes_empty_and_countries_vary() -> None:
    companies = generate(1, "ACME_TST", "", "customer", 300, 300, now_s=1.8e9)
    assert any(c.fax == "" for c in companies) and any(c.fax for c in companies)
    assert any(c.url == "" for c in companies) and any(c.address.line2 == "" for c in companies)
    assert len({c.address.country for c in companies}) >= 6
    assert all(c.created_s <= c.changed_s < 1.8e9 - 86400 for c in companies)


def test_every_tenth_customer_is_the_supplier_with_the_same_number() -> None:
    suppliers = generate(1, "ACME_TST", "", "supplier", 50, 30, now_s=1.8e9)
    customers = generate(1, "ACME_TST", "", "customer", 30, 50, now_s=1.8e9)
    shared = [n for n in range(1, 31) if customers[n - 1].shared]
    assert shared == [10, 20, 30]
    assert all(customers[n - 1].name == suppliers[n - 1].name for n in shared)
    assert not suppliers[39].shared  # beyond the customer count nothing is shared


def test_every_product_shows_the_same_companies() -> None:
    with CloudSuiteSimulator(suppliers=6, customers=6) as sim:
        m3 = [r["SUNM"] for r in sim.records("m3", "supplier")]
        csi = [r["Name"] for r in sim.records("csi", "supplier")]
        ln = [r["Name"] for r in sim.records("ln", "supplier")]
        fsm = [r["VendorName"] for r in sim.records("fsm", "supplier")]
        assert m3[:3] == csi[:3] == ln[:3] == fsm[:3]


def test_a_large_data_set_generates_within_seconds() -> None:
    sim = CloudSuiteSimulator(suppliers=20_000, customers=0, products=("m3",))
    started = time.monotonic()
    assert len(sim.keys("m3", "supplier")) == 20_000
    assert time.monotonic() - started < 10  # ~1 s on an idle core; generous for shared CI machines
