"""M3 MI REST (reference 2): CRS620MI, CRS610MI, CRS111MI, EXPORTMI over v2 GET, v2 bulk POST and v1 GET."""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from localdev.cloudsuite.data import COUNTRIES, Company
from localdev.cloudsuite.product import (
    PRIMARY_AREA,
    Context,
    Product,
    UnknownRecord,
    bulk_build,
    check_entity,
    unknown_fields,
)
from localdev.cloudsuite.store import Table
from localdev.simserver import Request, Response

# Output columns per transaction (reference 2.3; a realistic subset of each list).
SUP_LIST = ("CONO", "SUNO", "SUTY", "SUNM", "ALSU", "STAT", "CORG", "COR2", "LNCD", "PHNO", "PHN2", "TLNO", "TFNO",
            "CSCD", "DTFM", "EDIT", "VRNO", "SUCO", "SUAL", "SUCM", "MEPF", "PODA", "SFI1", "SFI2", "SFI3", "SFI4",
            "SFI5", "HAFE", "TXID", "ECAR", "FWSC", "RASN", "TXI2", "DESV", "GEOC", "PPIN")
SUP_EXTRA = ("SUCL", "CUCD", "TEPY", "PYME", "BUYE", "RESP", "TINO")
SUP_BASIC = SUP_LIST + SUP_EXTRA
SUP_SUPPLIERS = ("SUNO", "SUNM", "LNCD", "PHNO", "CSCD", "ECAR", "SUCL", "CUCD", "TEPY", "PYME", "BUYE", "RESP",
                 "TINO", "SUTY", "STAT", "VRNO")
STAMPS = ("RGDT", "LMDT", "LMTS", "CHNO")
SUP_COLUMNS = SUP_BASIC + STAMPS
SUP_ADDR_LIST = ("CONO", "SUNO", "ADTE", "ADID", "STDT", "SUNM", "ADR1", "ADR2", "ADR3", "ADR4", "TOWN", "ECAR",
                 "PONO", "CSCD", "GEOC", "SADR")
SUP_ADDR_GET = ("SUNO", "ADTE", "ADID", "STDT", "ADR1", "ADR2", "ADR3", "ADR4", "CSCD", "CSNM", "PONO", "TOWN",
                "ECAR", "TAXC", "RGDT", "RGTM", "LMDT", "CHNO", "CHID", "LMTS")
SUP_ADDR_COLUMNS = (*SUP_ADDR_LIST, "CSNM", "TAXC", "RGTM", "CHID", "RGDT", "LMDT", "LMTS", "CHNO")
SUP_REF = ("CONO", "SUNO", "RFTY", "RFID", "YRE1", "PHNO", "TFNO", "EMAL", "SUCM", "REMK")
CUS_LIST = ("CONO", "DIVI", "LNCD", "CUNO", "CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "PONO", "PHNO", "PHN2", "TFNO",
            "CUTP", "ALCU", "YREF", "YRE2", "MAIL", "CSCD", "ECAR", "CORG", "CUCD", "VTCD", "VRNO", "CUCL", "SMCD",
            "TEPY", "PYNO", "STAT", "TOWN", "FRCO")
CUS_BASIC = (*CUS_LIST, "LMDT", "RGDT", "CHNO", "TXCO")
CUS_COLUMNS = (*CUS_LIST, "TXCO", *STAMPS)
CUS_ADDR_LIST = ("CONO", "CUNO", "ADRT", "ADID", "CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "PONO", "PHNO", "TFNO",
                 "YREF", "CSCD", "TOWN", "ECAR", "VRNO", "FVDT", "LVDT")
CUS_ADDR_COLUMNS = (*CUS_ADDR_LIST, "LMDT", "LMTS", "CHNO")
EMAIL = ("EMTP", "EMKY", "EMAL")

# Field lengths used for truncation of generated data and for InputFieldTooLong (reference 2.3).
LENGTHS = {"SUNO": 10, "CUNO": 10, "SUNM": 36, "CUNM": 36, "ADR1": 36, "ADR2": 36, "ADR3": 36, "ADR4": 36,
           "CUA1": 36, "CUA2": 36, "CUA3": 36, "CUA4": 36, "TOWN": 20, "PONO": 10, "PHNO": 16, "PHN2": 16,
           "TFNO": 16, "VRNO": 16, "MAIL": 50, "EMAL": 60, "YRE1": 36, "YREF": 36, "ECAR": 2, "CSCD": 3,
           "CONO": 3, "LMTS": 18, "FRSU": 10, "TOSU": 10, "ADTE": 2, "ADID": 6, "STDT": 8, "RFTY": 2, "RFID": 10,
           "ADRT": 1, "EMTP": 2, "EMKY": 50, "QERY": 982, "SEPC": 1, "HDRS": 1}
