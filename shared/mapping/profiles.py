"""Default field maps per product line: data in the same shape as a connection's ``mapping`` section.

A connection's section is laid over these (``config.merge_section``), so a tenant whose fields differ is fixed by
configuration. Source names are the product's own (cloudsuite.md §2.3 M3, §3.4 CSI, §4 LN, §5 FSM) as the
CloudSuite client returns them; a dotted name reads a flattened key or a nested object (``AddressRef.City``) and a
number picks a list item (``_addresses.0.ADR1``). docs/mapping.md shows these as tables (a test keeps them in step).
"""

from __future__ import annotations

from typing import Any

_LN_CONTACT_FIELDS = {
    "firstname": "FirstName", "lastname": "LastName", "fullname": "FullName", "emailaddress1": "Email",
    "telephone1": "OfficePhone", "mobilephone": "MobilePhone", "jobtitle": "JobTitle",
}
_FSM_ADDRESS = "CurrentAddressRel.PostalAddress."
_FSM_COMMON = {  # FSM names beyond Vendor/VendorName/VendorGroup are assumptions (reference §5): check per tenant
    "address1_line1": _FSM_ADDRESS + "DeliveryAddress.AddressLine1",
    "address1_line2": _FSM_ADDRESS + "DeliveryAddress.AddressLine2",
    "address1_line3": _FSM_ADDRESS + "DeliveryAddress.AddressLine3",
    "address1_city": _FSM_ADDRESS + "Municipality", "address1_stateorprovince": _FSM_ADDRESS + "StateProvince",
    "address1_postalcode": _FSM_ADDRESS + "PostalCode", "address1_country": _FSM_ADDRESS + "Country",
    "telephone1": "PhoneNumber", "emailaddress1": "EmailAddress", "websiteurl": "URL",
}
_FSM_CONTACT = {"id": "contact", "fields": {"fullname": "Contact.ContactName", "emailaddress1": "Contact.EmailAddress",
                                            "telephone1": "Contact.PhoneNumber"}}
_M3_ADDRESS = "_addresses.0."  # client enrichment "addresses": the CRS620MI/LstAddresses rows, first one used

PROFILES: dict[str, dict[str, Any]] = {
    "m3": {
        "kinds": {"supplier": "S", "customer": "C"},
        "both": None,
        "supplier": {
            "id": ["SUNO"],
            "fields": {
                "name": "SUNM", "accountnumber": "SUNO",
                "address1_line1": _M3_ADDRESS + "ADR1", "address1_line2": _M3_ADDRESS + "ADR2",
                "address1_line3": _M3_ADDRESS + "ADR3", "address1_city": _M3_ADDRESS + "TOWN",
                "address1_stateorprovince": {"first": [_M3_ADDRESS + "ECAR", "ECAR"]},
                "address1_postalcode": _M3_ADDRESS + "PONO",
                "address1_country": {"first": [_M3_ADDRESS + "CSCD", "CSCD"]}, "telephone1": "PHNO",
            },
            "status": {"field": "STAT", "inactive": ["90"]},
            "contacts": [
                {"id": "ref", "list": "_contacts", "key": ["RFTY", "RFID"],
                 "fields": {"fullname": "YRE1", "emailaddress1": "EMAL", "telephone1": "PHNO"}},
            ],
        },
        "customer": {
            "id": ["CUNO"],
            "fields": {
                "name": "CUNM", "accountnumber": "CUNO",
                "address1_line1": "CUA1", "address1_line2": "CUA2", "address1_line3": "CUA3",
                "address1_city": "TOWN", "address1_stateorprovince": "ECAR", "address1_postalcode": "PONO",
                "address1_country": "CSCD", "telephone1": "PHNO", "emailaddress1": "MAIL",
            },
            "status": {"field": "STAT", "inactive": ["90"]},
            "contacts": [
                {"id": "yref", "fields": {"fullname": "YREF", "emailaddress1": "MAIL", "telephone1": "PHNO"}},
            ],
        },
    },
    "csi": {
        "kinds": {"supplier": "S", "customer": "C"},
        "both": None,
        "supplier": {
            "id": ["VendNum"],
            "fields": {
                "name": "Name", "accountnumber": "VendNum",
                "address1_line1": "VadAddr_1", "address1_line2": "VadAddr_2", "address1_line3": "VadAddr_3",
                "address1_city": "VadCity", "address1_stateorprovince": "VadState", "address1_postalcode": "VadZip",
                "address1_country": "VadCountry", "telephone1": "Phone", "emailaddress1": "ExternalEmailAddr",
                "websiteurl": "InternetUrl",
            },
            "status": {"field": "Stat", "inactive": ["I"]},
            "contacts": [
                {"id": "contact",
                 "fields": {"fullname": "Contact", "telephone1": "Phone", "emailaddress1": "ExternalEmailAddr"}},
            ],
        },
        "customer": {
            "id": ["CustNum"],
            "fields": {
                "name": "Name", "accountnumber": "CustNum",
                "address1_line1": "Addr_1", "address1_line2": "Addr_2", "address1_line3": "Addr_3",
                "address1_city": "City", "address1_stateorprovince": "State", "address1_postalcode": "Zip",
                "address1_country": "Country", "telephone1": "Phone_1", "emailaddress1": "ExternalEmailAddr",
                "websiteurl": "InternetUrl",
            },
            "status": None,
            "contacts": [
                {"id": f"contact{i}", "fields": {"fullname": f"Contact_{i}", "telephone1": f"Phone_{i}"}}
                for i in (1, 2, 3)
            ],
        },
    },
    "ln": {
        "kinds": {"supplier": "BP", "customer": "BP"},
        "both": {"field": "BusinessPartnerRole", "values": ["CustomerAndSupplier", "4"], "use": "customer"},
        "supplier": {},  # filled below: LN business partners map the same way in both roles
        "customer": {},
    },
    "fsm": {
        "kinds": {"supplier": "S", "customer": "C"},
        "both": None,
        "supplier": {
            "id": ["VendorGroup", "Vendor"],
            "fields": {"name": "VendorName", "accountnumber": "Vendor", **_FSM_COMMON},
            "status": {"field": "VendorStatus", "inactive": ["Inactive"]},
            "contacts": [_FSM_CONTACT],
        },
        "customer": {
            "id": ["Customer"],
            "fields": {"name": "CustomerName", "accountnumber": "Customer", **_FSM_COMMON},
            "status": {"field": "Status", "inactive": ["Inactive"]},
            "contacts": [_FSM_CONTACT],
        },
    },
}

_LN_PARTNER: dict[str, Any] = {
    "id": ["BusinessPartner"],
    "fields": {
        "name": "Name", "accountnumber": "BusinessPartner",
        "address1_line1": ["AddressRef.Street", "AddressRef.HouseNumber"],
        "address1_city": {"first": ["AddressRef.CityDescription", "AddressRef.City"]},
        "address1_stateorprovince": "AddressRef.StateProvince",
        "address1_postalcode": "AddressRef.ZIPCodePostalCode",
        "address1_country": "AddressRef.Country",
        "telephone1": "PhoneNumber", "websiteurl": "Website",
    },
    "status": {"field": "BusinessPartnerStatus", "inactive": ["Inactive", "3"]},
    "contacts": [
        {"id": "contact", "list": "Contacts", "key": ["Contact"], "fields": dict(_LN_CONTACT_FIELDS),
         "status": {"field": "Active", "inactive": ["false", "no", "0"]}},
    ],
}
PROFILES["ln"]["supplier"] = _LN_PARTNER
PROFILES["ln"]["customer"] = _LN_PARTNER
