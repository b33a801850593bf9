"""The whole local stack in one object: Azurite, both simulators, app settings, secrets and the functions host.

Used by ``make demo``, the end-to-end tests and the e2e benchmark. Secrets go to a temporary folder (the
local stand-in for Key Vault, ``SYNC_SECRETS_DIR``); the connections document to a file
(``SYNC_CONNECTIONS_FILE``). Every endpoint is loopback; CloudSuite and Dataverse are HTTPS with a throw-away CA.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localdev.azurite import Azurite, start_azurite
from localdev.cloudsuite import CloudSuiteSimulator
from localdev.dataverse import DataverseSimulator
from localdev.funchost import FunctionsHost, QueueOptions

# Far-future schedules: the stack fires timers explicitly (fire_timer), so runs are deterministic.
NEVER = "0 0 0 1 1 *"
DATAVERSE_SECRET_NAME = "dataverse-client-secret"


def reset_process_caches() -> None:
    """Forget settings, storage clients and runtimes cached by an earlier stack in this process."""
    from shared.config import get_settings
    from shared.pipeline.runtime import reset_runtimes
    from shared.storage import reset_clients

    get_settings.cache_clear()
    reset_runtimes()
    reset_clients()


@dataclass
class LocalStack:
    """A running local stack; ``stop()`` ends everything it started and restores the environment."""

    azurite: Azurite
    cloudsuite: CloudSuiteSimulator
    dataverse: DataverseSimulator
    workdir: Path
    connection: str
    product: str
    env: dict[str, str]
    saved_env: dict[str, str | None] = field(default_factory=dict)
    host: FunctionsHost | None = None

    def start_host(self, *, batch_size: int = 8, threshold: int = 4, visibility_timeout_s: float = 1.0,
                   max_polling_interval_s: float = 0.5) -> FunctionsHost:
        """Run the real function_app's queue functions (timers are fired explicitly with ``fire``)."""
        options = QueueOptions(batch_size=batch_size, new_batch_threshold=threshold, max_dequeue_count=5,
                               visibility_timeout_s=visibility_timeout_s,
                               max_polling_interval_s=max_polling_interval_s)
        self.host = FunctionsHost(queue_options=options, enable_timers=False).start()
        return self.host

    def fire(self, function: str) -> None:
        if self.host is None:
            raise RuntimeError("start_host() first")
        self.host.fire_timer(function)

    def sync(self, timeout_s: float = 300.0) -> None:
        """One poll, then wait until every queue is drained (the whole pipeline settled)."""
        self.fire("poll_cloudsuite")
        if self.host is None or not self.host.wait_idle(timeout_s=timeout_s, settle_s=0.5):
            raise TimeoutError(f"pipeline did not settle within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.host is not None:
            self.host.stop()
        reset_process_caches()
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.cloudsuite.stop()
        self.dataverse.stop()
        self.azurite.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _product_options(product: str, cloudsuite: CloudSuiteSimulator) -> dict[str, Any]:
    """What a connection must name for each product line (the simulator's values)."""
    if product == "csi":
        return {"csi": {"mongoose_config": cloudsuite.settings.csi_configs[0],
                        "site_timezone": cloudsuite.settings.csi_site_timezone}}
    return {}


def start_stack(product: str = "m3", *, suppliers: int = 200, customers: int = 200, seed: int = 1,
                cloudsuite_options: dict[str, Any] | None = None, dataverse_options: dict[str, Any] | None = None,
                connection_overrides: dict[str, Any] | None = None) -> LocalStack:
    """Start Azurite and both simulators, write secrets and the connections file, point the app settings at them."""
    workdir = Path(tempfile.mkdtemp(prefix="cloudsuite-sync-"))
    azurite = start_azurite()
    cloudsuite = CloudSuiteSimulator(suppliers=suppliers, customers=customers, seed=seed, products=(product,),
                                     **(cloudsuite_options or {})).start()
    dataverse = DataverseSimulator(**(dataverse_options or {})).start()
    secrets_dir = workdir / "secrets"
    secrets_dir.mkdir()
    name = f"local-{product}"
    ionapi_secret = f"ionapi-{name}"
    (secrets_dir / ionapi_secret).write_text(json.dumps(cloudsuite.ionapi()), encoding="utf-8")
    (secrets_dir / DATAVERSE_SECRET_NAME).write_text(dataverse.entra.client_secret, encoding="utf-8")
    connection: dict[str, Any] = {
        "name": name,
        "entities": ["supplier", "customer"],
        "cloudsuite": {"product": product, "ionapi_secret": ionapi_secret, "ca_bundle": cloudsuite.ca_bundle,
                       **_product_options(product, cloudsuite)},
        "dataverse": {"url": dataverse.url, "auth": "client_secret", "tenant_id": dataverse.entra.tenant,
                      "client_id": dataverse.entra.client_id, "client_secret_name": DATAVERSE_SECRET_NAME,
                      "authority": dataverse.authority, "ca_bundle": dataverse.ca_bundle},
        "mapping": {},
    }
    for section, values in (connection_overrides or {}).items():
        if isinstance(values, dict):
            connection.setdefault(section, {}).update(values)
        else:
            connection[section] = values
    connections_file = workdir / "connections.json"
    connections_file.write_text(json.dumps({"connections": [connection]}, indent=2), encoding="utf-8")
    env = {"AzureWebJobsStorage": azurite.connection_string, "POLL_SCHEDULE": NEVER, "REPLAY_SCHEDULE": NEVER,
           "SYNC_CONNECTIONS_FILE": str(connections_file), "SYNC_SECRETS_DIR": str(secrets_dir)}
    saved = {key: os.environ.get(key) for key in (*env, "SYNC_CONNECTIONS", "KEY_VAULT_URI")}
    os.environ.pop("SYNC_CONNECTIONS", None)
    os.environ.pop("KEY_VAULT_URI", None)
    os.environ.update(env)
    reset_process_caches()
    return LocalStack(azurite=azurite, cloudsuite=cloudsuite, dataverse=dataverse, workdir=workdir,
                      connection=name, product=product, env=env, saved_env=saved)
