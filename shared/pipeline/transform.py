"""transform_records' logic: map a page message's records, drop unchanged ones, pack write batches."""

from __future__ import annotations

from shared.config import AppSettings


def handle_page_message(settings: AppSettings, body: bytes, *, dequeue_count: int) -> None:
    """Transform one page message (not implemented yet: see issue 5)."""
    raise NotImplementedError("the transform pipeline is not implemented yet (issue 5)")
