"""Generate workbook.json (the Azure Monitor workbook the Bicep deploys) from queries/workbook-*.kql.

The .kql files are the single source of the workbook's queries (each starts with ``// title:`` and ``// chart:``
lines); tests check their fields against shared/telemetry.py. ``--check`` exits 1 when workbook.json is stale.
Usage: python infra/monitoring/build_workbook.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "workbook.json"
APP_INSIGHTS = "__APP_INSIGHTS_ID__"  # replaced with the App Insights resource id by modules/workbook.bicep
_CHARTS = {"timechart": "timechart", "barchart": "barchart", "table": "table"}
_INTRO = (
    "## cloudsuite-sync\n"
    "Pipeline health from the app's `event=... key=value` log lines (catalogue: docs/telemetry.md; "
    "runbook: docs/operations.md). Times are UTC; counts are per hour."
)


def read_query(path: Path) -> tuple[str, str, str]:
    """Return (title, chart, query) of a workbook .kql file; the header lines are not part of the query."""
    header: dict[str, str] = {}
    body: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not body and line.startswith("//"):
            key, _, value = line[2:].partition(":")
            header[key.strip()] = value.strip()
        else:
            body.append(line)
    if "title" not in header or header.get("chart") not in _CHARTS:
        raise ValueError(f"{path.name}: needs '// title: ...' and '// chart: {'|'.join(_CHARTS)}' header lines")
    return header["title"], _CHARTS[header["chart"]], "\n".join(body).strip() + "\n"


def build() -> dict[str, object]:
    items: list[dict[str, object]] = [
        {"type": 1, "name": "intro", "content": {"json": _INTRO}},
        {"type": 9, "name": "parameters", "content": {
            "version": "KqlParameterItem/1.0", "style": "pills", "queryType": 0,
            "resourceType": "microsoft.insights/components",
            "parameters": [{
                "id": "8d4b1c3e-5d6f-4a7b-9c8d-0e1f2a3b4c5d", "version": "KqlParameterItem/1.0",
                "name": "TimeRange", "label": "Time range", "type": 4, "isRequired": True,
                "value": {"durationMs": 86400000},
                "typeSettings": {"selectableValues": [{"durationMs": ms} for ms in
                                                      (3600000, 14400000, 86400000, 259200000, 604800000)]},
            }],
        }},
    ]
    for path in sorted(HERE.glob("queries/workbook-*.kql")):
        title, chart, query = read_query(path)
        items.append({"type": 3, "name": path.stem, "customWidth": "100" if chart == "table" else "50", "content": {
            "version": "KqlItem/1.0", "title": title, "query": query, "size": 0, "queryType": 0,
            "resourceType": "microsoft.insights/components", "crossComponentResources": [APP_INSIGHTS],
            "timeContextFromParameter": "TimeRange", "visualization": chart,
        }})
    return {
        "version": "Notebook/1.0",
        "items": items,
        "fallbackResourceIds": [APP_INSIGHTS],
        "$schema": "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json",
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run python infra/monitoring/build_workbook.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
