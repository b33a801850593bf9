"""Every switch of the CloudSuite simulator in one place, with the reference's "sim default" as its default.

``Settings`` is mutable on purpose: tests flip a switch on a running simulator (``sim.settings.x = ...``) or
through ``PATCH /_admin/settings``. Each default names the reference section it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

PRODUCTS = ("m3", "csi", "ln", "fsm")
ENTITIES = ("supplier", "customer")
SUITES = {"M3": "m3", "CSI": "csi", "LN": "ln", "FSM": "fsm"}  # gateway path prefix -> product


@dataclass
class Settings:
    # --- gateway (reference 1.2, 6) ---------------------------------------------------------------
    token_lifetime_s: int = 7200  # 1.2: expires_in 7200 unless the authorized app says otherwise
    issue_refresh_tokens: bool = False  # 1.2: "Issue Refresh Token" is off unless enabled on the app
    grants: tuple[str, ...] = ("password", "client_credentials", "refresh_token")
    invalid_client_status: int = 401  # 1.2: invalid_client "may be 401"; bad user/password is 400 invalid_grant
    www_authenticate: bool = True  # 6: Bearer realm=..., error="invalid_token" on 401 (switch off: header absent)
    rate_limit_per_s: float | None = None  # 6: no documented default limit; token bucket when set
    retry_after_ratio: float = 0.5  # 6: Retry-After sent on half of the 429s, absent on the rest
    retry_after_s: int = 1  # value of Retry-After when sent
    gateway_timeout_s: float = 60.0  # 6: backend timeout (60 s default, up to 300 s); scale down in tests
    # --- M3 (reference 2) -----------------------------------------------------------------------
    m3_cono: str = "100"
    m3_divi: str = "AAA"
    m3_default_maxrecs: int = 100  # 2.1: 100 observed when maxrecs is omitted
    m3_max_records_cap: int | None = None  # 2.4: no server cap documented; optional switch
    m3_ignore_query_maxrecs: bool = False  # 2.1: one client saw query maxrecs ignored (matrix still works)
    m3_lmts_inclusive: bool = False  # 2.5: record LMTS strictly greater than the input by default
    m3_address_bumps_master: bool = False  # 2.5: address edits do not touch the master stamp by default
    m3_exportmi_enabled: bool = True  # 2.5: EXPORTMI enabled, switchable to the "Not allowed" MI error
    m3_timezone: str = "UTC"  # zone of GetServerTime DATE/TIME and LMDT
    m3_emtp_customer: str = "01"  # 2.3: CRS111MI EMTP code per partner type [assumption]
    m3_emtp_supplier: str = "02"
    # --- CSI (reference 3) ----------------------------------------------------------------------
    csi_configs: tuple[str, ...] = ()  # Mongoose configurations; () -> (f"{tenant}_DALS",); one data set each
    csi_site_timezone: str = "America/New_York"  # 3.3: RecordDate is site-local, not UTC
    csi_default_recordcap: int = 200  # 3: recordcap -1/omitted = 200
    csi_more_rows_lookahead: bool = False  # 3.2: a page exactly recordcap long says MoreRowsExist=true
    csi_next_repeats_boundary: bool = False  # 9: settled "no repeat"; switch to repeat the bookmark row
    csi_bad_config_status: int = 200  # 3: missing/unknown config -> Success:false inside this status
    csi_ship_to_every: int = 0  # 3.4: every n-th customer also gets a CustSeq=1 ship-to row (0 = none)
    csi_key_width: int = 7  # 3.1: keys right-justified with leading blanks to this width
    # --- LN (reference 4) -----------------------------------------------------------------------
    ln_companies: tuple[str, ...] = ("1000", "2000")  # X-Infor-LnCompany values; the first is the default
    ln_next_link: bool = True  # 4: @odata.nextLink when more rows exist (switchable off)
    ln_max_page_size: int | None = None  # 4: no server page cap by default
    ln_transient_401: int = 0  # next n LN calls answer 401 "OAuth [U14]: unknown oauth_consumer_key"
    # --- FSM (reference 5) ----------------------------------------------------------------------
    fsm_default_limit: int = 100  # 5: _limit when omitted [assumption]
    fsm_bad_filter_status: int = 400  # 5: "ConditionNode tree failed", status unknown, sim 400
    fsm_count_total: bool = True  # 5: _count in the metadata element is the total match count
    # --- data -----------------------------------------------------------------------------------
    shared_every: int = 10  # every n-th customer is the same company as supplier n (LN: CustomerAndSupplier)
    include_cjk: bool = True  # some companies in Japan with CJK names

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    def update(self, values: dict[str, Any]) -> None:
        unknown = set(values) - self.names()
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        for name, value in values.items():
            if isinstance(getattr(self, name), tuple) and isinstance(value, list):
                value = tuple(value)
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sorted(self.names())}
