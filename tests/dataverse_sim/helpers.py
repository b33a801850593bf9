"""Helpers for the Dataverse simulator tests: a Web API session with a real azure-identity token, polling."""

from __future__ import annotations

from typing import Any

import requests
from azure.identity import ClientSecretCredential

from localdev.dataverse import DataverseSimulator
from localdev.waiting import wait_for  # noqa: F401 - re-exported for the tests

TENANT = "contoso-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cret-value"


class Api:
    """A thin requests session on the Web API root with the standard Dataverse headers."""

    def __init__(self, sim: DataverseSimulator, token: str) -> None:
        self.sim = sim
        self.base = sim.api_base
        self.session = requests.Session()
        self.session.verify = sim.ca_bundle
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.session.headers.update({"Authorization": f"Bearer {token}", "OData-MaxVersion": "4.0",
                                     "OData-Version": "4.0", "Accept": "application/json",
                                     "If-None-Match": "null"})

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def make_sim(**kwargs: Any) -> DataverseSimulator:
    return DataverseSimulator(TENANT, CLIENT_ID, SECRET, **kwargs)


def credential(sim: DataverseSimulator, secret: str = SECRET) -> ClientSecretCredential:
    return ClientSecretCredential(TENANT, CLIENT_ID, secret, authority=sim.authority,
                                  disable_instance_discovery=True, connection_verify=sim.ca_bundle)


def api_for(sim: DataverseSimulator) -> Api:
    return Api(sim, credential(sim).get_token(sim.scope).token)


def error_of(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]
