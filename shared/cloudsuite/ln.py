"""LN through OData v4 (``lnapi``): ``tcapi.comBusinessPartner`` entity sets.

* ``$select``, ``$filter`` (role filter, qualified enum literals), ``$top``; follow ``@odata.nextLink``, else
  ``$skip`` until a short page (LinkPager). Header ``X-Infor-LnCompany`` when configured.
* No modified-date property exists on business partners: every run is a full scan (watermark None); the
  pipeline's record hashes drop unchanged rows.
* Enrichment ``addresses`` (off by default) uses ``$expand=AddressRef(...)``: no extra requests; fields
  arrive flattened as ``AddressRef.City`` etc.
* An OData ``error`` object (any status) raises ODataError. A nextLink to another host is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from shared.cloudsuite.adapter import Adapter, RawPage
from shared.cloudsuite.errors import HTTPStatusError, ODataError, PagingError
from shared.cloudsuite.page import clean_records
from shared.cloudsuite.paging import LinkPager

API = "/LN/lnapi/odata"


def odata_rows(body: Any, what: str) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(body, dict):
        raise ODataError(f"{what}: response is not an OData object")
    error = body.get("error")
    if error:
        message = error.get("message") or error.get("code") if isinstance(error, dict) else error
        raise ODataError(f"{what}: {message}")
    rows = body.get("value")
    if not isinstance(rows, list):
        raise ODataError(f"{what}: response has no 'value' list")
    return rows, body.get("@odata.nextLink")


class LNAdapter(Adapter):
    product = "ln"
    probe_path = f"{API}/tcapi.comBusinessPartner/$metadata"

    def key_field(self, entity: str) -> str:
        return self.config.ln.select[entity][0]  # the first selected property is the key (config contract)

    def start_watermark(self) -> str | None:
        return None

    def lower_bound(self, since: str, overlap_s: float) -> str | None:
        return None

    def _headers(self) -> dict[str, str]:
        return {"X-Infor-LnCompany": self.config.ln.company} if self.config.ln.company else {}

    def probe_headers(self) -> dict[str, str]:
        return self._headers()

    def looks_like_product(self, body: object) -> bool:
        if isinstance(body, dict):
            return "$Version" in body or "$EntityContainer" in body
        return isinstance(body, str) and "edmx" in body.lower()

    def pages(self, entity: str, lower: str | None) -> Iterator[RawPage]:
        ln = self.config.ln
        entity_set = ln.entity_sets[entity]
        key = self.key_field(entity)
        select = ln.select[entity]
        what = self.what(f"OData {ln.service}/{entity_set}")
        url = f"{self.api_base}{API}/{ln.service}/{entity_set}"
        base = {"$select": ",".join(select), "$filter": ln.filters.get(entity) or None}
        if "addresses" in self.config.enrich:
            base["$expand"] = f"AddressRef($select={','.join(ln.address_select)})"
        pager = LinkPager(self.config.page_size, self.config.max_pages, what)
        while not pager.done:

            def call() -> Any:
                if pager.next_link:
                    return self._get(self._checked_link(pager.next_link, what), None, what)
                params = {**base, "$top": pager.size, "$skip": pager.skip or None}
                return self._get(url, params, what)

            rows, next_link = odata_rows(self.fetch(pager, call, what), what)
            out = pager.advance(clean_records(rows), lambda r: r.get(key), next_link)
            yield RawPage(out, pager.done)

    def _get(self, url: str, params: dict[str, Any] | None, what: str) -> Any:
        try:
            return self.transport.get_json(url, params, self._headers(), what=what)
        except HTTPStatusError as exc:
            raise ODataError(exc.message) from None

    def _checked_link(self, link: str, what: str) -> str:
        absolute = urljoin(self.api_base + "/", link)
        ours, theirs = urlsplit(self.api_base), urlsplit(absolute)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise PagingError(f"{what}: @odata.nextLink points to another host; not sending the token there")
        return absolute
