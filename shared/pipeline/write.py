"""write_dataverse's logic: upsert one write batch and record per-record outcomes."""

from __future__ import annotations

from shared.config import AppSettings


def handle_write_message(settings: AppSettings, body: bytes, *, dequeue_count: int) -> None:
    """Write one batch message (not implemented yet: see issue 5)."""
    raise NotImplementedError("the write pipeline is not implemented yet (issue 5)")
