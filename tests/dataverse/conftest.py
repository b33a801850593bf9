"""Fixtures: a real HTTPS Entra ID + Dataverse simulator and a writer that authenticates against it with a real
azure-identity ClientSecretCredential (no mocks of our own code)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.dataverse import DataverseConfig, DataverseWriter, UpsertRecord
from shared.dataverse.writer import forget_environment

TENANT = "contoso-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "s3cret-value-for-tests-only"


def make_sim(**kwargs: Any):  # -> DataverseSimulator (imported lazily: unit tests run without it)
    from localdev.dataverse import DataverseSimulator

    sim = DataverseSimulator(tenant=TENANT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **kwargs)
    forget_environment(sim.url)  # a new simulator may reuse an earlier one's port: nothing learned carries over
    return sim


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[Any]:
    with make_sim() as sim:
        yield sim


@pytest.fixture
def sim(shared_sim: Any) -> Any:
    """The module's simulator, back to its initial state (rows, faults, throttling, switches, log) per test."""
    shared_sim.reset()
    return shared_sim


def config_for(sim: Any, **overrides: Any) -> DataverseConfig:
    section = {"url": sim.url, "auth": "client_secret", "tenant_id": TENANT, "client_id": CLIENT_ID,
               "client_secret_name": "dataverse-client-secret", "authority": sim.authority,
               "ca_bundle": sim.ca_bundle, **overrides}
    return DataverseConfig.from_section(section, "connection 'test'")


def writer_for(sim: Any, **overrides: Any) -> DataverseWriter:
    return DataverseWriter(config_for(sim, **overrides), secret=CLIENT_SECRET)


def account(key: str, name: str | None = None, **extra: Any) -> UpsertRecord:
    payload = {"name": name or f"Supplier {key}", "customertypecode": 10, "address1_city": "Amsterdam",
               "telephone1": "+31 20 555 0100", **extra}
    return UpsertRecord("account", {"cssync_sourcekey": key}, payload, ref=f"account:{key}")


def contact(key: str, parent: str | None, **extra: Any) -> UpsertRecord:
    payload = {"firstname": "Anna", "lastname": f"de Vries {key}", "emailaddress1": "anna@fabrikam.example",
               **extra}
    return UpsertRecord("contact", {"cssync_sourcekey": key}, payload, ref=f"contact:{key}", parent_key=parent)
