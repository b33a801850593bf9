"""Full Dataverse rows per product and entity, compared with reviewed snapshot files in snapshots/.

Each file holds the connection's mapping section, one raw record as the CloudSuite client returns it and the
expected rows. After an intended change, regenerate with ``UPDATE_SNAPSHOTS=1 pytest tests/mapping`` and review
the diff of snapshots/*.json like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.mapping import MappedRecord, MappingConfig, map_record

SNAPSHOTS = Path(__file__).parent / "snapshots"
FILES = sorted(SNAPSHOTS.glob("*.json"))


def _render(mapped: MappedRecord) -> dict[str, Any]:
    return {
        "source_key": mapped.source_key,
        "notes": list(mapped.notes),
        "rows": [{"table": row.table, "entity_set": row.entity_set, "ref": row.ref, "key": row.key,
                  "parent_key": row.parent_key, "payload": row.payload, "hash": row.hash} for row in mapped.rows],
    }


def test_every_product_and_entity_has_a_snapshot() -> None:
    assert [f.name for f in FILES] == [f"{p}_{e}.json" for p in ("csi", "fsm", "ln", "m3")
                                       for e in ("customer", "supplier")]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_mapped_rows_match_the_reviewed_snapshot(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    config = MappingConfig.from_section(case["mapping"], connection=case["connection"], product=case["product"])
    actual = _render(map_record(config, case["entity"], case["input"]))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        case["expected"] = actual
        path.write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert actual == case["expected"]
