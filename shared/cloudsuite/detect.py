"""``product: auto``: probe one cheap read per product line (reference 1.4); only 2xx + a valid body counts."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shared.cloudsuite.adapter import Adapter
from shared.cloudsuite.errors import ProductNotDetectedError
from shared.errors import ConfigError, FatalError, TransientError

log = logging.getLogger(__name__)


def detect_product(adapters: Sequence[Adapter], connection: str) -> Adapter:
    """The one adapter whose product answers; ConfigError when none or several do."""
    found: list[Adapter] = []
    outcomes: list[str] = []
    for adapter in adapters:
        try:
            probe = adapter.probe()
            detail = probe.detail
        except (TransientError, FatalError) as exc:
            if isinstance(exc, ConfigError):
                raise
            found_it, detail = False, f"inconclusive ({type(exc).__name__}: {exc.message})"
        else:
            found_it = probe.present
        outcomes.append(f"{adapter.product}: {detail}")
        log.info("connection '%s': probe %s -> %s", connection, adapter.product, detail)
        if found_it:
            found.append(adapter)
    if len(found) == 1:
        return found[0]
    summary = "; ".join(outcomes)
    if not found:
        raise ProductNotDetectedError(f"connection '{connection}': product 'auto' but no product line answered its "
                                      f"probe ({summary}); set cloudsuite.product explicitly")
    names = ", ".join(a.product for a in found)
    raise ConfigError(f"connection '{connection}': product 'auto' is ambiguous, several product lines answer "
                      f"({names}); set cloudsuite.product explicitly")
