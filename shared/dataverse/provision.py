"""Provisioning: make sure the alternate-key column(s) and keys exist and are Active on account and contact,
and create them through the metadata API when asked. Idempotent: the second run changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from azure.core.credentials import TokenCredential

from shared import defaults
from shared.dataverse.auth import credential_for
from shared.dataverse.client import DataverseError, WebApiClient
from shared.dataverse.config import DataverseConfig
from shared.dataverse.flow import concurrency_for, gate_for
from shared.dataverse.keys import literal
from shared.dataverse.model import TABLES

LANGUAGE_CODE = 1033  # labels are created in English; Dataverse shows them in every UI language without one
SCHEMA_NAME_MAX = 100  # Dataverse's limit on a key's SchemaName
STRONG = {"Consistency": "Strong"}  # read metadata we may have changed seconds ago


@dataclass(frozen=True)
class TableReport:
    """The state of one table's key after provisioning."""

    table: str
    key_columns: tuple[str, ...]
    missing_columns: tuple[str, ...] = ()
    created_columns: tuple[str, ...] = ()
    key_schema_name: str | None = None
    key_status: str | None = None  # EntityKeyIndexStatus: Pending, InProgress, Active, Failed; None = no key
    key_created: bool = False
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.key_status == "Active" and not self.missing_columns and not self.problems


@dataclass(frozen=True)
class ProvisionReport:
    url: str
    created: bool  # whether creation was allowed
    tables: tuple[TableReport, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    @property
    def changed(self) -> bool:
        return any(t.created_columns or t.key_created for t in self.tables)

    def summary(self) -> str:
        lines = []
        for t in self.tables:
            state = "OK" if t.ok else "NOT READY"
            detail = f"key {t.key_schema_name or '-'} on {', '.join(t.key_columns)}: {t.key_status or 'missing'}"
            if t.missing_columns:
                detail += f"; missing columns {', '.join(t.missing_columns)}"
            if t.created_columns:
                detail += f"; created columns {', '.join(t.created_columns)}"
            if t.key_created:
                detail += "; key created"
            lines.append(f"{t.table}: {state} ({detail})" + "".join(f"\n  - {p}" for p in t.problems))
        return "\n".join(lines)


def _label(text: str) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label",
            "LocalizedLabels": [{"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text,
                                 "LanguageCode": LANGUAGE_CODE}]}


def key_schema_name(columns: tuple[str, ...]) -> str:
    return ("_".join(columns) + "_key")[:SCHEMA_NAME_MAX]


