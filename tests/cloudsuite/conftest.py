"""Fixtures for the CloudSuite client tests: shared simulators, a client factory, and a log capture that
proves no .ionapi secret or issued token ever reaches a log line (DEBUG, urllib3 included)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localdev.cloudsuite import CloudSuiteSimulator
from shared.cloudsuite import CloudSuiteClient
from tests.cloudsuite.support import SECRETS, LogCapture, build_client, start_sim

ClientFactory = Callable[..., CloudSuiteClient]


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[LogCapture]:
    """Capture every log line of the test at DEBUG; afterwards assert no known secret appears in any."""
    capture = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
    text = "\n".join(capture.lines)
    leaked = [s[:4] + "..." for s in SECRETS if s in text]
    assert not leaked, f"secret values found in log lines: {leaked}"


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    clients: list[CloudSuiteClient] = []

    def factory(sim: CloudSuiteSimulator, product: str, **kwargs: Any) -> CloudSuiteClient:
        client = build_client(sim, product, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def small_sim() -> Iterator[CloudSuiteSimulator]:
    """1 supplier, 0 customers in every product; read-only (no faults, no changes)."""
    sim = start_sim(suppliers=1, customers=0, seed=11)
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def big_sim() -> Iterator[CloudSuiteSimulator]:
    """999 suppliers, 10,000 customers in every product; read-only (no faults, no changes)."""
    sim = start_sim(suppliers=999, customers=10_000, seed=12)
    yield sim
    sim.stop()


@pytest.fixture
def sim() -> Iterator[CloudSuiteSimulator]:
    """A fresh small simulator per test, for tests that inject faults or change data."""
    sim = start_sim(suppliers=40, customers=45, seed=13)
    yield sim
    sim.stop()