STAT_ACTIVE, STAT_BLOCKED = "20", "90"
EXPORT_TABLES = {"OCUSMA": ("customer", "OK"), "CIDMAS": ("supplier", "ID")}
ADDRESS_ONLY = {"supplier": {"ADR1", "ADR2", "ADR3", "ADR4", "TOWN", "PONO"}, "customer": set()}


class MIError(Exception):
    def __init__(self, error_type: str, message: str, field: str = "", code: str = "") -> None:
        super().__init__(message)
        self.error_type, self.message, self.field, self.code = error_type, message, field, code


class BareBadRequest(Exception):
    """Unknown program/transaction: M3 answers a bare HTTP 400."""


@dataclass(frozen=True)
class Txn:
    inputs: dict[str, bool]  # name -> required
    run: Callable[[M3Area, dict[str, str], int], list[dict[str, str]]]
    entity: str | None = None  # data the transaction reads (built on first use)


@dataclass
class M3Area:
    """One company (CONO) of M3 data."""

    sup: Table
    sup_addr: Table
    sup_ref: Table
    cus: Table
    cus_addr: Table
    email: Table
    next_number: dict[str, int]
    built: set[str]
    name_index: tuple[int, list[tuple[str, str]]] | None = None


def _child_key(*parts: str) -> str:
    # Tab sorts before every printable character, so children of one parent are contiguous in key order.
    return "\t".join(parts)


