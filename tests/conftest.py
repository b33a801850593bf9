"""Fixtures shared by every test area: a real Azurite for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localdev.azurite import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite (blob, queue, table) on free loopback ports for the whole test session."""
    with start_azurite() as instance:
        yield instance
