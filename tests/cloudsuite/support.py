"""Helpers of the CloudSuite client tests (imported by conftest and the test modules)."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from localdev.cloudsuite import CloudSuiteSimulator
from shared.cloudsuite import CloudSuiteClient
from shared.cloudsuite.ionapi import SECRET_KEYS
from shared.connections import parse_connections

CSI_ZONE = "America/New_York"  # the simulator's site zone (csi_site_timezone default)
FAST_RETRIES = {"max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05}



SECRETS: set[str] = set()  # every .ionapi secret value and every token seen in these tests


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {text}")


def remember_ionapi_secrets(sim: CloudSuiteSimulator) -> None:
    for grant in ("password", "client_credentials"):
        SECRETS.update(v for k, v in sim.ionapi(grant).items() if k in SECRET_KEYS)


def capture_tokens(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if response.url.endswith("/token.oauth2") and response.status_code == 200:
        body = response.json()
        SECRETS.update(v for k, v in body.items() if k in ("access_token", "refresh_token") and v)


def section(sim: CloudSuiteSimulator, product: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"product": product, "ionapi_secret": "ionapi-acme", **FAST_RETRIES,
                            "csi": {"mongoose_config": f"{sim.tenant}_DALS", "site_timezone": CSI_ZONE}}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base




def build_client(sim: CloudSuiteSimulator, product: str, *, grant: str = "password",
                 ionapi_text: str | None = None, **overrides: Any) -> CloudSuiteClient:
    """A client for ``product`` built the way the pipeline builds it: Connection + .ionapi text."""
    remember_ionapi_secrets(sim)
    (connection,) = parse_connections({"connections": [{
        "name": f"acme-{product}", "cloudsuite": section(sim, product, **overrides),
        "dataverse": {"url": "https://contoso.crm.dynamics.com"}}]})
    text = ionapi_text if ionapi_text is not None else json.dumps(sim.ionapi(grant))
    client = CloudSuiteClient.for_connection(connection, text, verify=sim.ca_bundle)
    client.session.hooks["response"].append(capture_tokens)
    return client


def start_sim(**kwargs: Any) -> CloudSuiteSimulator:
    sim = CloudSuiteSimulator(**kwargs).start()
    remember_ionapi_secrets(sim)
    return sim


def list_requests(sim: CloudSuiteSimulator) -> list[Any]:
    """Logged API requests, token endpoint excluded."""
    return [r for r in sim.requests() if "/as/" not in r.path]
