"""What every product view (M3, CSI, LN, FSM) shares: the simulator context and the interface the gateway calls."""

from __future__ import annotations

import gc
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from localdev.cloudsuite.data import Company, Generator, generate
from localdev.cloudsuite.settings import Settings
from localdev.cloudsuite.store import Clock
from localdev.simserver import Request, Response


@dataclass
class Context:
    """Everything a product view needs from the simulator."""

    seed: int
    tenant: str
    counts: dict[str, int]  # entity -> records generated at start-up
    settings: Settings
    clock: Clock
    lock: threading.RLock = field(default_factory=threading.RLock)
    base_url: str = ""  # gateway base (iu), set when the server starts

    def companies(self, area: str, entity: str) -> list[Company]:
        other = "customer" if entity == "supplier" else "supplier"
        return generate(self.seed, self.tenant, area, entity, self.counts[entity], self.counts[other],
                        now_s=self.clock.now(), shared_every=self.settings.shared_every,
                        include_cjk=self.settings.include_cjk)

    def new_company(self, area: str, entity: str, number: int) -> Company:
        return Generator(self.seed, self.tenant, area, entity, now_s=self.clock.now(),
                         include_cjk=self.settings.include_cjk).make(number)

    def local(self, epoch_s: float, zone: str) -> datetime:
        return datetime.fromtimestamp(epoch_s, ZoneInfo(zone))


_gc_lock = threading.Lock()
_gc_depth = 0


@contextmanager
def bulk_build() -> Iterator[None]:
    """Pause the cyclic GC while building tables: 100k rows allocate millions of objects, none of them cyclic,
    and the collector's repeated passes over them double the build time."""
    global _gc_depth
    with _gc_lock:
        _gc_depth += 1
        if _gc_depth == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0:
                gc.enable()


PRIMARY_AREA = ""  # generation area of each product's default data area: all products show the same companies


class UnknownRecord(KeyError):
    """No record with that key (admin/API callers map it to 404)."""


class Product(ABC):
    """One product line behind the gateway. Keys passed in and out are stripped of CSI padding."""

    name: str

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @abstractmethod
    def handle(self, request: Request, rest: list[str]) -> Response:
        """Serve ``/{ti}/{SUITE}/<rest...>`` (already authenticated)."""

    @abstractmethod
    def records(self, entity: str, area: str | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def keys(self, entity: str, area: str | None = None) -> list[str]: ...

    @abstractmethod
    def add(self, entity: str, fields: dict[str, Any], area: str | None = None) -> str: ...

    @abstractmethod
    def change(self, entity: str, key: str, fields: dict[str, Any], area: str | None = None) -> None: ...

    @abstractmethod
    def deactivate(self, entity: str, key: str, area: str | None = None) -> None: ...

    @abstractmethod
    def delete(self, entity: str, key: str, area: str | None = None) -> None: ...

    def server_time(self) -> Any:
        return self.ctx.clock.now()


def check_entity(entity: str) -> None:
    if entity not in ("supplier", "customer"):
        raise ValueError(f"entity must be 'supplier' or 'customer', not {entity!r}")


def unknown_fields(fields: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown fields for {where}: {unknown}")