class Provisioner:
    """Checks and creates key columns and alternate keys of one environment."""

    def __init__(self, client: WebApiClient, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.config = client.config
        self._sleep = sleep
        self._clock = clock

    def _entity(self, table: str) -> str:
        return f"EntityDefinitions(LogicalName={literal(table)})"

    def _solution_headers(self) -> dict[str, str]:
        return {"MSCRM.SolutionUniqueName": self.config.solution} if self.config.solution else {}

    def column_exists(self, table: str, column: str) -> bool:
        try:
            self.client.request("GET", f"{self._entity(table)}/Attributes(LogicalName={literal(column)})",
                                params={"$select": "LogicalName"}, headers=STRONG)
        except DataverseError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def keys(self, table: str) -> list[dict[str, Any]]:
        response = self.client.request("GET", f"{self._entity(table)}/Keys", headers=STRONG, params={
            "$select": "SchemaName,LogicalName,KeyAttributes,EntityKeyIndexStatus,MetadataId"})
        return list(response.json().get("value", []))

    def find_key(self, table: str, columns: tuple[str, ...]) -> dict[str, Any] | None:
        for key in self.keys(table):
            if sorted(key.get("KeyAttributes") or []) == sorted(columns):
                return key
        return None

    def create_column(self, table: str, column: str) -> None:
        self.client.request("POST", f"{self._entity(table)}/Attributes", headers=self._solution_headers(), json_body={
            "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
            "AttributeType": "String",
            "AttributeTypeName": {"Value": "StringType"},
            "SchemaName": column,
            "MaxLength": defaults.DATAVERSE_KEY_MAX_LENGTH,
            "FormatName": {"Value": "Text"},
            "RequiredLevel": {"Value": "None", "CanBeChanged": True,
                              "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
            "DisplayName": _label("CloudSuite source key"),
            "Description": _label("Key of the record in Infor CloudSuite, written by cloudsuite-sync"),
        })

    def create_key(self, table: str, columns: tuple[str, ...]) -> None:
        self.client.request("POST", f"{self._entity(table)}/Keys", headers=self._solution_headers(), json_body={
            "@odata.type": "Microsoft.Dynamics.CRM.EntityKeyMetadata",
            "SchemaName": key_schema_name(columns),
            "DisplayName": _label("CloudSuite source key"),
            "KeyAttributes": list(columns),
        })

    def wait_for_key(self, table: str, columns: tuple[str, ...], timeout_s: float, poll_s: float
                     ) -> dict[str, Any] | None:
        """Poll until the key's index is Active or Failed, or the deadline passes (returns the last state)."""
        deadline = self._clock() + timeout_s
        while True:
            key = self.find_key(table, columns)
            if key is None or key.get("EntityKeyIndexStatus") in ("Active", "Failed") or self._clock() >= deadline:
                return key
            self._sleep(poll_s)

    def table(self, table: str, create: bool, timeout_s: float, poll_s: float) -> TableReport:
        columns = tuple(self.config.key_columns[table])
        missing = tuple(c for c in columns if not self.column_exists(table, c))
        created_columns: tuple[str, ...] = ()
        problems: list[str] = []
        if missing and create:
            for column in missing:
                self.create_column(table, column)
            created_columns, missing = missing, ()
        key = self.find_key(table, columns) if not missing else None
        key_created = False
        if key is None and create and not missing:
            self.create_key(table, columns)
            key_created = True
        if key_created or (key is not None and key.get("EntityKeyIndexStatus") not in ("Active", "Failed")
                           and create):
            key = self.wait_for_key(table, columns, timeout_s, poll_s)
        status = key.get("EntityKeyIndexStatus") if key else None
        if missing:
            problems.append(f"column(s) {', '.join(missing)} do not exist on {table} (run provisioning with create)")
        elif key is None:
            problems.append(f"no alternate key on {table} over {', '.join(columns)} (run provisioning with create)")
        elif status == "Failed":
            problems.append(f"the index of key {key.get('SchemaName')} on {table} FAILED to build: usually rows "
                            f"with duplicate {', '.join(columns)} values; fix the data, then reactivate the key "
                            "(ReactivateEntityKey)")
        elif status != "Active":
            problems.append(f"key {key.get('SchemaName')} on {table} is still {status}; the index job has not "
                            "finished (wait and run again)")
        return TableReport(table=table, key_columns=columns, missing_columns=missing, created_columns=created_columns,
                           key_schema_name=key.get("SchemaName") if key else None, key_status=status,
                           key_created=key_created, problems=tuple(problems))


def provision(config: DataverseConfig, create: bool = False, *, credential: TokenCredential | None = None,
              secret: str | None = None, session: requests.Session | None = None,
              timeout_s: float = defaults.DATAVERSE_PROVISION_TIMEOUT_S,
              poll_s: float = defaults.DATAVERSE_PROVISION_POLL_S) -> ProvisionReport:
    """Check (and with ``create`` make) the key columns and alternate keys of account and contact.

    Returns a report; ``report.ok`` is True when every key is Active. Creating waits for the index jobs up to
    ``timeout_s``. A Failed index is reported (it needs a data fix), never retried blindly.
    """
    renew = None if credential else lambda: credential_for(config, secret, renew=True)
    client = WebApiClient(config, credential or credential_for(config, secret), session, gate=gate_for(config.url),
                          concurrency=concurrency_for(config.url, config.max_concurrency),
                          renew_credential=renew)
    try:
        provisioner = Provisioner(client)
        reports = tuple(provisioner.table(table, create, timeout_s, poll_s) for table in TABLES)
    finally:
        if session is None:
            client.close()
    return ProvisionReport(url=config.url, created=create, tables=reports)
