"""Table and column definitions of the simulated environment (reference section 7), plus metadata shapes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

CUSTOMER_TYPES = {1: "Competitor", 2: "Consultant", 3: "Customer", 4: "Investor", 5: "Partner", 6: "Influencer",
                  7: "Press", 8: "Prospect", 9: "Reseller", 10: "Supplier", 11: "Vendor", 12: "Other"}
STATES = {0: "Active", 1: "Inactive"}
STATUSES = {1: "Active", 2: "Inactive"}
STATUS_OF_STATE = {0: 1, 1: 2}  # default statuscode for each statecode
STATE_OF_STATUS = {1: 0, 2: 1}

# Key attribute types Dataverse accepts (define-alternate-keys-entity.md).
KEYABLE_TYPES = {"String", "Integer", "Decimal", "DateTime", "Lookup", "Picklist"}


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "cloudsuite-sync-sim/" + "/".join(parts)))


@dataclass
class Column:
    name: str
    type: str  # String | Memo | Picklist | State | Status | Lookup | Customer | Uniqueidentifier | DateTime | BigInt
    max_length: int | None = None
    options: dict[int, str] | None = None
    targets: tuple[str, ...] = ()
    writable: bool = True  # False: silently ignored on write (computed / system columns)
    custom: bool = False
    schema_name: str = ""
    metadata_id: str = ""

    @property
    def is_lookup(self) -> bool:
        return self.type in ("Lookup", "Customer")

    def metadata(self, table: str) -> dict[str, Any]:
        odata_type = {"String": "StringAttributeMetadata", "Memo": "MemoAttributeMetadata",
                      "Picklist": "PicklistAttributeMetadata", "State": "StateAttributeMetadata",
                      "Status": "StatusAttributeMetadata", "Lookup": "LookupAttributeMetadata",
                      "Customer": "LookupAttributeMetadata", "Uniqueidentifier": "AttributeMetadata",
                      "DateTime": "DateTimeAttributeMetadata", "BigInt": "BigIntAttributeMetadata"}[self.type]
        out: dict[str, Any] = {
            "@odata.type": f"#Microsoft.Dynamics.CRM.{odata_type}",
            "MetadataId": self.metadata_id, "LogicalName": self.name, "SchemaName": self.schema_name or self.name,
            "EntityLogicalName": table, "AttributeType": self.type,
            "AttributeTypeName": {"Value": f"{self.type}Type"}, "IsCustomAttribute": self.custom,
            "IsValidForCreate": self.writable, "IsValidForUpdate": self.writable,
            "RequiredLevel": {"Value": "None", "CanBeChanged": True,
                              "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
        }
        if self.max_length is not None:
            out["MaxLength"] = self.max_length
        if self.targets:
            out["Targets"] = list(self.targets)
        return out


@dataclass
class Key:
    schema_name: str
    attributes: list[str]
    created: float
    status: str = "Pending"  # Pending | InProgress | Active | Failed
    reads: int = 0  # status reads so far (for read-driven activation)
    fail: bool = False  # this index build ends Failed
    metadata_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    display_name: str = ""

    @property
    def logical_name(self) -> str:
        return self.schema_name.lower()

    def metadata(self, table: str) -> dict[str, Any]:
        label = self.display_name or self.schema_name
        return {
            "MetadataId": self.metadata_id, "SchemaName": self.schema_name, "LogicalName": self.logical_name,
            "EntityLogicalName": table, "KeyAttributes": list(self.attributes),
            "EntityKeyIndexStatus": self.status, "IsCustomizable": {"Value": True, "CanBeChanged": True},
            "IsManaged": False, "IsSecondaryKey": False,
            "DisplayName": {"LocalizedLabels": [{"Label": label, "LanguageCode": 1033}],
                            "UserLocalizedLabel": {"Label": label, "LanguageCode": 1033}},
        }


@dataclass
class Table:
    logical_name: str
    set_name: str
    id_column: str
    primary_name: str
    object_type_code: int
    columns: dict[str, Column]
    navs: dict[str, tuple[str, str]]  # nav property -> (lookup column, target table)
    keys: dict[str, Key] = field(default_factory=dict)
    metadata_id: str = ""

    @property
    def type_name(self) -> str:
        return f"Microsoft.Dynamics.CRM.{self.logical_name}"

    def metadata(self) -> dict[str, Any]:
        return {
            "MetadataId": self.metadata_id, "LogicalName": self.logical_name, "SchemaName": self.logical_name.title(),
            "EntitySetName": self.set_name, "LogicalCollectionName": self.set_name,
            "PrimaryIdAttribute": self.id_column, "PrimaryNameAttribute": self.primary_name,
            "ObjectTypeCode": self.object_type_code, "IsCustomEntity": False, "TableType": "Standard",
            "OwnershipType": "UserOwned", "IsActivity": False,
        }


def _strings(table: str, spec: dict[str, int]) -> dict[str, Column]:
    return {name: Column(name, "String", max_length=length, schema_name=name,
                         metadata_id=_stable_id(table, name)) for name, length in spec.items()}


_ADDRESS = {"address1_line1": 250, "address1_line2": 250, "address1_line3": 250, "address1_city": 80,
            "address1_country": 80, "address1_stateorprovince": 50, "address1_county": 50,
            "address1_postalcode": 20, "address1_name": 200,
            "address2_line1": 250, "address2_line2": 250, "address2_line3": 250, "address2_city": 80,
            "address2_country": 80, "address2_stateorprovince": 50, "address2_county": 50,
            "address2_postalcode": 20}


def _common(table: str, id_column: str) -> dict[str, Column]:
    cols = {
        id_column: Column(id_column, "Uniqueidentifier", writable=True, schema_name=id_column),
        "description": Column("description", "Memo", max_length=2000, schema_name="Description"),
        "statecode": Column("statecode", "State", options=STATES, schema_name="StateCode"),
        "statuscode": Column("statuscode", "Status", options=STATUSES, schema_name="StatusCode"),
        "createdon": Column("createdon", "DateTime", writable=False, schema_name="CreatedOn"),
        "modifiedon": Column("modifiedon", "DateTime", writable=False, schema_name="ModifiedOn"),
        "versionnumber": Column("versionnumber", "BigInt", writable=False, schema_name="VersionNumber"),
    }
    for col in cols.values():
        col.metadata_id = _stable_id(table, col.name)
    return cols


def default_tables() -> dict[str, Table]:
    account_cols = {
        **_common("account", "accountid"),
        **_strings("account", {"name": 160, "accountnumber": 20, **_ADDRESS, "telephone1": 50, "telephone2": 50,
                               "fax": 50, "emailaddress1": 100, "websiteurl": 200}),
        "customertypecode": Column("customertypecode", "Picklist", options=CUSTOMER_TYPES,
                                   schema_name="CustomerTypeCode", metadata_id=_stable_id("account", "ctc")),
        "primarycontactid": Column("primarycontactid", "Lookup", targets=("contact",), schema_name="PrimaryContactId"),
        "parentaccountid": Column("parentaccountid", "Lookup", targets=("account",), schema_name="ParentAccountId"),
        "transactioncurrencyid": Column("transactioncurrencyid", "Lookup", targets=("transactioncurrency",),
                                        schema_name="TransactionCurrencyId"),
    }
    contact_cols = {
        **_common("contact", "contactid"),
        **_strings("contact", {"firstname": 50, "lastname": 50, "middlename": 50, "salutation": 100,
                               "emailaddress1": 100, "emailaddress2": 100, "telephone1": 50, "telephone2": 50,
                               "mobilephone": 50, "fax": 50, "jobtitle": 100, "department": 100, **_ADDRESS}),
        "fullname": Column("fullname", "String", max_length=160, writable=False, schema_name="FullName"),
        "customertypecode": Column("customertypecode", "Picklist", options={1: "Default Value"},
                                   schema_name="CustomerTypeCode", metadata_id=_stable_id("contact", "ctc")),
        "parentcustomerid": Column("parentcustomerid", "Customer", targets=("account", "contact"),
                                   schema_name="ParentCustomerId"),
    }
    for table, cols in (("account", account_cols), ("contact", contact_cols)):
        for col in cols.values():
            col.metadata_id = col.metadata_id or _stable_id(table, col.name)
    return {
        "account": Table("account", "accounts", "accountid", "name", 1, account_cols,
                         {"primarycontactid": ("primarycontactid", "contact"),
                          "parentaccountid": ("parentaccountid", "account"),
                          "transactioncurrencyid": ("transactioncurrencyid", "transactioncurrency")},
                         metadata_id=_stable_id("account")),
        "contact": Table("contact", "contacts", "contactid", "fullname", 2, contact_cols,
                         {"parentcustomerid_account": ("parentcustomerid", "account"),
                          "parentcustomerid_contact": ("parentcustomerid", "contact")},
                         metadata_id=_stable_id("contact")),
    }


SET_TO_TABLE = {"accounts": "account", "contacts": "contact", "transactioncurrencies": "transactioncurrency"}
