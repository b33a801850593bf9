"""Fixtures for the Dataverse simulator tests: a fresh simulator per test and a session with a real token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localdev.dataverse import DataverseSimulator
from tests.dataverse_sim.helpers import Api, api_for, make_sim


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., DataverseSimulator]]:
    started: list[DataverseSimulator] = []

    def factory(**kwargs: Any) -> DataverseSimulator:
        sim = make_sim(**kwargs).start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture(scope="session")
def _shared_sim() -> Iterator[DataverseSimulator]:
    with make_sim() as sim:
        yield sim


@pytest.fixture
def sim(_shared_sim: DataverseSimulator) -> DataverseSimulator:
    """The default-configuration simulator, reset to its initial state for every test."""
    _shared_sim.reset()
    return _shared_sim


@pytest.fixture
def api(sim: DataverseSimulator) -> Api:
    return api_for(sim)


