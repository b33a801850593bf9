"""``CloudSuiteSimulator``: the ION API gateway (tokens, bearer checks, routing, throttling) in front of the
M3, CSI, LN and FSM product views, on a loopback HTTPS ``SimServer``. See README.md for the contract."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

from localdev.cloudsuite.admin import Admin
from localdev.cloudsuite.auth import Credentials, TokenService
from localdev.cloudsuite.product import Context, Product, check_entity
from localdev.cloudsuite.settings import ENTITIES, PRODUCTS, SUITES, Settings
from localdev.cloudsuite.store import Clock
from localdev.simserver import Faults, LoggedRequest, Request, Response, SimServer


def _product_classes() -> dict[str, type[Product]]:
    from localdev.cloudsuite.csi import CSI
    from localdev.cloudsuite.fsm import FSM
    from localdev.cloudsuite.ln import LN
    from localdev.cloudsuite.m3 import M3

    return {"m3": M3, "csi": CSI, "ln": LN, "fsm": FSM}


class CloudSuiteSimulator:
    """A faithful-enough ION API gateway + CloudSuite back ends for tests, benchmarks and local runs."""

    def __init__(self, suppliers: int = 100, customers: int = 100, seed: int = 1, tenant: str = "ACME_TST",
                 products: tuple[str, ...] | list[str] = PRODUCTS, token_lifetime_s: int = 7200,
                 issue_refresh_tokens: bool = False, *, port: int = 0, app_name: str = "D365 Partner Sync",
                 **settings: Any) -> None:
        unknown = [p for p in products if p not in PRODUCTS]
        if unknown:
            raise ValueError(f"unknown products {unknown}; known: {PRODUCTS}")
        if max(suppliers, customers) > 400_000:
            raise ValueError("at most 400,000 records per entity (keys are fixed-width)")
        self.tenant = tenant
        self.app_name = app_name
        self.settings = Settings(token_lifetime_s=token_lifetime_s, issue_refresh_tokens=issue_refresh_tokens)
        self.settings.update(settings)
        if not self.settings.csi_configs:
            self.settings.csi_configs = (f"{tenant}_DALS",)
        self.clock = Clock()
        self.ctx = Context(seed=seed, tenant=tenant, counts={"supplier": suppliers, "customer": customers},
                           settings=self.settings, clock=self.clock)
        self.credentials = Credentials.for_tenant(tenant, seed)
        self.auth = TokenService(tenant, self.credentials, self.settings, self.clock)
        classes = _product_classes()
        self.products: dict[str, Product] = {name: classes[name](self.ctx) for name in products}
        self._admin = Admin(self)
        self.server = SimServer(self._handle, port=port, name="cloudsuite", admin=self._admin.handle)
        self.ctx.base_url = self.server.url
        self._throttle_lock = threading.Lock()
        self._bucket = 0.0
        self._bucket_at = 0.0
        self._throttled = 0

    # --- lifecycle --------------------------------------------------------------------------------
    def warm(self, products: tuple[str, ...] | None = None, entities: tuple[str, ...] = ENTITIES) -> None:
        """Build the data now instead of on the first request that needs it (100k rows take seconds)."""
        for name in products or tuple(self.products):
            for entity in entities:
                self.product(name).keys(entity)

    def start(self) -> CloudSuiteSimulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> CloudSuiteSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_base(self) -> str:
        return f"{self.url}/{self.tenant}"

    @property
    def ca_bundle(self) -> str:
        return self.server.ca_bundle

    @property
    def faults(self) -> Faults:
        return self.server.faults

    def requests(self, path_regex: str = ".*", method: str | None = None) -> list[LoggedRequest]:
        return self.server.requests(path_regex, method)

    # --- .ionapi ----------------------------------------------------------------------------------
    def ionapi(self, grant: str = "password") -> dict[str, str]:
        if grant not in ("password", "client_credentials"):
            raise ValueError("grant must be 'password' or 'client_credentials'")
        c = self.credentials
        doc = {"ti": self.tenant, "cn": self.app_name, "dt": "12", "ci": c.client_id, "cs": c.client_secret,
               "iu": self.url, "pu": f"{self.url}/{self.tenant}/as/", "oa": "authorization.oauth2",
               "ot": "token.oauth2", "or": "revoke_token.oauth2", "ev": "U100000001", "v": "1.0"}
        if grant == "password":
            doc.update(saak=c.access_key, sask=c.secret_key)
        return doc

    def write_ionapi(self, path: str | Path, grant: str = "password") -> str:
        Path(path).write_text(json.dumps(self.ionapi(grant), indent=2), encoding="utf-8")
        return str(path)

    # --- data -------------------------------------------------------------------------------------
    def product(self, name: str) -> Product:
        if name not in self.products:
            raise ValueError(f"product {name!r} is not enabled (enabled: {sorted(self.products)})")
        return self.products[name]

    def records(self, product: str, entity: str, *, area: str | None = None) -> list[dict[str, Any]]:
        return self.product(product).records(entity, area)

    def keys(self, product: str, entity: str, *, area: str | None = None) -> list[str]:
        return self.product(product).keys(entity, area)

    def add_record(self, product: str, entity: str, *, area: str | None = None, **fields: Any) -> str:
        check_entity(entity)
        return self.product(product).add(entity, fields, area)

    def change_record(self, product: str, entity: str, key: str, *, area: str | None = None, **fields: Any) -> None:
        check_entity(entity)
        self.product(product).change(entity, key, fields, area)

    def deactivate(self, product: str, entity: str, key: str, *, area: str | None = None) -> None:
        check_entity(entity)
        self.product(product).deactivate(entity, key, area)

    def delete(self, product: str, entity: str, key: str, *, area: str | None = None) -> None:
        check_entity(entity)
        self.product(product).delete(entity, key, area)

    def server_time(self, product: str) -> Any:
        return self.product(product).server_time()

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # --- tokens and faults ------------------------------------------------------------------------
    def expire_tokens(self, *, after_calls: int | None = None) -> None:
        """Force-expire every issued token now, or after ``after_calls`` more authenticated API calls."""
        if after_calls is None:
            self.auth.expire_all()
        else:
            self.auth.expire_after(after_calls)

    @property
    def tokens_issued(self) -> int:
        return self.auth.total_issued

    @property
    def tokens_issued_by_grant(self) -> dict[str, int]:
        return dict(self.auth.issued)

    def throttle(self, count: int = 2, *, path: str = ".*", retry_after_s: float | None = None) -> None:
        """Answer the next ``count`` matching API calls 429; Retry-After on every other one (first: with)."""
        retry = retry_after_s if retry_after_s is not None else self.settings.retry_after_s
        for i in range(count):
            self.faults.add(path=path, status=429, body={"message": "Quota policy exceeded"},
                            retry_after=retry if i % 2 == 0 else None, count=1)

    def fail(self, status: int, count: int = 1, *, path: str = ".*", latency_s: float = 0.0) -> None:
        """Answer the next ``count`` matching calls with ``status`` (e.g. 500, 502, 503, 504 after a delay)."""
        self.faults.add(path=path, status=status, count=count, latency_s=latency_s,
                        body={"message": f"Simulated HTTP {status}"})

    def slow_backend(self, latency_s: float, count: int = 1, *, path: str = ".*") -> None:
        """The next ``count`` matching calls take ``latency_s``; past ``gateway_timeout_s`` the gateway gives up
        and answers 504 after exactly that timeout, as ION does."""
        timeout = self.settings.gateway_timeout_s
        if latency_s < timeout:
            self.faults.add(path=path, latency_s=latency_s, count=count)
            return
        self.faults.add(path=path, status=504, latency_s=timeout, count=count,
                        body={"message": "Gateway Timeout: the backend did not answer in time"})

    # --- gateway ----------------------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        parts = request.path.split("/")
        if len(parts) < 3 or parts[1] != self.tenant:
            return _not_found()
        if parts[2] == "as":
            return self._oauth(request, parts[3:])
        product = SUITES.get(parts[2])
        if product is None or product not in self.products:
            return _not_found()
        denied = self.auth.check(request)
        if denied is not None:
            return denied
        throttled = self._rate_limit()
        if throttled is not None:
            return throttled
        return self.products[product].handle(request, parts[3:])

    def _oauth(self, request: Request, rest: list[str]) -> Response:
        if rest == ["token.oauth2"]:
            if request.method != "POST":
                return Response(405, headers={"Allow": "POST"})
            return self.auth.token_endpoint(request)
        if rest == ["revoke_token.oauth2"]:
            if request.method != "POST":
                return Response(405, headers={"Allow": "POST"})
            return self.auth.revoke_endpoint(request)
        return _not_found()

    def _rate_limit(self) -> Response | None:
        rate = self.settings.rate_limit_per_s
        if not rate:
            return None
        now = self.clock.now()
        with self._throttle_lock:
            self._bucket = min(rate, self._bucket + (now - self._bucket_at) * rate) if self._bucket_at else rate
            self._bucket_at = now
            if self._bucket >= 1:
                self._bucket -= 1
                return None
            ratio = self.settings.retry_after_ratio
            send = math.ceil((self._throttled + 1) * ratio) > math.ceil(self._throttled * ratio)
            self._throttled += 1
        headers = {"Retry-After": str(self.settings.retry_after_s)} if send else {}
        return Response.json({"message": "Quota policy exceeded"}, 429, headers)


def _not_found() -> Response:
    return Response.json({"message": "Resource not found"}, 404)


__all__ = ["ENTITIES", "PRODUCTS", "CloudSuiteSimulator"]
