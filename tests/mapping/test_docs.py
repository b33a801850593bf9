"""docs/mapping.md shows the default field maps per product; this test keeps its tables in step with the code.

When a default changes, print the new tables with ``PYTHONPATH=. .venv/bin/python tests/mapping/test_docs.py``
and paste them into docs/mapping.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.mapping.profiles import PROFILES

DOC = Path(__file__).parents[2] / "docs" / "mapping.md"
TITLES = {"m3": "M3", "csi": "CloudSuite Industrial (CSI / SyteLine)", "ln": "LN", "fsm": "FSM"}
ENTITY_TITLES = {"m3": ("Supplier (CRS620MI)", "Customer (CRS610MI)"),
                 "csi": ("Vendor (SLVendors)", "Customer (SLCustomers)"),
                 "ln": ("Business partner (supplier)", "Business partner (customer)"),
                 "fsm": ("Vendor", "Customer")}


def source_text(source: Any) -> str:
    if source is None:
        return "-"
    if isinstance(source, str):
        return f"`{source}`"
    if isinstance(source, list):
        return " + ".join(f"`{f}`" for f in source)
    if "join" in source:
        return " + ".join(f"`{f}`" for f in source["join"]) + f" (joined with `{source.get('sep', ' ')}`)"
    return ", else ".join(f"`{f}`" for f in source["first"])


def status_text(status: Any) -> str:
    if status is None:
        return "not mapped (state never sent)"
    return f"`{status['field']}` = " + " or ".join(f"`{v}`" for v in status["inactive"])


def contact_rows(entity: str, spec: dict[str, Any]) -> str:
    fields = spec["fields"]
    names = [f"{part} {source_text(fields.get(part))}" for part in ("firstname", "lastname") if fields.get(part)]
    if fields.get("fullname"):
        names.append(("else " if names else "") + f"full name {source_text(fields['fullname'])} split")
    others = ", ".join(f"{column} ← {source_text(source)}" for column, source in fields.items()
                       if column not in ("firstname", "lastname", "fullname"))
    origin = f"each item of `{spec['list']}`, key " + ", ".join(f"`{k}`" for k in spec["key"]) if spec.get(
        "list") else "the record itself"
    inactive = f"; inactive when {status_text(spec['status'])}" if spec.get("status") else ""
    return f"| {entity} | `{spec['id']}` | {origin} | {'; '.join(names)} | {others}{inactive} |"


def product_tables(product: str) -> str:
    """The markdown docs/mapping.md shows for one product's defaults."""
    profile = PROFILES[product]
    supplier, customer = profile["supplier"], profile["customer"]
    columns = list(dict.fromkeys([*supplier["fields"], *customer["fields"]]))
    titles = ENTITY_TITLES[product]
    lines = [f"### {TITLES[product]}", "", f"| Dataverse column | {titles[0]} | {titles[1]} |", "|---|---|---|",
             "| record id (key) | " + " + ".join(f"`{f}`" for f in supplier["id"]) + " | "
             + " + ".join(f"`{f}`" for f in customer["id"]) + " |"]
    lines += [f"| {c} | {source_text(supplier['fields'].get(c))} | {source_text(customer['fields'].get(c))} |"
              for c in columns]
    lines.append(f"| inactive when | {status_text(supplier['status'])} | {status_text(customer['status'])} |")
    contacts = [contact_rows(e, spec) for e in ("supplier", "customer") for spec in profile[e]["contacts"]]
    if contacts:
        lines += ["", "| Entity | Contact id | From | Name | Other columns |", "|---|---|---|---|---|", *contacts]
    else:
        lines += ["", "No contacts by default."]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("product", list(PROFILES))
def test_docs_show_the_default_field_map_of_each_product(product: str) -> None:
    assert product_tables(product) in DOC.read_text(encoding="utf-8")


if __name__ == "__main__":
    print("\n".join(product_tables(p) for p in PROFILES))
