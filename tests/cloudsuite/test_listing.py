"""Every record exactly once across pages, for each product, within the request floor ceil(N/page) + 1.

Combinations (entity total x page size), chosen so every page size (1, 7, 100, 1000) and every total
(0, 1, 999, 10,000) appears for every product without a 10,000-request case (about 290 requests per product):
    total 0 with pages 1 and 1000; total 1 with pages 1 and 7; total 999 with pages 7, 100 and 1000;
    total 10,000 with pages 100 and 1000.
Suppliers carry totals 1 and 999, customers 0 and 10,000, in two session-wide simulators.
"""

from __future__ import annotations

import math

import pytest

from tests.cloudsuite.support import build_client, list_requests

PRODUCTS = ("m3", "csi", "ln", "fsm")
CASES = [  # (simulator fixture, entity, total, page size)
    ("small_sim", "customer", 0, 1),
    ("small_sim", "customer", 0, 1000),
    ("small_sim", "supplier", 1, 1),
    ("small_sim", "supplier", 1, 7),
    ("big_sim", "supplier", 999, 7),
    ("big_sim", "supplier", 999, 100),
    ("big_sim", "supplier", 999, 1000),
    ("big_sim", "customer", 10_000, 100),
    ("big_sim", "customer", 10_000, 1000),
]


@pytest.mark.parametrize("product", PRODUCTS)
@pytest.mark.parametrize(("sim_name", "entity", "total", "page_size"), CASES,
                         ids=[f"{e}-{t}-page{p}" for _, e, t, p in CASES])
def test_every_record_exactly_once(request: pytest.FixtureRequest, product: str, sim_name: str, entity: str,
                                   total: int, page_size: int) -> None:
    sim = request.getfixturevalue(sim_name)
    expected = sim.keys(product, entity)
    assert len(expected) == total
    before = len(list_requests(sim))
    with build_client(sim, product, page_size=page_size) as client:
        keys: list[str] = []
        pages = list(client.iter_changed(entity))
    for number, page in enumerate(pages, start=1):
        assert page.number == number
        assert len(page.records) <= page_size
        assert page.last == (number == len(pages))
        assert (page.product, page.entity, page.connection) == (product, entity, f"acme-{product}")
        keys += page.key_values()
    assert sorted(keys) == sorted(expected)
    assert len(keys) == len(set(keys))
    made = len(list_requests(sim)) - before
    floor = max(1, math.ceil(total / page_size)) + 1
    assert made <= floor, f"{made} requests for {total} records at page size {page_size} (floor {floor})"
    if product == "m3":
        assert made == floor  # GetServerTime + one request per page, no trailing empty page
