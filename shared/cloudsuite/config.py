"""The ``cloudsuite`` section of a connection, parsed into a typed frozen config (schema: cloudsuite.schema.json).

Every key is optional except ``product`` and ``ionapi_secret``; defaults come from shared/defaults.py or from
the per-product field lists below (the reference's documented names). Errors name the connection and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared import defaults
from shared.errors import ConfigError

PRODUCTS = ("m3", "csi", "ln", "fsm")
ENTITIES = ("supplier", "customer")
ENRICHMENTS = ("addresses", "contacts")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")  # field/property names; also keeps quotes out of queries

# --- per-product defaults: the reference's documented names (section numbers in comments) ----------------
M3_RETURNCOLS = {  # 2.3: CRS620MI/LstSuppliers and CRS610MI/LstByNumber outputs (customers carry address and e-mail)
    "supplier": ("SUNO", "SUNM", "STAT", "PHNO", "CSCD", "ECAR", "LNCD", "VRNO", "SUTY", "SUCL", "CUCD", "TEPY",
                 "TINO"),
    "customer": ("CUNO", "CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "PONO", "TOWN", "ECAR", "CSCD", "PHNO", "PHN2",
                 "TFNO", "MAIL", "YREF", "STAT", "LNCD", "CUCD", "VRNO", "CUTP"),
}
CSI_PROPERTIES = {  # 3.4: the IDOs already carry address, phone and e-mail
    "supplier": ("VendNum", "Name", "Contact", "Phone", "ExternalEmailAddr", "InternetUrl", "VadAddr_1", "VadAddr_2",
                 "VadAddr_3", "VadAddr_4", "VadCity", "VadState", "VadZip", "VadCountry", "VadFaxNum", "Stat",
                 "CurrCode", "LangCode", "TaxRegNum1", "RecordDate"),
    "customer": ("CustNum", "CustSeq", "Name", "Contact_1", "Phone_1", "ExternalEmailAddr", "InternetUrl", "Addr_1",
                 "Addr_2", "Addr_3", "Addr_4", "City", "State", "Zip", "Country", "FaxNum", "CurrCode", "LangCode",
                 "TaxRegNum1", "CreditHold", "RecordDate", "AdrRecordDate"),
}
LN_SELECT = {  # 4: BusinessPartner_ properties, the key first; the address is a separate entity (enrichment)
    "supplier": ("BusinessPartner", "Name", "BusinessPartnerStatus", "BusinessPartnerRole", "AddressCode",
                 "PhoneNumber", "FaxNumber", "Website", "Language", "Currency", "ChamberOfCommerce"),
    "customer": ("BusinessPartner", "Name", "BusinessPartnerStatus", "BusinessPartnerRole", "AddressCode",
                 "PhoneNumber", "FaxNumber", "Website", "Language", "Currency", "ChamberOfCommerce"),
}
LN_FILTER = {  # role filter on the general BP set; LN qualified enum literals (rule 9)
    "supplier": "BusinessPartnerRole eq tcapi.comBusinessPartner.BusinessPartnerRole'Supplier' or "
                "BusinessPartnerRole eq tcapi.comBusinessPartner.BusinessPartnerRole'CustomerAndSupplier'",
    "customer": "BusinessPartnerRole eq tcapi.comBusinessPartner.BusinessPartnerRole'Customer' or "
                "BusinessPartnerRole eq tcapi.comBusinessPartner.BusinessPartnerRole'CustomerAndSupplier'",
}
LN_ADDRESS_SELECT = ("AddressCode", "Name", "Street", "HouseNumber", "City", "StateProvince", "ZIPCodePostalCode",
                     "Country")
FSM_CLASSES = {"supplier": "Vendor", "customer": "Customer"}
FSM_FIELDS = {  # 5: the key first; field names are assumptions on real tenants, hence configurable
    "supplier": ("Vendor", "VendorGroup", "VendorName", "VendorClass", "CurrentAddressRel.PostalAddress.Municipality"),
    "customer": ("Customer", "FinanceEnterpriseGroup", "CustomerName"),
}


@dataclass(frozen=True)
class M3Config:
    cono: str = ""  # company; empty = the service account's default
    divi: str = ""  # division; empty = default
    change_detection: str = "lmts"  # lmts | exportmi | none (full scan)
    returncols: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(M3_RETURNCOLS))
    exportmi_separator: str = "|"  # EXPORTMI SEPC; a character that never occurs in master data
    timezone: str = "UTC"  # zone of M3's LMDT dates (EXPORTMI change detection)


@dataclass(frozen=True)
class CSIConfig:
    mongoose_config: str = ""  # X-Infor-MongooseConfig, required for product csi
    site_timezone: str = defaults.CLOUDSUITE_MONGOOSE_TIMEZONE  # RecordDate is site-local time
    properties: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(CSI_PROPERTIES))
    filters: Mapping[str, str] = field(default_factory=lambda: {"customer": "CustSeq = 0"})  # main address only
    address_date: bool = True  # customers: also select rows whose AdrRecordDate moved (address-only edits)


@dataclass(frozen=True)
class LNConfig:
    company: str = ""  # X-Infor-LnCompany; empty = the service account's default company
    service: str = "tcapi.comBusinessPartner"
    entity_sets: Mapping[str, str] = field(
        default_factory=lambda: {"supplier": "BusinessPartners", "customer": "BusinessPartners"})
    select: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(LN_SELECT))
    filters: Mapping[str, str] = field(default_factory=lambda: dict(LN_FILTER))
    address_select: tuple[str, ...] = LN_ADDRESS_SELECT


@dataclass(frozen=True)
class FSMConfig:
    classes: Mapping[str, str] = field(default_factory=lambda: dict(FSM_CLASSES))
    list_name: str = "_generic"
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(FSM_FIELDS))
    modified_field: str = ""  # e.g. UpdateStamp; empty = full scan (the reference's default)
    timestamp_format: str = "%Y-%m-%dT%H:%M:%S"  # how modified_field literals are written (UTC)


@dataclass(frozen=True)
class CloudSuiteConfig:
    """Everything the CloudSuite client needs from a connection, except the .ionapi secret's content."""

    product: str  # m3 | csi | ln | fsm | auto
    ionapi_secret: str
    page_size: int = defaults.CLOUDSUITE_PAGE_SIZE
    max_pages: int = defaults.CLOUDSUITE_MAX_PAGES
    overlap_s: float = defaults.CLOUDSUITE_WATERMARK_OVERLAP_S
    enrich: frozenset[str] = frozenset()  # addresses / contacts; off by default (see docs in client.py)
    token_client_auth: str = "body"  # noqa: S105 - body | basic: where client_id/secret go in token requests
    token_refresh_share: float = defaults.CLOUDSUITE_TOKEN_REFRESH_SHARE
    token_safety_margin_s: float = defaults.CLOUDSUITE_TOKEN_SAFETY_MARGIN_S
    connect_timeout_s: float = defaults.CONNECT_TIMEOUT_S
    read_timeout_s: float = defaults.READ_TIMEOUT_S
    max_retries: int = defaults.HTTP_MAX_RETRIES
    backoff_base_s: float = defaults.HTTP_BACKOFF_BASE_S
    backoff_max_s: float = defaults.HTTP_BACKOFF_MAX_S
    ca_bundle: str = ""  # PEM file of extra trusted CAs (on-premises gateways); empty = system trust store
    m3: M3Config = field(default_factory=M3Config)
    csi: CSIConfig = field(default_factory=CSIConfig)
    ln: LNConfig = field(default_factory=LNConfig)
    fsm: FSMConfig = field(default_factory=FSMConfig)

    @classmethod
    def from_section(cls, section: Mapping[str, Any], where: str = "cloudsuite") -> CloudSuiteConfig:
        """Parse a connection's ``cloudsuite`` section; ``where`` prefixes every error (e.g. the connection)."""
        return _Parser(where).config(section)


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"{self.where}: 'cloudsuite.{key}' {why}")

    def mapping(self, raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be an object")
        return value

    def string(self, raw: Mapping[str, Any], key: str, path: str, default: str, choices: Sequence[str] = ()) -> str:
        value = raw.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # company numbers are often written as numbers
        if not isinstance(value, str):
            raise self.fail(path, "must be a string")
        if choices and value not in choices:
            raise self.fail(path, f"must be one of {list(choices)}")
        return value.strip()

    def number(self, raw: Mapping[str, Any], key: str, default: float, low: float, high: float,
               integer: bool = False) -> Any:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
            raise self.fail(key, f"must be {'an integer' if integer else 'a number'}")
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}")
        return value

    def zone(self, raw: Mapping[str, Any], key: str, path: str, default: str) -> str:
        zone = self.string(raw, key, path, default)
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(path, "must be an IANA time zone name such as 'Europe/Berlin'") from None
        return zone

    def names(self, value: Any, path: str) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, Sequence) or not value:
            raise self.fail(path, "must be a non-empty list of field names")
        for name in value:
            if not isinstance(name, str) or not _NAME.match(name):
                raise self.fail(path, "must contain only field names (letters, digits, '_' and '.')")
        return tuple(value)

    def per_entity_names(self, raw: Mapping[str, Any], key: str, path: str,
                         default: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        given = self.mapping(raw, key) if key in raw else {}
        out = dict(default)
        for entity, names in given.items():
            if entity not in ENTITIES:
                raise self.fail(f"{path}.{entity}", f"is not an entity (use {list(ENTITIES)})")
            out[entity] = self.names(names, f"{path}.{entity}")
        return out

    def per_entity_strings(self, raw: Mapping[str, Any], key: str, path: str,
                           default: Mapping[str, str]) -> dict[str, str]:
        given = self.mapping(raw, key) if key in raw else {}
        out = dict(default)
        for entity, value in given.items():
            if entity not in ENTITIES:
                raise self.fail(f"{path}.{entity}", f"is not an entity (use {list(ENTITIES)})")
            if not isinstance(value, str):
                raise self.fail(f"{path}.{entity}", "must be a string")
            out[entity] = value.strip()
        return out

    def config(self, raw: Mapping[str, Any]) -> CloudSuiteConfig:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{self.where}: 'cloudsuite' must be an object")
        product = self.string(raw, "product", "product", "", (*PRODUCTS, "auto"))
        secret = raw.get("ionapi_secret")
        if not isinstance(secret, str) or not secret.strip():
            raise self.fail("ionapi_secret", "must name the secret holding the .ionapi file")
        enrich = raw.get("enrich", ())
        if isinstance(enrich, str) or not isinstance(enrich, Sequence) or any(e not in ENRICHMENTS for e in enrich):
            raise self.fail("enrich", f"must be a list drawn from {list(ENRICHMENTS)}")
        ca_bundle = self.string(raw, "ca_bundle", "ca_bundle", "")
        config = CloudSuiteConfig(
            product=product,
            ionapi_secret=secret.strip(),
            page_size=self.number(raw, "page_size", defaults.CLOUDSUITE_PAGE_SIZE, 1,
                                  defaults.CLOUDSUITE_MAX_PAGE_SIZE, integer=True),
            max_pages=self.number(raw, "max_pages", defaults.CLOUDSUITE_MAX_PAGES, 1, 10**9, integer=True),
            overlap_s=self.number(raw, "overlap_s", defaults.CLOUDSUITE_WATERMARK_OVERLAP_S, 0, 30 * 86400),
            enrich=frozenset(enrich),
            token_client_auth=self.string(raw, "token_client_auth", "token_client_auth", "body", ("body", "basic")),
            token_refresh_share=self.number(raw, "token_refresh_share", defaults.CLOUDSUITE_TOKEN_REFRESH_SHARE,
                                            0.1, 1.0),
            token_safety_margin_s=self.number(raw, "token_safety_margin_s",
                                              defaults.CLOUDSUITE_TOKEN_SAFETY_MARGIN_S, 0, 3600),
            connect_timeout_s=self.number(raw, "connect_timeout_s", defaults.CONNECT_TIMEOUT_S, 0.1, 300),
            read_timeout_s=self.number(raw, "read_timeout_s", defaults.READ_TIMEOUT_S, 0.1, 900),
            max_retries=self.number(raw, "max_retries", defaults.HTTP_MAX_RETRIES, 0, 20, integer=True),
            backoff_base_s=self.number(raw, "backoff_base_s", defaults.HTTP_BACKOFF_BASE_S, 0, 60),
            backoff_max_s=self.number(raw, "backoff_max_s", defaults.HTTP_BACKOFF_MAX_S, 0, 600),
            ca_bundle=ca_bundle,
            m3=self.m3(self.mapping(raw, "m3")),
            csi=self.csi(self.mapping(raw, "csi"), required=product == "csi"),
            ln=self.ln(self.mapping(raw, "ln")),
            fsm=self.fsm(self.mapping(raw, "fsm")),
        )
        return config

    def m3(self, raw: Mapping[str, Any]) -> M3Config:
        sep = self.string(raw, "exportmi_separator", "m3.exportmi_separator", "|")
        if len(sep) != 1 or sep in "'\" ":
            raise self.fail("m3.exportmi_separator", "must be one character other than a quote or a space")
        cono = self.string(raw, "cono", "m3.cono", "")
        if cono and not cono.isdigit():
            raise self.fail("m3.cono", "must be a company number")
        return M3Config(
            cono=cono,
            divi=self.string(raw, "divi", "m3.divi", ""),
            change_detection=self.string(raw, "change_detection", "m3.change_detection", "lmts",
                                         ("lmts", "exportmi", "none")),
            returncols=self.per_entity_names(raw, "returncols", "m3.returncols", M3_RETURNCOLS),
            exportmi_separator=sep,
            timezone=self.zone(raw, "timezone", "m3.timezone", "UTC"),
        )

    def csi(self, raw: Mapping[str, Any], required: bool) -> CSIConfig:
        mongoose = self.string(raw, "mongoose_config", "csi.mongoose_config", "")
        if required and not mongoose:
            raise self.fail("csi.mongoose_config", "is required for product csi (the X-Infor-MongooseConfig value)")
        zone = self.zone(raw, "site_timezone", "csi.site_timezone", defaults.CLOUDSUITE_MONGOOSE_TIMEZONE)
        address_date = raw.get("address_date", True)
        if not isinstance(address_date, bool):
            raise self.fail("csi.address_date", "must be true or false")
        return CSIConfig(
            mongoose_config=mongoose,
            site_timezone=zone,
            properties=self.per_entity_names(raw, "properties", "csi.properties", CSI_PROPERTIES),
            filters=self.per_entity_strings(raw, "filters", "csi.filters", {"customer": "CustSeq = 0"}),
            address_date=address_date,
        )

    def ln(self, raw: Mapping[str, Any]) -> LNConfig:
        company = self.string(raw, "company", "ln.company", "")
        if company and not (company.isdigit() and int(company) <= 9999):
            raise self.fail("ln.company", "must be a company number 0-9999")
        default = LNConfig()
        return LNConfig(
            company=company,
            service=self.string(raw, "service", "ln.service", default.service),
            entity_sets=self.per_entity_strings(raw, "entity_sets", "ln.entity_sets", default.entity_sets),
            select=self.per_entity_names(raw, "select", "ln.select", LN_SELECT),
            filters=self.per_entity_strings(raw, "filters", "ln.filters", LN_FILTER),
            address_select=self.names(raw.get("address_select", LN_ADDRESS_SELECT), "ln.address_select"),
        )

    def fsm(self, raw: Mapping[str, Any]) -> FSMConfig:
        modified = self.string(raw, "modified_field", "fsm.modified_field", "")
        if modified and not _NAME.match(modified):
            raise self.fail("fsm.modified_field", "must be a field name")
        default = FSMConfig()
        return FSMConfig(
            classes=self.per_entity_strings(raw, "classes", "fsm.classes", FSM_CLASSES),
            list_name=self.string(raw, "list_name", "fsm.list_name", default.list_name),
            fields=self.per_entity_names(raw, "fields", "fsm.fields", FSM_FIELDS),
            modified_field=modified,
            timestamp_format=self.string(raw, "timestamp_format", "fsm.timestamp_format", default.timestamp_format),
        )
