"""Fixtures for the mapping tests: compiled configs per product with optional section overrides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from shared.mapping import MappingConfig


@pytest.fixture
def make_config() -> Callable[..., MappingConfig]:
    def build(product: str, section: Mapping[str, Any] | None = None, connection: str = "") -> MappingConfig:
        return MappingConfig.from_section(section or {}, connection=connection or f"acme-{product}", product=product)

    return build
