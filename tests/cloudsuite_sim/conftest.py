"""Fixtures for the CloudSuite simulator tests: a running simulator and a tiny authenticated HTTPS client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from localdev.cloudsuite import CloudSuiteSimulator


class _Session(requests.Session):
    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("verify", self.ca_bundle)
        kwargs.setdefault("timeout", 10)
        return super().request(method, url, *args, **kwargs)


class Api:
    """Just enough client to talk to the simulator over real HTTPS (not the production client)."""

    def __init__(self, sim: CloudSuiteSimulator) -> None:
        self.sim = sim
        # verify= on every call: REQUESTS_CA_BUNDLE in the environment overrides Session.verify.
        self.http = _Session(sim.ca_bundle)
        self.token = ""

    def login(self) -> str:
        io = self.sim.ionapi()
        response = self.http.post(io["pu"] + io["ot"], data={
            "grant_type": "password", "username": io["saak"], "password": io["sask"],
            "client_id": io["ci"], "client_secret": io["cs"]}, timeout=10)
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self.token

    def get(self, path: str, params: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
        if not self.token:
            self.login()
        return self.http.get(self.sim.api_base + path, params=params, timeout=10,
                             headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                                      **(headers or {})})

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        if not self.token:
            self.login()
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, self.sim.api_base + path, headers=headers, timeout=10, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.sim.url + "/_admin/" + path, timeout=10, **kwargs)

    def m3(self, program: str, transaction: str, params: Any = None, matrix: str = "") -> dict[str, Any]:
        response = self.get(f"/M3/m3api-rest/v2/execute/{program}/{transaction}{matrix}", params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def sim() -> Iterator[CloudSuiteSimulator]:
    """A shared simulator for read-only tests (do not mutate it)."""
    with CloudSuiteSimulator(suppliers=25, customers=25, seed=7) as s:
        yield s


@pytest.fixture
def fresh() -> Iterator[CloudSuiteSimulator]:
    """A private simulator for tests that change data, settings, clock or tokens."""
    with CloudSuiteSimulator(suppliers=12, customers=12, seed=3) as s:
        yield s


@pytest.fixture(scope="module")
def api(sim: CloudSuiteSimulator) -> Api:
    return Api(sim)


@pytest.fixture
def fapi(fresh: CloudSuiteSimulator) -> Api:
    return Api(fresh)
