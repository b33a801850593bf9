"""The writer's data types: what the pipeline hands in (UpsertRecord) and what it gets back (RecordOutcome)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Any

from shared import defaults

# logical name -> (entity set, primary id column); the only tables this connector writes.
TABLES: dict[str, tuple[str, str]] = {
    "account": ("accounts", "accountid"),
    "contact": ("contacts", "contactid"),
}
# A contact's parent account is bound through this single-valued navigation property (Customer lookup).
CONTACT_PARENT_NAV = "parentcustomerid_account"
PARENT_TABLE = "account"

# Codes of outcomes decided by the writer itself, before or instead of Dataverse (Dataverse codes are 0x...).
CODE_INVALID_KEY = "cssync.invalid_key"
CODE_RECORD_TOO_LARGE = "cssync.record_too_large"
CODE_INVALID_RECORD = "cssync.invalid_record"
CODE_SUPERSEDED = "cssync.superseded"
# Dataverse: "A record with the specified key values does not exist" (a bound parent is missing).
CODE_KEY_NOT_FOUND = "0x80060891"


class Status(StrEnum):
    """What happened to one record."""

    CREATED = "created"  # Dataverse created it (known only when it told us: $batch with representation)
    UPDATED = "updated"  # Dataverse updated it
    UPSERTED = "upserted"  # written; UpsertMultiple does not say whether it created or updated
    SUPERSEDED = "superseded"  # a later record with the same key in the same call was written instead
    FAILED = "failed"  # rejected (by us or by Dataverse) with ``code`` and ``message``: dead-letter it
    DEFERRED = "deferred"  # not written yet for a reason that should pass (missing parent account): retry later

    @property
    def written(self) -> bool:
        return self in (Status.CREATED, Status.UPDATED, Status.UPSERTED)


def _frozen(mapping: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class UpsertRecord:
    """One row to upsert by alternate key.

    ``key`` maps the alternate-key column(s) to their values (e.g. ``{"cssync_sourcekey": "M3-100-SUP1"}``);
    ``payload`` holds the other columns (key columns found there are dropped: Dataverse must not see them twice);
    ``ref`` is the caller's id for the audit trail (job/page/record); ``parent_key`` (contacts only) is the
    alternate-key value of the parent account, bound with ``parentcustomerid_account@odata.bind``.
    """

    table: str
    key: Mapping[str, str]
    payload: Mapping[str, Any]
    ref: str
    parent_key: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", _frozen(self.key))
        object.__setattr__(self, "payload", _frozen(self.payload))

    @cached_property
    def identity(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """(table, sorted normalised key items): equal identities address the same Dataverse row.

        Key values compare like Dataverse's SQL collation: case-insensitive, trailing blanks ignored. (The
        default collation is also accent-insensitive; treating accents as distinct only costs a fallback
        request when two such records meet, whereas merging distinct rows would lose one.)
        """
        return self.table, tuple(sorted((k, str(v).rstrip(" ").casefold()) for k, v in self.key.items()))


@dataclass(frozen=True)
class RecordOutcome:
    """The result for one record, ready for the audit trail and the dead-letter table."""

    ref: str
    table: str
    status: Status
    record_id: str | None = None
    code: str = ""
    message: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.status.written or self.status is Status.SUPERSEDED


@dataclass(frozen=True)
class Limits:
    """Packing limits of one connection, already validated (never above the product caps)."""

    max_request_bytes: int = defaults.DATAVERSE_MAX_REQUEST_BYTES
    max_operations: int = defaults.DATAVERSE_MAX_OPERATIONS

    def __post_init__(self) -> None:
        if not defaults.DATAVERSE_MIN_REQUEST_BYTES <= self.max_request_bytes <= defaults.DATAVERSE_MAX_REQUEST_BYTES:
            raise ValueError(f"max_request_bytes must be between {defaults.DATAVERSE_MIN_REQUEST_BYTES} and "
                             f"{defaults.DATAVERSE_MAX_REQUEST_BYTES}")
        if not 1 <= self.max_operations <= defaults.DATAVERSE_MAX_OPERATIONS:
            raise ValueError(f"max_operations must be between 1 and {defaults.DATAVERSE_MAX_OPERATIONS}")


class Mode(StrEnum):
    """How records are sent: UpsertMultiple (fewest bytes) or $batch of PATCHes (per-operation results)."""

    AUTO = "auto"  # UpsertMultiple where the environment supports it, else $batch
    UPSERT_MULTIPLE = "upsert_multiple"
    BATCH = "batch"
