"""M3 through MI REST v2: CRS620MI (suppliers) and CRS610MI (customers) list transactions.

* Paging: start key + ``maxrecs`` (sent as query AND matrix parameter, reference 2.1), look-ahead row, the
  repeated start row dropped (KeyCursorPager).
* Lists: suppliers ``CRS620MI/LstSuppliers`` (start key ``FRSU``), customers ``CRS610MI/LstByNumber``
  (``CUNO``), for full and incremental runs alike.
* Change detection (``m3.change_detection``): ``lmts`` passes ``LMTS`` = watermark - overlap to the list;
  ``exportmi`` runs ``EXPORTMI/Select ... where xxLMDT >= date``; ``none`` always lists everything.
  The watermark is ``CRS620MI/GetServerTime`` ``LMTS`` (epoch ms), read before the first list request.
* MI errors inside HTTP 200 raise MIError with errorCode / errorField / errorType.
* Enrichment (off by default): ``addresses`` / ``contacts`` add one MI bulk POST per page (LstAddresses,
  LstSupplierRef per key), attached as ``_addresses`` / ``_contacts`` lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.cloudsuite.adapter import Adapter, RawPage
from shared.cloudsuite.errors import MIError, RemoteError
from shared.cloudsuite.page import Record, clean_records
from shared.cloudsuite.paging import KeyCursorPager
from shared.errors import ConfigError

API = "/M3/m3api-rest/v2/execute"


@dataclass(frozen=True)
class ListSpec:
    program: str
    transaction: str
    key: str  # output key field
    start_input: str  # input field that positions the list
    lmts_input: str  # input field taking the modified-since stamp


# One transaction per entity for full and incremental runs, so both return the same fields (a field missing
# from incremental runs would look like a cleared value downstream). CRS620MI/LstByNumber has no LMTS input and
# needs SUNO; LstSuppliers takes FRSU (start key) and LMTS, so suppliers always use it.
LISTS = {
    "supplier": ListSpec("CRS620MI", "LstSuppliers", "SUNO", "FRSU", "LMTS"),
    "customer": ListSpec("CRS610MI", "LstByNumber", "CUNO", "CUNO", "LMTS"),
}
EXPORT_TABLES = {"supplier": ("CIDMAS", "ID", "SUNO"), "customer": ("OCUSMA", "OK", "CUNO")}
ENRICH = {  # kind -> entity -> (program, transaction)
    "addresses": {"supplier": ("CRS620MI", "LstAddresses"), "customer": ("CRS610MI", "LstAddresses")},
    "contacts": {"supplier": ("CRS620MI", "LstSupplierRef")},
}


def mi_records(body: Any, what: str) -> list[dict[str, Any]]:
    """Records of the single transaction in a v2 response; raise MIError for any failure reported in it."""
    if not isinstance(body, dict):
        raise RemoteError(f"{what}: response is not an MI result object")
    results = body.get("results") or []
    for result in results:
        if isinstance(result, dict) and (result.get("errorMessage") or result.get("errorCode")):
            raise _mi_error(result, what)
    if (body.get("nrOfFailedTransactions") or 0) > 0 or body.get("wasTerminated"):
        reason = body.get("terminationReason") or body.get("terminationErrorType") or "transaction failed"
        raise MIError(f"{what}: {str(reason).strip()}", error_type=str(body.get("terminationErrorType") or ""))
    if not results:
        return []
    records = results[0].get("records") if isinstance(results[0], dict) else None
    return [r for r in records or [] if isinstance(r, dict)]


def _mi_error(result: dict[str, Any], what: str) -> MIError:
    code = str(result.get("errorCode") or "").strip()
    field = str(result.get("errorField") or "").strip()
    error_type = str(result.get("errorType") or "").strip()
    text = str(result.get("errorMessage") or "").strip()
    detail = ", ".join(p for p in (f"errorCode {code}" if code else "", f"errorField {field}" if field else "",
                                   error_type) if p)
    return MIError(f"{what}: {text or 'MI error'} ({detail})", code=code, field=field, error_type=error_type)


class M3Adapter(Adapter):
    product = "m3"
    probe_path = f"{API}/CRS620MI/GetServerTime"

    def key_field(self, entity: str) -> str:
        return LISTS[entity].key

    # --- watermark ------------------------------------------------------------------------------
    def start_watermark(self) -> str | None:
        if self.config.m3.change_detection == "none":
            return None
        records = self._get("CRS620MI", "GetServerTime", {}, maxrecs=None, returncols=(), what="GetServerTime")
        lmts = str(records[0].get("LMTS") or "").strip() if records else ""
        if not lmts.isdigit():
            raise RemoteError(self.what("CRS620MI/GetServerTime: no numeric LMTS in the response"))
        return lmts

    def lower_bound(self, since: str, overlap_s: float) -> str | None:
        if self.config.m3.change_detection == "none":
            return None
        if not str(since).strip().isdigit():
            raise ConfigError(self.what(f"stored watermark {since!r} is not an M3 LMTS (epoch milliseconds)"))
        return str(max(0, int(since) - int(overlap_s * 1000)))

    def looks_like_product(self, body: object) -> bool:
        try:
            records = mi_records(body, "probe")
        except RemoteError:
            return False
        return bool(records) and "LMTS" in records[0]

    # --- listing --------------------------------------------------------------------------------
    def pages(self, entity: str, lower: str | None) -> Iterator[RawPage]:
        if lower is not None and self.config.m3.change_detection == "exportmi":
            yield from self._export_pages(entity, lower)
            return
        spec = LISTS[entity]
        cols = self._returncols(entity, spec.key)
        what = self.what(f"{spec.program}/{spec.transaction}")
        pager = KeyCursorPager(self.config.page_size, self.config.max_pages, what)
        while not pager.done:
            inputs: dict[str, str] = {}
            if self.config.m3.cono:
                inputs["CONO"] = self.config.m3.cono
            if pager.cursor:
                inputs[spec.start_input] = pager.cursor
            if lower is not None:
                inputs[spec.lmts_input] = lower

            def call(inputs: dict[str, str] = inputs) -> list[dict[str, Any]]:
                return self._get(spec.program, spec.transaction, inputs, maxrecs=pager.request_size,
                                 returncols=cols, what=what)

            rows = self.fetch(pager, call, what)
            out = pager.advance(clean_records(rows), lambda r: str(r.get(spec.key, "")))
            yield RawPage(self._enrich(entity, out, spec.key), pager.done)

    def _export_pages(self, entity: str, lower_lmts: str) -> Iterator[RawPage]:
        table, prefix, key = EXPORT_TABLES[entity]
        key_col = prefix + key
        m3 = self.config.m3
        day = datetime.fromtimestamp(int(lower_lmts) / 1000, tz=UTC).astimezone(ZoneInfo(m3.timezone))
        cols = [key_col] + [prefix + c for c in m3.returncols[entity] if c != key]
        what = self.what(f"EXPORTMI/Select on {table}")
        pager = KeyCursorPager(self.config.page_size, self.config.max_pages, what)
        while not pager.done:
            where = [f"{prefix}LMDT >= {day:%Y%m%d}"]
            if m3.cono:
                where.insert(0, f"{prefix}CONO = {m3.cono}")
            if pager.cursor:
                where.append(f"{key_col} > '{pager.cursor.replace(chr(39), chr(39) * 2)}'")
            query = f"{', '.join(cols)} from {table} where {' and '.join(where)}"
            inputs = {"QERY": query, "SEPC": m3.exportmi_separator, "HDRS": "1"}

            def call(inputs: dict[str, str] = inputs) -> list[dict[str, Any]]:
                # +1 on top of the look-ahead: the header row counts against maxrecs
                return self._get("EXPORTMI", "Select", inputs, maxrecs=pager.request_size + 1, returncols=(),
                                 what=what)

            rows = self._parse_export(self.fetch(pager, call, what), prefix, what)
            out = pager.advance(rows, lambda r: str(r.get(key, "")))
            yield RawPage(out, pager.done)

    def _parse_export(self, rows: list[dict[str, Any]], prefix: str, what: str) -> list[Record]:
        """REPL lines -> records named like the list transactions' fields (OKCUNO -> CUNO)."""
        lines = [str(r.get("REPL", "")) for r in rows]
        if not lines:
            return []
        sep = self.config.m3.exportmi_separator
        header = [h.strip().removeprefix(prefix) for h in lines[0].split(sep)]
        out: list[Record] = []
        for line in lines[1:]:
            values = line.split(sep)
            if len(values) != len(header):
                raise RemoteError(f"{what}: a row has {len(values)} fields for {len(header)} columns; the "
                                  f"separator '{sep}' occurs in the data: set m3.exportmi_separator")
            out.append({h: v.strip() for h, v in zip(header, values, strict=True)})
        return out

    def _returncols(self, entity: str, key: str) -> tuple[str, ...]:
        cols = self.config.m3.returncols[entity]
        return cols if key in cols else (key, *cols)

    def _get(self, program: str, transaction: str, inputs: dict[str, str], *, maxrecs: int | None,
             returncols: tuple[str, ...], what: str) -> list[dict[str, Any]]:
        matrix = ""
        params: dict[str, Any] = dict(inputs)
        if maxrecs is not None:
            matrix += f";maxrecs={maxrecs}"
            params["maxrecs"] = maxrecs
        if returncols:
            matrix += f";returncols={','.join(returncols)}"
            params["returncols"] = ",".join(returncols)
        if self.config.m3.cono:
            params["cono"] = self.config.m3.cono
        if self.config.m3.divi:
            params["divi"] = self.config.m3.divi
        url = f"{self.api_base}{API}/{program}/{transaction}{matrix}"
        return mi_records(self.transport.get_json(url, params, what=what), what)

    # --- enrichment -------------------------------------------------------------------------------
    def _enrich(self, entity: str, records: list[Record], key: str) -> list[Record]:
        for kind in sorted(self.config.enrich):
            target = ENRICH.get(kind, {}).get(entity)
            if target is None or not records:
                continue
            program, transaction = target
            what = self.what(f"{program}/{transaction} (bulk, {len(records)} keys)")
            body = {"program": program, "maxReturnedRecords": 0, "rightTrim": True, "excludeEmptyValues": False,
                    "transactions": [{"transaction": transaction, "record": {key: r[key]}} for r in records]}
            if self.config.m3.cono:
                body["cono"] = int(self.config.m3.cono)
            response = self.transport.request_json("POST", f"{self.api_base}{API}", body=body, what=what,
                                                   params={"format": "COMPACT", "extendedresult": "false"})
            results = response.get("results") if isinstance(response, dict) else None
            if not isinstance(results, list) or len(results) != len(records):
                raise RemoteError(f"{what}: expected {len(records)} results")
            for record, result in zip(records, results, strict=True):
                if result.get("errorMessage"):
                    record[f"_{kind}"] = []  # e.g. no addresses: MI reports "record does not exist"
                    continue
                record[f"_{kind}"] = clean_records(result.get("records") or [])
        return records
