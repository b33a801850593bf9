"""CSI (SyteLine / Mongoose) through IDO REST v2: ``/CSI/IDORequestService/ido/load/{IDO}``.

* ``SLVendors`` / ``SLCustomers`` with ``properties``, ``orderby`` on the key, ``recordCap`` + ``loadType=NEXT``
  + ``bookmark`` until ``MoreRowsExist`` is false (BookmarkPager); header ``X-Infor-MongooseConfig``.
* Change detection: ``filter=RecordDate >= 'YYYY-MM-DD HH:MM:SS'`` in the SITE's time zone
  (``csi.site_timezone``); customers also ``OR AdrRecordDate >= ...`` (address-only edits). The watermark is
  the site-local "now" taken before the first request (no server call).
* ``Success: false`` / ``Items: null`` inside HTTP 200 raise IDOError with the server's Message.
* Items are normalised from all three documented shapes; key values are stripped of their padding.
* No enrichment: both IDOs already carry address, phone and e-mail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.cloudsuite.adapter import Adapter, RawPage
from shared.cloudsuite.errors import IDOError
from shared.cloudsuite.page import Record, clean_record
from shared.cloudsuite.paging import BookmarkPager
from shared.errors import ConfigError

API = "/CSI/IDORequestService/ido"
IDOS = {"supplier": ("SLVendors", "VendNum"), "customer": ("SLCustomers", "CustNum")}
WATERMARK_FORMAT = "%Y-%m-%d %H:%M:%S"  # the documented filter literal format


def ido_items(body: Any, properties: tuple[str, ...], what: str) -> list[Record]:
    """Items as dicts, whichever of the three documented shapes the server used; raise on Success false."""
    if not isinstance(body, dict):
        raise IDOError(f"{what}: response is not an IDO result object")
    items = body.get("Items")
    if body.get("Success") is False or items is None:
        message = str(body.get("Message") or "Success is false and no Items were returned").strip()
        raise IDOError(f"{what}: {message}")
    out: list[Record] = []
    for item in items:
        if isinstance(item, dict):
            out.append(clean_record(item))
        elif isinstance(item, list) and item and all(isinstance(c, dict) and "Name" in c for c in item):
            out.append(clean_record({c["Name"]: c.get("Value") for c in item}))  # [{"Name":..,"Value":..}]
        elif isinstance(item, list):
            out.append(clean_record(dict(zip(properties, item, strict=False))))  # v1 positional rows
    return out


class CSIAdapter(Adapter):
    product = "csi"
    probe_path = f"{API}/configurations"

    def key_field(self, entity: str) -> str:
        return IDOS[entity][1]

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.csi.site_timezone)

    def start_watermark(self) -> str | None:
        return datetime.now(self._zone()).strftime(WATERMARK_FORMAT)

    def lower_bound(self, since: str, overlap_s: float) -> str | None:
        """``since - overlap``, minus the DST shift when the site's UTC offset changed since ``since``:
        after clocks go back, local times repeat, and rows stamped in the repeated hour sort before ``since``."""
        try:
            stamp = datetime.strptime(str(since).strip(), WATERMARK_FORMAT)
        except ValueError:
            raise ConfigError(self.what(f"stored watermark {since!r} is not 'YYYY-MM-DD HH:MM:SS'")) from None
        zone = self._zone()
        then, now = stamp.replace(tzinfo=zone).utcoffset(), datetime.now(zone).utcoffset()
        shift = abs(now - then) if now is not None and then is not None else timedelta(0)
        return (stamp - timedelta(seconds=overlap_s) - shift).strftime(WATERMARK_FORMAT)

    def probe_headers(self) -> dict[str, str]:
        config = self.config.csi.mongoose_config
        return {"X-Infor-MongooseConfig": config} if config else {}

    def looks_like_product(self, body: object) -> bool:
        if isinstance(body, list):
            return all(isinstance(name, str) for name in body)  # the configuration names
        return isinstance(body, dict) and any(k in body for k in ("Configurations", "configurations"))

    def _filter(self, entity: str, lower: str | None) -> str:
        base = self.config.csi.filters.get(entity, "")
        if lower is None:
            return base
        changed = f"RecordDate >= '{lower}'"
        if entity == "customer" and self.config.csi.address_date:
            changed = f"({changed} OR AdrRecordDate >= '{lower}')"
        return f"({base}) AND {changed}" if base else changed

    def pages(self, entity: str, lower: str | None) -> Iterator[RawPage]:
        ido, key = IDOS[entity]
        properties = self.config.csi.properties[entity]
        if key not in properties:
            properties = (key, *properties)
        orderby = "CustNum,CustSeq" if entity == "customer" and "CustSeq" in properties else key
        what = self.what(f"IDO {ido}")
        url = f"{self.api_base}{API}/load/{ido}"
        headers = {"X-Infor-MongooseConfig": self.config.csi.mongoose_config}
        filter_ = self._filter(entity, lower)
        pager = BookmarkPager(self.config.page_size, self.config.max_pages, what)
        while not pager.done:
            params = {"properties": ",".join(properties), "filter": filter_ or None, "orderBy": orderby,
                      "recordCap": pager.size, "loadType": "NEXT", "bookmark": pager.cursor,
                      "readOnly": "true"}  # no _ItemId row handles: we never update

            def call(params: dict[str, Any] = params) -> Any:
                params = {**params, "recordCap": pager.size}
                return self.transport.get_json(url, params, headers, what=what)

            body = self.fetch(pager, call, what)
            rows = ido_items(body, properties, what)
            bookmark = body.get("Bookmark")
            out = pager.advance(rows, lambda r: (r.get(key), r.get("CustSeq")), bookmark,
                                bool(body.get("MoreRowsExist")))
            yield RawPage(out, pager.done)
