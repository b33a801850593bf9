"""poll_cloudsuite's logic: read watermarks, stream changed pages, enqueue them, then advance the watermark."""

from __future__ import annotations

from shared.config import AppSettings


def run_poll(settings: AppSettings, *, past_due: bool = False) -> None:
    """Poll every enabled connection once (not implemented yet: see issue 5)."""
    raise NotImplementedError("the poll pipeline is not implemented yet (issue 5)")
