"""What the client hands to the pipeline: one Page per list response, plus the record normalisation rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]
_DROPPED_KEYS = frozenset({"_ItemId"})  # CSI row handle: changes with every update, means nothing downstream
_DROPPED_PREFIXES = ("@odata.",)  # OData annotations (etag, context)


@dataclass(frozen=True)
class Page:
    """One page of changed records of one entity of one connection.

    ``watermark`` is the same on every page of a run: the product's "now" taken before the first list request.
    Store it (as the next run's ``since``) only after the last page of the run has been processed.
    """

    connection: str
    product: str  # m3 | csi | ln | fsm
    entity: str  # supplier | customer
    number: int  # 1-based, in request order
    records: tuple[Record, ...]  # product field names; string values trimmed, nulls kept as None
    key_field: str  # field holding the record key (M3 SUNO/CUNO, CSI VendNum/CustNum, ...)
    watermark: str | None  # store after the run; None = product has no change stamp (full scan every run)
    since: str | None  # the lower bound actually queried (previous watermark minus overlap), None = full scan
    last: bool  # no more pages in this run

    def key_values(self) -> list[str]:
        return [str(r.get(self.key_field, "")) for r in self.records]


def clean_record(raw: Mapping[str, Any], prefix: str = "") -> Record:
    """Trimmed values, dropped annotations, nested objects flattened to dotted names (``AddressRef.City``).

    Hot path (every field of every record): exact type checks, no per-field function calls.
    """
    out: Record = {}
    for name, value in raw.items():
        if name in _DROPPED_KEYS or name.startswith(_DROPPED_PREFIXES):
            continue
        kind = type(value)
        if kind is str:
            out[prefix + name if prefix else name] = value.strip()
        elif kind is dict:
            out.update(clean_record(value, f"{prefix}{name}."))
        else:
            out[prefix + name if prefix else name] = value
    return out


def clean_records(rows: Iterable[Mapping[str, Any]]) -> list[Record]:
    return [clean_record(r) for r in rows if isinstance(r, dict)]
