"""replay_deadletter's logic: move dead-lettered work back to its origin queue, or park it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from shared.config import AppSettings
from shared.errors import ConfigError

_FILTER_KEYS = ("job_id", "connection", "entity", "record_key", "since", "dry_run")


@dataclass(frozen=True)
class ReplayFilter:
    """Which dead-lettered items to replay; empty fields match everything."""

    job_id: str | None = None
    connection: str | None = None
    entity: str | None = None
    record_key: str | None = None
    since: datetime | None = None
    dry_run: bool = False

    @classmethod
    def from_params(cls, params: dict[str, str]) -> ReplayFilter:
        unknown = sorted(set(params) - set(_FILTER_KEYS) - {"code"})
        if unknown:
            raise ConfigError(f"unknown replay parameter(s) {unknown}; allowed: {list(_FILTER_KEYS)}")
        since = None
        if params.get("since"):
            try:
                since = datetime.fromisoformat(params["since"])
            except ValueError:
                raise ConfigError("'since' must be an ISO 8601 timestamp, e.g. 2026-11-27T08:00:00Z") from None
        dry_run = params.get("dry_run", "false").lower()
        if dry_run not in {"true", "false", "1", "0"}:
            raise ConfigError("'dry_run' must be true or false")
        return cls(job_id=params.get("job_id") or None, connection=params.get("connection") or None,
                   entity=params.get("entity") or None, record_key=params.get("record_key") or None,
                   since=since, dry_run=dry_run in {"true", "1"})


@dataclass
class ReplayReport:
    """What a replay did (or, for a dry run, would do)."""

    dry_run: bool = False
    replayed: int = 0
    parked: int = 0
    matched: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay(settings: AppSettings, selection: ReplayFilter) -> ReplayReport:
    """Replay matching dead-lettered items (not implemented yet: see issue 5)."""
    raise NotImplementedError("replay is not implemented yet (issue 5)")


def drain_poison_queues(settings: AppSettings) -> ReplayReport:
    """Move poison-queue messages back to their origin queue (not implemented yet: see issue 5)."""
    raise NotImplementedError("poison-queue drain is not implemented yet (issue 5)")