class M3(Product):
    name = "m3"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._areas: dict[str, M3Area] = {}
        self._txns: dict[tuple[str, str], Txn] = {
            ("CRS620MI", "LstByNumber"): Txn({"CONO": False, "SUNO": True}, self._sup_lst_by_number, "supplier"),
            ("CRS620MI", "LstSuppliers"): Txn({"CONO": False, "FRSU": False, "TOSU": False, "LMTS": False},
                                              self._sup_lst_suppliers, "supplier"),
            ("CRS620MI", "GetBasicData"): Txn({"CONO": False, "SUNO": True}, self._sup_get_basic, "supplier"),
            ("CRS620MI", "LstAddresses"): Txn({"CONO": False, "SUNO": True, "ADTE": False}, self._sup_lst_addresses,
                                              "supplier"),
            ("CRS620MI", "GetAddress"): Txn({"CONO": False, "SUNO": True, "ADTE": True, "ADID": True, "STDT": False},
                                            self._sup_get_address, "supplier"),
            ("CRS620MI", "LstSupplierRef"): Txn({"CONO": False, "SUNO": True, "RFTY": False, "RFID": False},
                                                self._sup_lst_ref, "supplier"),
            ("CRS620MI", "GetServerTime"): Txn({}, self._server_time),
            ("CRS610MI", "LstByNumber"): Txn({"CONO": False, "CUNO": False, "LMTS": False}, self._cus_lst_by_number,
                                             "customer"),
            ("CRS610MI", "LstByName"): Txn({"CONO": False, "CUNM": False, "LMTS": False}, self._cus_lst_by_name,
                                           "customer"),
            ("CRS610MI", "GetBasicData"): Txn({"CONO": False, "CUNO": True}, self._cus_get_basic, "customer"),
            ("CRS610MI", "LstAddresses"): Txn({"CONO": False, "CUNO": True, "ADRT": False, "LMTS": False},
                                              self._cus_lst_addresses, "customer"),
            ("CRS610MI", "GetAddress"): Txn({"CONO": False, "CUNO": True, "ADRT": True, "ADID": True},
                                            self._cus_get_address, "customer"),
            ("CRS111MI", "List"): Txn({"EMTP": True, "EMKY": False}, self._email_list),
            ("EXPORTMI", "Select"): Txn({"QERY": True, "SEPC": False, "HDRS": False}, self._export_select),
        }

    # --- data -------------------------------------------------------------------------------------
    def area(self, cono: str | None = None, *entities: str) -> M3Area:
        """The data of one company, with the tables of ``entities`` built on first use."""
        # One company (the configured CONO) holds data; other companies do not exist.
        cono = cono or self.ctx.settings.m3_cono
        if cono != self.ctx.settings.m3_cono:
            raise UnknownRecord(f"M3 company {cono} does not exist")
        with self.ctx.lock:
            if cono not in self._areas:
                self._areas[cono] = M3Area(Table(SUP_COLUMNS), Table(SUP_ADDR_COLUMNS), Table(SUP_REF),
                                           Table(CUS_COLUMNS), Table(CUS_ADDR_COLUMNS), Table(EMAIL), {}, set())
            area = self._areas[cono]
            for entity in entities:
                if entity not in area.built:
                    with bulk_build():
                        self._load(area, entity, self.ctx.companies(PRIMARY_AREA, entity), cono)
                    area.next_number[entity] = self.ctx.counts[entity] + 1
                    area.built.add(entity)
            return area

    def _load(self, area: M3Area, entity: str, companies: list[Company], cono: str) -> None:
        main: list[tuple[str, list[Any]]] = []
        addrs: list[tuple[str, list[Any]]] = []
        refs: list[tuple[str, list[Any]]] = []
        mails: list[tuple[str, list[Any]]] = []
        for company in companies:
            self._rows(entity, company, cono, main, addrs, refs, mails)
        master, children = (area.sup, area.sup_addr) if entity == "supplier" else (area.cus, area.cus_addr)
        master.load(main)
        children.load(addrs)
        if entity == "supplier":
            area.sup_ref.load(refs)
        area.email.load([*area.email.rows.items(), *mails])

    def _rows(self, entity: str, c: Company, cono: str, main: list, addrs: list, refs: list, mails: list) -> None:
        # Rows are filled into templates of constants: this runs 100k times when a benchmark starts.
        s = self.ctx.settings
        a = c.address
        lmts = str(int(c.changed_s * 1000))
        lmdt, rgdt = self._date(c.changed_s), self._date(c.created_s)
        name = _cut(c.name, 36)
        stat = STAT_ACTIVE if c.active else STAT_BLOCKED
        if entity == "supplier":
            key = f"S{100000 + c.number}"
            contact = c.contacts[0].full_name if c.contacts else ""
            main.append((key, _fill(_SUP_TEMPLATE, {
                "CONO": cono, "SUNO": key, "SUNM": name, "ALSU": name[:10].upper().rstrip(), "STAT": stat,
                "CORG": c.vat[:10], "LNCD": c.language, "PHNO": c.phone, "TFNO": c.fax, "CSCD": a.country,
                "VRNO": c.vat[:16], "SUAL": _cut(contact, 36), "ECAR": a.state, "CUCD": c.currency,
                "TINO": c.vat[:16], "RGDT": rgdt, "LMDT": lmdt, "LMTS": lmts})))
            addrs.append((_child_key(key, "1", ""), _fill(_SUP_ADDR_TEMPLATE, {
                "CONO": cono, "SUNO": key, "STDT": rgdt, "SUNM": name, "ADR1": _cut(a.line1, 36),
                "ADR2": _cut(a.line2, 36), "TOWN": _cut(a.city, 20), "ECAR": a.state, "PONO": a.zip[:10],
                "CSCD": a.country, "CSNM": COUNTRIES[a.country].name, "RGDT": rgdt, "LMDT": lmdt, "LMTS": lmts})))
            for i, p in enumerate(c.contacts, start=1):
                refs.append((_child_key(key, "1", str(i)), _fill(_SUP_REF_TEMPLATE, {
                    "CONO": cono, "SUNO": key, "RFID": str(i), "YRE1": _cut(p.full_name, 36), "PHNO": p.phone,
                    "EMAL": p.email[:60], "REMK": p.title})))
            mails.append((_child_key(s.m3_emtp_supplier, key), [s.m3_emtp_supplier, key, c.email]))
            return
        key = f"C{100000 + c.number}"
        first = c.contacts[0] if c.contacts else None
        main.append((key, _fill(_CUS_TEMPLATE, {
            "CONO": cono, "LNCD": c.language, "CUNO": key, "CUNM": name, "CUA1": _cut(a.line1, 36),
            "CUA2": _cut(a.line2, 36), "PONO": a.zip[:10], "PHNO": c.phone, "TFNO": c.fax,
            "ALCU": name[:10].upper().rstrip(), "YREF": _cut(first.full_name, 36) if first else "",
            "MAIL": (first.email if first else c.email)[:50], "CSCD": a.country, "ECAR": a.state, "CORG": c.vat[:10],
            "CUCD": c.currency, "VRNO": c.vat[:16], "STAT": stat, "TOWN": _cut(a.city, 20), "RGDT": rgdt,
            "LMDT": lmdt, "LMTS": lmts})))
        for i, d in enumerate(c.delivery, start=1):
            addrs.append((_child_key(key, "1", f"D{i:02d}"), _fill(_CUS_ADDR_TEMPLATE, {
                "CONO": cono, "CUNO": key, "ADID": f"D{i:02d}", "CUNM": name, "CUA1": _cut(d.line1, 36),
                "CUA2": _cut(d.line2, 36), "PONO": d.zip[:10], "CSCD": d.country, "TOWN": _cut(d.city, 20),
                "ECAR": d.state, "FVDT": rgdt, "LMDT": lmdt, "LMTS": lmts})))
        mails.append((_child_key(s.m3_emtp_customer, key), [s.m3_emtp_customer, key, c.email]))

    def _date(self, epoch_s: float) -> str:
        return _local_date(int(epoch_s // 900), self.ctx.settings.m3_timezone)

    def _stamp(self) -> dict[str, str]:
        now = self.ctx.clock.now()
        return {"LMTS": str(int(now * 1000)), "LMDT": self._date(now)}

    # --- HTTP ------------------------------------------------------------------------------------
    def handle(self, request: Request, rest: list[str]) -> Response:
        names, control = _split_matrix(rest)
        if names[:1] != ["m3api-rest"]:
            return Response.json({"message": "Not found"}, 404)
        if names[1:3] == ["v2", "execute"]:
            if len(names) == 3:
                return self._bulk(request, control) if request.method == "POST" else Response(405)
            if len(names) != 5:
                return Response.json({"message": "Not found"}, 404)
            return self._single(request, names[3], names[4], control, v1=False)
        if names[1:2] == ["execute"] and len(names) == 4:
            return self._single(request, names[2], names[3], control, v1=True)
        return Response.json({"message": "Not found"}, 404)

    def _single(self, request: Request, program: str, transaction: str, matrix: dict[str, str], *,
                v1: bool) -> Response:
        if request.method != "GET":
            return Response(405, headers={"Allow": "GET"})
        fields, control = {}, {}
        for name, values in request.query.items():
            (fields if name.isupper() else control)[name] = values[0]
        if self.ctx.settings.m3_ignore_query_maxrecs:
            control.pop("maxrecs", None)
        control.update(matrix)
        try:
            maxrecs = int(control.get("maxrecs", self.ctx.settings.m3_default_maxrecs))
        except ValueError:
            return Response(400)
        returncols = [c for c in control.get("returncols", "").split(",") if c]
        try:
            records = self.execute(program, transaction, fields, maxrecs, control.get("cono"))
        except BareBadRequest:
            return Response(400)
        except MIError as err:
            return Response.json(_v1_nok(err) if v1 else _nok(transaction, err))
        records = _shape(records, returncols, _true(control.get("excludeempty", control.get("excludempty"))))
        if v1:
            return Response.json(_v1_ok(program, transaction, records))
        result: dict[str, Any] = {"transaction": transaction, "records": records}
        if _true(control.get("extendedresult")):
            result["parameters"] = fields
        return Response.json(_envelope([result], failed=0))

    def _bulk(self, request: Request, control: dict[str, str]) -> Response:
        try:
            body = request.json() or {}
            program = body["program"]
            transactions = body["transactions"]
        except (ValueError, KeyError, TypeError):
            return Response(400)
        try:
            maxrecs = int(body.get("maxReturnedRecords", self.ctx.settings.m3_default_maxrecs))
        except (TypeError, ValueError):
            return Response(400)
        cono = str(body["cono"]) if body.get("cono") is not None else None
        results, failed = [], 0
        for txn in transactions:
            name = txn.get("transaction", "")
            fields = {k: str(v) for k, v in (txn.get("record") or {}).items()}
            try:
                records = self.execute(program, name, fields, maxrecs, cono)
            except BareBadRequest:
                failed += 1
                results.append(_error_result(name, MIError("TransactionNotFound", f"Transaction {name} not found")))
                continue
            except MIError as err:
                failed += 1
                results.append(_error_result(name, err))
                continue
            shaped = _shape(records, txn.get("selectedColumns") or [], bool(body.get("excludeEmptyValues")))
            results.append({"transaction": name, "records": shaped})
        return Response.json(_envelope(results, failed=failed))

    def execute(self, program: str, transaction: str, fields: dict[str, str], maxrecs: int,
                cono: str | None = None) -> list[dict[str, str]]:
        """Run one MI transaction; raises MIError (inside-200 errors) or BareBadRequest."""
        txn = self._txns.get((program, transaction))
        if txn is None:
            raise BareBadRequest(f"{program}/{transaction}")
        for name, required in txn.inputs.items():
            value = fields.get(name)
            if required and not value:
                raise MIError("MandatoryInputFieldNotFound", f"Mandatory input field {name} not found", name,
                              "XMF0001")
            if value is not None and len(value.rstrip()) > LENGTHS.get(name, 999):
                raise MIError("InputFieldTooLong", f"Input field {name} is too long, max length {LENGTHS[name]}",
                              name, "XFL0001")
        company = (fields.get("CONO") or cono or self.ctx.settings.m3_cono).strip()
        if company != self.ctx.settings.m3_cono:
            raise MIError("ServerReturnedNOK", f"Company {company} does not exist", "CONO", "WCO0203")
        limit = maxrecs if maxrecs > 0 else 0
        cap = self.ctx.settings.m3_max_records_cap
        if cap:
            limit = min(limit, cap) if limit else cap
        with self.ctx.lock:
            return txn.run(self.area(company, *([txn.entity] if txn.entity else [])), fields, limit)

    # --- transactions ----------------------------------------------------------------------------
    def _lmts_filter(self, fields: dict[str, str]) -> Callable[[str], bool] | None:
        raw = (fields.get("LMTS") or "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            raise MIError("ServerReturnedNOK", f"Timestamp {raw} is invalid", "LMTS", "WLM0203")
        since = int(raw)
        if self.ctx.settings.m3_lmts_inclusive:
            return lambda stamp: int(stamp) >= since
        return lambda stamp: int(stamp) > since

    @staticmethod
    def _take(table: Table, keys: Iterator[str], limit: int, columns: tuple[str, ...],
              keep: Callable[[list[Any]], bool] | None = None) -> list[dict[str, str]]:
        out = []
        for key in keys:
            row = table.rows[key]
            if keep is None or keep(row):
                out.append(table.as_dict(row, columns))
                if limit and len(out) >= limit:
                    break
        return out

    def _stamped(self, table: Table, fields: dict[str, str]) -> Callable[[list[Any]], bool] | None:
        test = self._lmts_filter(fields)
        if test is None:
            return None
        pos = table.pos["LMTS"]
        return lambda row: test(row[pos])

    def _sup_lst_by_number(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        return self._take(area.sup, area.sup.iter_from(fields["SUNO"].rstrip()), limit, SUP_LIST)

    def _sup_lst_suppliers(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        upper = (fields.get("TOSU") or "").rstrip()
        keys = area.sup.iter_from((fields.get("FRSU") or "").rstrip())
        if upper:
            keys = _until(keys, upper)
        return self._take(area.sup, keys, limit, SUP_SUPPLIERS, self._stamped(area.sup, fields))

    def _sup_get_basic(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        return [area.sup.as_dict(self._sup_row(area, fields["SUNO"]), SUP_BASIC)]

    def _sup_row(self, area: M3Area, suno: str) -> list[Any]:
        row = area.sup.get(suno.rstrip())
        if row is None:
            raise MIError("ServerReturnedNOK", f"Supplier number {suno.rstrip()} does not exist", "SUNO", "WSU0203")
        return row

    def _sup_lst_addresses(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        suno = fields["SUNO"].rstrip()
        adte = (fields.get("ADTE") or "").strip()
        prefix = _child_key(suno, adte, "") if adte else _child_key(suno, "")
        return self._take(area.sup_addr, _prefixed(area.sup_addr, prefix), limit, SUP_ADDR_LIST)

    def _sup_get_address(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        key = _child_key(fields["SUNO"].rstrip(), fields["ADTE"].strip(), (fields.get("ADID") or "").strip())
        row = area.sup_addr.get(key)
        if row is None:
            raise MIError("ServerReturnedNOK", "Address does not exist", "ADID", "WAD0203")
        return [area.sup_addr.as_dict(row, SUP_ADDR_GET)]

    def _sup_lst_ref(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        suno = fields["SUNO"].rstrip()
        rfty = (fields.get("RFTY") or "").strip()
        keys = _prefixed(area.sup_ref, _child_key(suno, rfty, "") if rfty else _child_key(suno, ""))
        return self._take(area.sup_ref, keys, limit, SUP_REF)

    def _server_time(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        now = self.ctx.clock.now()
        local = self.ctx.local(now, self.ctx.settings.m3_timezone)
        return [{"DATE": local.strftime("%Y%m%d"), "TIME": local.strftime("%H%M%S"), "LMTS": str(int(now * 1000))}]

    def _cus_lst_by_number(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        return self._take(area.cus, area.cus.iter_from((fields.get("CUNO") or "").rstrip()), limit, CUS_LIST,
                          self._stamped(area.cus, fields))

    def _cus_lst_by_name(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        if area.name_index is None or area.name_index[0] != area.cus.version:
            pos = area.cus.pos["CUNM"]
            area.name_index = (area.cus.version, sorted((row[pos].upper(), key) for key, row in area.cus.rows.items()))
        index = area.name_index[1]
        start = (fields.get("CUNM") or "").rstrip().upper()
        i = bisect_left(index, (start, ""))
        return self._take(area.cus, (key for _, key in index[i:]), limit, CUS_LIST, self._stamped(area.cus, fields))

    def _cus_row(self, area: M3Area, cuno: str) -> list[Any]:
        row = area.cus.get(cuno.rstrip())
        if row is None:
            raise MIError("ServerReturnedNOK", f"Customer number {cuno.rstrip()} does not exist", "CUNO", "WCU0203")
        return row

    def _cus_get_basic(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        return [area.cus.as_dict(self._cus_row(area, fields["CUNO"]), CUS_BASIC)]

    def _cus_lst_addresses(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        cuno = fields["CUNO"].rstrip()
        adrt = (fields.get("ADRT") or "").strip()
        keys = _prefixed(area.cus_addr, _child_key(cuno, adrt, "") if adrt else _child_key(cuno, ""))
        return self._take(area.cus_addr, keys, limit, CUS_ADDR_LIST, self._stamped(area.cus_addr, fields))

    def _cus_get_address(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        key = _child_key(fields["CUNO"].rstrip(), fields["ADRT"].strip(), fields["ADID"].strip())
        row = area.cus_addr.get(key)
        if row is None:
            raise MIError("ServerReturnedNOK", "Address does not exist", "ADID", "WAD0203")
        return [area.cus_addr.as_dict(row, (*CUS_ADDR_LIST, "CHNO"))]

    def _email_list(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        emtp = fields["EMTP"].strip()
        self.area(None, *[e for e, code in (("supplier", self.ctx.settings.m3_emtp_supplier),
                                             ("customer", self.ctx.settings.m3_emtp_customer)) if code == emtp])
        start = _child_key(emtp, (fields.get("EMKY") or "").rstrip())
        keys = _until(area.email.iter_from(start), _child_key(emtp, "\uffff"))
        return self._take(area.email, keys, limit, EMAIL)

    def _export_select(self, area: M3Area, fields: dict[str, str], limit: int) -> list[dict[str, str]]:
        if not self.ctx.settings.m3_exportmi_enabled:
            raise MIError("ServerReturnedNOK", "Not allowed", "", "")
        query = _parse_export(fields["QERY"])
        entity, prefix = EXPORT_TABLES[query.table]
        self.area(None, entity)
        table = area.sup if entity == "supplier" else area.cus
        key_col = prefix + ("SUNO" if entity == "supplier" else "CUNO")
        columns = query.columns
        for col in [*columns, *(c.column for c in query.conditions)]:
            if col != "count(*)" and (not col.startswith(prefix) or col[2:] not in table.pos):
                raise MIError("ServerReturnedNOK", f"Column {col} does not exist in {query.table}", "QERY", "XEX0002")
        start = ""
        for cond in query.conditions:
            if cond.column == key_col and cond.op in (">", ">=") and not query.any_or:
                start = max(start, cond.value + ("\x00" if cond.op == ">" else ""))
        matches = query.matcher(table, prefix)
        sep = fields.get("SEPC") or ";"
        if columns == ["count(*)"]:
            count = sum(1 for key in table.iter_from(start) if matches(table.rows[key]))
            return [{"REPL": str(count)}]
        out = [{"REPL": sep.join(columns)}] if (fields.get("HDRS") or "").strip() == "1" else []
        wanted = 0
        for key in table.iter_from(start):
            row = table.rows[key]
            if matches(row):
                out.append({"REPL": sep.join(str(row[table.pos[c[2:]]]) for c in columns)})
                wanted += 1
                if limit and wanted >= limit:
                    break
        return out

    # --- admin / Python API ----------------------------------------------------------------------
    def _tables(self, area: M3Area, entity: str) -> tuple[Table, Table]:
        return (area.sup, area.sup_addr) if entity == "supplier" else (area.cus, area.cus_addr)

    def records(self, entity: str, area: str | None = None) -> list[dict[str, Any]]:
        check_entity(entity)
        with self.ctx.lock:
            data = self.area(area, entity)
            table = self._tables(data, entity)[0]
            cols = SUP_LIST if entity == "supplier" else CUS_LIST
            return [table.as_dict(table.rows[k], cols) for k in table.keys]

    def keys(self, entity: str, area: str | None = None) -> list[str]:
        check_entity(entity)
        with self.ctx.lock:
            return list(self._tables(self.area(area, entity), entity)[0].keys)

    def row(self, entity: str, key: str, area: str | None = None) -> dict[str, Any]:
        """Every stored column of one master row, stamps included."""
        with self.ctx.lock:
            table = self._tables(self.area(area, entity), entity)[0]
            row = table.get(key)
            if row is None:
                raise UnknownRecord(key)
            return table.as_dict(row)

    def add(self, entity: str, fields: dict[str, Any], area: str | None = None) -> str:
        check_entity(entity)
        with self.ctx.lock:
            data = self.area(area, entity)
            number = data.next_number[entity]
            data.next_number[entity] += 1
            company = self.ctx.new_company(PRIMARY_AREA, entity, number)
            main: list = []
            addrs: list = []
            refs: list = []
            mails: list = []
            self._rows(entity, company, area or self.ctx.settings.m3_cono, main, addrs, refs, mails)
            key, row = main[0]
            master, children = self._tables(data, entity)
            wanted_key = fields.get("SUNO" if entity == "supplier" else "CUNO")
            if wanted_key:
                key = str(wanted_key)
            if key in master:
                raise ValueError(f"record {key} already exists")
            master.put(key, row)
            master.set(key, **{("SUNO" if entity == "supplier" else "CUNO"): key})
            for child_key, child in addrs:
                children.put(_child_key(key, *child_key.split("\t")[1:]), child)
                children.set(_child_key(key, *child_key.split("\t")[1:]),
                              **{("SUNO" if entity == "supplier" else "CUNO"): key})
            for child_key, child in refs:
                data.sup_ref.put(_child_key(key, *child_key.split("\t")[1:]), child)
                data.sup_ref.set(_child_key(key, *child_key.split("\t")[1:]), SUNO=key)
            for _, mail in mails:
                data.email.put(_child_key(mail[0], key), [mail[0], key, mail[2]])
            rest = {k: str(v) for k, v in fields.items() if k not in ("SUNO", "CUNO")}
            if rest:
                self.change(entity, key, rest, area)
            else:
                master.set(key, **self._stamp())
            return key

    def change(self, entity: str, key: str, fields: dict[str, Any], area: str | None = None) -> None:
        check_entity(entity)
        with self.ctx.lock:
            data = self.area(area, entity)
            master = self._tables(data, entity)[0]
            row = master.get(key)
            if row is None:
                raise UnknownRecord(key)
            address_fields = {k: str(v) for k, v in fields.items() if k in ADDRESS_ONLY[entity]}
            master_fields = {k: str(v) for k, v in fields.items() if k not in address_fields}
            unknown_fields(master_fields, set(master.columns) - set(STAMPS), f"M3 {entity}")
            if address_fields:
                self.change_address(entity, key, address_fields, area)
            if master_fields or (address_fields and self.ctx.settings.m3_address_bumps_master):
                master.set(key, **master_fields, **self._stamp(), CHNO=str(int(master.value(key, "CHNO")) + 1))

    def change_address(self, entity: str, key: str, fields: dict[str, Any], area: str | None = None) -> None:
        """Edit the first address row (CIDADR / OCUSAD); stamps only that row unless m3_address_bumps_master."""
        with self.ctx.lock:
            data = self.area(area, entity)
            children = self._tables(data, entity)[1]
            child_keys = list(_prefixed(children, _child_key(key, "")))
            if not child_keys:
                raise UnknownRecord(f"{key} has no address rows")
            unknown_fields(fields, set(children.columns) - {"LMTS", "LMDT", "CHNO"}, f"M3 {entity} address")
            child = child_keys[0]
            children.set(child, **{k: str(v) for k, v in fields.items()}, **self._stamp(),
                         CHNO=str(int(children.value(child, "CHNO")) + 1))

    def deactivate(self, entity: str, key: str, area: str | None = None) -> None:
        self.change(entity, key, {"STAT": STAT_BLOCKED}, area)

    def delete(self, entity: str, key: str, area: str | None = None) -> None:
        check_entity(entity)
        with self.ctx.lock:
            data = self.area(area, entity)
            master, children = self._tables(data, entity)
            if key not in master:
                raise UnknownRecord(key)
            master.remove(key)
            for table in (children, data.sup_ref) if entity == "supplier" else (children,):
                for child in list(_prefixed(table, _child_key(key, ""))):
                    table.remove(child)
            emtp = self.ctx.settings.m3_emtp_supplier if entity == "supplier" else self.ctx.settings.m3_emtp_customer
            data.email.remove(_child_key(emtp, key))

    def server_time(self) -> int:
        return int(self.ctx.clock.now() * 1000)


# --- helpers -----------------------------------------------------------------------------------------
def _template(columns: tuple[str, ...], **constants: str) -> tuple[list[str], dict[str, int]]:
    return [constants.get(col, "") for col in columns], {col: i for i, col in enumerate(columns)}


_SUP_TEMPLATE = _template(SUP_COLUMNS, SUTY="0", DTFM="YMD", PODA="0", GEOC="0", PPIN="0", SUCL="TRD", TEPY="30",
                          PYME="TRF", CHNO="1")
_SUP_ADDR_TEMPLATE = _template(SUP_ADDR_COLUMNS, ADTE="1", GEOC="0", SADR="0", RGTM="000000", CHID="SIM", CHNO="1")
_SUP_REF_TEMPLATE = _template(SUP_REF, RFTY="1")
_CUS_TEMPLATE = _template(CUS_COLUMNS, CUTP="0", CUCL="RET", TEPY="30", CHNO="1")
_CUS_ADDR_TEMPLATE = _template(CUS_ADDR_COLUMNS, ADRT="1", LVDT="0", CHNO="1")


def _fill(template: tuple[list[str], dict[str, int]], values: dict[str, str]) -> list[str]:
    row, pos = template[0].copy(), template[1]
    for name, value in values.items():
        row[pos[name]] = value
    return row


@functools.lru_cache(maxsize=200_000)
def _local_date(quarter_hour: int, zone: str) -> str:
    # Every UTC offset is a multiple of 15 minutes, so one date holds for a whole quarter hour.
    return datetime.fromtimestamp(quarter_hour * 900, ZoneInfo(zone)).strftime("%Y%m%d")


def _cut(value: str, length: int) -> str:
    return value[:length].rstrip()


def _true(value: str | None) -> bool:
    return (value or "").lower() == "true"


def _until(keys: Iterator[str], upper: str) -> Iterator[str]:
    for key in keys:
        if key > upper:
            return
        yield key


def _prefixed(table: Table, prefix: str) -> Iterator[str]:
    """Keys starting with ``prefix`` (children of one parent)."""
    for key in table.iter_from(prefix):
        if not key.startswith(prefix):
            return
        yield key


def _split_matrix(rest: list[str]) -> tuple[list[str], dict[str, str]]:
    names, control = [], {}
    for segment in rest:
        name, *params = segment.split(";")
        names.append(name)
        for param in params:
            key, _, value = param.partition("=")
            if key:
                control[key] = value
    return names, control


def _shape(records: list[dict[str, str]], returncols: list[str], exclude_empty: bool) -> list[dict[str, str]]:
    if returncols:
        records = [{c: r[c] for c in returncols if c in r} for r in records]
    if exclude_empty:
        records = [{k: v for k, v in r.items() if v != ""} for r in records]
    return records


def _envelope(results: list[dict[str, Any]], *, failed: int) -> dict[str, Any]:
    return {"results": results, "wasTerminated": False, "nrOfSuccessfullTransactions": len(results) - failed,
            "nrOfNotProcessedTransactions": 0, "nrOfFailedTransactions": failed}


def _error_result(transaction: str, err: MIError) -> dict[str, Any]:
    return {"transaction": transaction, "errorMessage": err.message, "errorType": err.error_type,
            "errorCode": err.code, "errorField": err.field, "errorCfg": "", "records": []}


def _nok(transaction: str, err: MIError) -> dict[str, Any]:
    return _envelope([_error_result(transaction, err)], failed=1)


def _v1_ok(program: str, transaction: str, records: list[dict[str, str]]) -> dict[str, Any]:
    names = list(records[0]) if records else []
    meta = [{"@name": n, "@type": "A", "@length": LENGTHS.get(n, 10), "@description": n} for n in names]
    rows = [{"RowIndex": i, "NameValue": [{"Name": k, "Value": v.ljust(LENGTHS.get(k, len(v)))}
                                          for k, v in r.items()]} for i, r in enumerate(records)]
    return {"Program": program, "Transaction": transaction, "Metadata": {"Field": meta}, "MIRecord": rows}


def _v1_nok(err: MIError) -> dict[str, Any]:
    return {"Message": err.message.ljust(40), "@type": err.error_type, "@code": err.code, "@cfg": None,
            "@field": err.field}


# --- EXPORTMI QERY -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cond:
    column: str
    op: str
    value: str
    numeric: bool


@dataclass(frozen=True)
class _Query:
    columns: list[str]
    table: str
    conditions: list[_Cond]
    joins: list[str]  # "and"/"or" between conditions

    @property
    def any_or(self) -> bool:
        return "or" in self.joins

    def matcher(self, table: Table, prefix: str) -> Callable[[list[Any]], bool]:
        tests = [(table.pos[c.column[len(prefix):]], c) for c in self.conditions]
        joins = self.joins

        def check(row: list[Any]) -> bool:
            result = True
            for i, (pos, cond) in enumerate(tests):
                ok = _compare(row[pos], cond)
                result = ok if i == 0 else (result and ok) if joins[i - 1] == "and" else (result or ok)
            return result

        return check


_OPS = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<>": lambda a, b: a != b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
_QERY = re.compile(r"^\s*(?P<cols>.+?)\s+from\s+(?P<table>\w+)(?:\s+where\s+(?P<where>.+?))?\s*$", re.I | re.S)
_COND = re.compile(r"\s*(\w+)\s*(>=|<=|<>|!=|=|>|<)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*(?:(and|or)\b|$)", re.I)


def _compare(stored: str, cond: _Cond) -> bool:
    if cond.numeric:
        try:
            return _OPS[cond.op](float(stored or 0), float(cond.value))
        except ValueError:
            return False
    return _OPS[cond.op](stored.rstrip(), cond.value.rstrip())


def _parse_export(qery: str) -> _Query:
    match = _QERY.match(qery)
    if not match:
        raise MIError("ServerReturnedNOK", "Invalid query", "QERY", "XEX0001")
    table = match["table"].upper()
    if table not in EXPORT_TABLES:
        raise MIError("ServerReturnedNOK", f"Table {table} is not available", "QERY", "XEX0003")
    columns = [c.strip() for c in match["cols"].split(",")]
    columns = ["count(*)" if c.lower() == "count(*)" else c.upper() for c in columns]
    conditions, joins = [], []
    where = match["where"] or ""
    pos = 0
    while pos < len(where):
        cond = _COND.match(where, pos)
        if not cond:
            raise MIError("ServerReturnedNOK", f"Invalid where clause near '{where[pos:pos + 20]}'", "QERY",
                          "XEX0001")
        literal = cond[3]
        quoted = literal.startswith("'")
        conditions.append(_Cond(cond[1].upper(), cond[2], literal[1:-1].replace("''", "'") if quoted else literal,
                                not quoted))
        if cond[4]:
            joins.append(cond[4].lower())
        pos = cond.end()
    if len(joins) >= len(conditions) and conditions:
        raise MIError("ServerReturnedNOK", "Invalid where clause", "QERY", "XEX0001")
    return _Query(columns, table, conditions, joins)
