"""FSM (Infor Landmark) through ION: ``/FSM/fsm/soap/classes/{BusinessClass}/lists/{ListName}``.

* ``_fields`` (dotted relations allowed), ``_limit`` / ``_offset`` until a short page (OffsetPager).
* Response: a JSON array whose first element is metadata, then ``{"_fields": {...}}`` per record; also the
  ``{"_count": n, "_records": [...]}`` form.
* Change detection: only when ``fsm.modified_field`` is set (``_lplFilter`` with a double-quoted UTC stamp,
  watermark = UTC now at run start); else a full scan (watermark None), as the reference recommends.
* ``ConditionNode tree failed`` (bad ``_lplFilter``), in any status, raises LandmarkError.
* Query strings encode spaces as %20 (Landmark reads '+' literally); see transport.encode_query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.cloudsuite.adapter import Adapter, RawPage
from shared.cloudsuite.errors import HTTPStatusError, LandmarkError
from shared.cloudsuite.page import Record, clean_record
from shared.cloudsuite.paging import OffsetPager
from shared.cloudsuite.transport import BODY_EXCERPT
from shared.errors import ConfigError

API = "/FSM/fsm/soap/classes"
_FILTER_ERROR = "ConditionNode tree failed"


def landmark_records(body: Any, what: str) -> list[Record]:
    if isinstance(body, dict):
        if _FILTER_ERROR in str(body) or ("_records" not in body and ("message" in body or "error" in body)):
            raise LandmarkError(f"{what}: {str(body.get('message') or body.get('error') or body)[:BODY_EXCERPT]}")
        items = body.get("_records") or []
    elif isinstance(body, list):
        items = body
    else:
        raise LandmarkError(f"{what}: response is neither a list nor a record object")
    out: list[Record] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("_fields"), dict):
            out.append(clean_record(item["_fields"]))
    return out


class FSMAdapter(Adapter):
    product = "fsm"
    probe_path = f"{API}/Vendor/lists/_generic?_fields=Vendor&_limit=1"

    def key_field(self, entity: str) -> str:
        return self.config.fsm.fields[entity][0]

    def start_watermark(self) -> str | None:
        if not self.config.fsm.modified_field:
            return None
        return datetime.now(UTC).strftime(self.config.fsm.timestamp_format)

    def lower_bound(self, since: str, overlap_s: float) -> str | None:
        fmt = self.config.fsm.timestamp_format
        if not self.config.fsm.modified_field:
            return None
        try:
            stamp = datetime.strptime(str(since).strip(), fmt)
        except ValueError:
            raise ConfigError(self.what(f"stored watermark {since!r} does not match {fmt!r}")) from None
        return (stamp - timedelta(seconds=overlap_s)).strftime(fmt)

    def looks_like_product(self, body: object) -> bool:
        """A Landmark list: an array whose first element is the metadata or a record."""
        return (isinstance(body, list) and bool(body) and isinstance(body[0], dict)
                and any(k in body[0] for k in ("_count", "_links", "_fields")))

    def pages(self, entity: str, lower: str | None) -> Iterator[RawPage]:
        fsm = self.config.fsm
        fields = fsm.fields[entity]
        key = fields[0]
        what = self.what(f"{fsm.classes[entity]}/lists/{fsm.list_name}")
        url = f"{self.api_base}{API}/{fsm.classes[entity]}/lists/{fsm.list_name}"
        lpl = f'{fsm.modified_field} >= "{lower}"' if lower is not None and fsm.modified_field else None
        pager = OffsetPager(self.config.page_size, self.config.max_pages, what)
        while not pager.done:

            def call() -> Any:
                params = {"_fields": ",".join(fields), "_limit": pager.size, "_offset": pager.offset,
                          "_lplFilter": lpl}
                try:
                    return self.transport.get_json(url, params, what=what)
                except HTTPStatusError as exc:
                    if _FILTER_ERROR in exc.message:
                        raise LandmarkError(exc.message) from None
                    raise

            rows = landmark_records(self.fetch(pager, call, what), what)
            out = pager.advance(rows, lambda r: r.get(key))
            yield RawPage(out, pager.done)
