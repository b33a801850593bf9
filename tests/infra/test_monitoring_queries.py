"""Every workbook, alert and runbook query reads only events and fields the app really logs.

Real log lines are rendered through ``shared.telemetry.log_event`` from realistic calls; each query's KQL is parsed
for the events it filters on and the fields it extracts (``parse-kv ... as (...)``, ``extract("name=...")``,
``parse message with ... "name=" ...``). A field no sample line of those events carries fails the test, and so does
a value that does not fit the declared KQL type.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.telemetry import EVENTS, log_event, parse_event

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "infra" / "monitoring" / "queries"
DOCS_WITH_KQL = (ROOT / "docs" / "operations.md", ROOT / "docs" / "telemetry.md")

JOB = {"job_id": "20261127T0730Z-7f3a", "connection": "acme-m3", "entity": "supplier"}
T0 = datetime(2026, 11, 27, 7, 15, tzinfo=UTC)
T1 = datetime(2026, 11, 27, 7, 30, tzinfo=UTC)

# What the pipeline logs, call by call (successes, failures, redeliveries, replays).
SAMPLES: tuple[tuple[str, dict[str, object]], ...] = (
    ("poll.started", {**JOB, "watermark_from": T0, "past_due": False}),
    ("poll.completed", {**JOB, "outcome": "ok", "read": 120, "changed": 118, "pages": 3, "duration_ms": 5231,
                        "watermark_from": T0, "watermark": T1}),
    ("poll.completed", {**JOB, "entity": "customer", "outcome": "failed", "read": 0, "pages": 0, "duration_ms": 812,
                        "watermark_from": T0, "error_class": "AuthError",
                        "reason": "ION API token refused (401) at https://mingle-ionapi.inforcloudsuite.com/T_PRD/"}),
    ("transform.completed", {**JOB, "outcome": "partial", "page_id": "p-0002", "dequeue_count": 1, "mapped": 47,
                             "skipped_unchanged": 2, "invalid": 1, "batches": 1, "duration_ms": 94}),
    ("write.completed", {**JOB, "outcome": "partial", "batch_id": "b-0003", "dequeue_count": 1, "written": 46,
                         "created": 5, "updated": 41, "failed": 1, "deferred": 0, "requests": 3, "throttled": 1,
                         "throttle_wait_s": 2.5, "duration_ms": 4120}),
    ("transform.completed", {**JOB, "outcome": "failed", "page_id": "p-0003", "dequeue_count": 5,
                             "duration_ms": 40, "error_class": "TransientError",
                             "reason": "claim-check blob sync-payloads/p-0003 not reachable (503)"}),
    ("write.completed", {**JOB, "outcome": "failed", "batch_id": "b-0004", "dequeue_count": 2, "written": 0,
                         "failed": 0, "deferred": 50, "requests": 4, "throttled": 4, "throttle_wait_s": 300.0,
                         "duration_ms": 301200, "error_class": "ThrottledError",
                         "reason": "Dataverse 429: Number of requests exceeded the limit of 6000 over time window "
                                   "of 300 seconds."}),
    ("write.completed", {**JOB, "outcome": "skipped", "batch_id": "b-0003", "dequeue_count": 2, "written": 0,
                         "failed": 0, "requests": 0, "throttled": 0, "duration_ms": 12}),
    ("sync.lag", {**JOB, "batch_id": "b-0003", "records": 46, "lag_min_s": 312.0, "lag_max_s": 1104.75,
                  "lag_avg_s": 640.2}),
    ("token.refreshed", {"service": "cloudsuite", "outcome": "ok", "connection": "acme-m3", "reason": "expiring",
                         "expires_in_s": 7200, "duration_ms": 230}),
    ("token.refreshed", {"service": "dataverse", "outcome": "failed", "connection": "acme-m3",
                         "reason": "AADSTS7000215: invalid client secret", "error_class": "AuthError",
                         "duration_ms": 180}),
    ("deadletter.added", {**JOB, "stage": "transform", "reason": 'required field "name" is empty',
                          "record_key": "S000123", "page_id": "p-0002", "error_class": "RecordError"}),
    ("deadletter.added", {**JOB, "stage": "write", "reason": "HTTP 400: duplicate alternate key",
                          "record_key": "S000124", "batch_id": "b-0003", "error_class": "RecordError", "records": 1}),
    ("deadletter.added", {"stage": "queue", "reason": "poison message is not valid base64",
                          "source": "dataverse-writes-poison", "records": 0}),
    ("deadletter.replayed", {**JOB, "source": "syncdeadletter", "target": "dataverse-writes", "record_key": "S000123",
                             "replay_count": 1, "trigger": "http", "dry_run": False}),
    ("deadletter.parked", {**JOB, "source": "syncdeadletter", "replay_count": 3, "record_key": "S000123",
                           "reason": "HTTP 400: duplicate alternate key", "trigger": "timer"}),
    ("replay.completed", {"trigger": "timer", "outcome": "ok", "dry_run": False, "matched": 4, "replayed": 3,
                          "parked": 1, "failed": 0, "duration_ms": 640}),
    ("replay.completed", {**JOB, "trigger": "http", "outcome": "ok", "dry_run": True, "matched": 2, "replayed": 0,
                          "parked": 0, "failed": 0, "duration_ms": 88}),
    ("replay.completed", {"trigger": "http", "outcome": "failed", "duration_ms": 15, "error_class": "ConfigError",
                          "reason": "since must be an ISO 8601 date-time"}),
    ("queue.depth", {"target": "cloudsuite-pages-poison", "store": "queue", "depth": 0}),
    ("queue.depth", {"target": "dataverse-writes-poison", "store": "queue", "depth": 2}),
    ("queue.depth", {"target": "syncdeadletter", "store": "table", "depth": 5, "parked": 1}),
)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def lines() -> dict[str, list[dict[str, str]]]:
    """Sample log lines as the host would store them in traces.message, parsed back into fields, by event."""
    logger = logging.getLogger("tests.infra.telemetry-samples")
    capture = _Capture()
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        for event, fields in SAMPLES:
            log_event(logger, event, **fields)
    finally:
        logger.removeHandler(capture)
    by_event: dict[str, list[dict[str, str]]] = {}
    for message in capture.messages:
        fields = parse_event(message)
        by_event.setdefault(fields["event"], []).append(fields)
    return by_event


# --- a small KQL reader: the events a query filters on and the fields it extracts ------------------------------

_STRING = re.compile(r'@?"((?:[^"\\]|\\.)*)"|@?\'((?:[^\'\\]|\\.)*)\'')
_PARSE_KV = re.compile(r"parse-kv\s+message\s+as\s*\(([^)]*)\)", re.S)
_EXTRACT = re.compile(r"extract(?:_all)?\s*\(\s*(@?\"(?:[^\"\\]|\\.)*\"|@?'(?:[^'\\]|\\.)*')", re.S)
_PARSE = re.compile(r"\bparse(?:\s+kind\s*=\s*\w+)?\s+message\s+with\s+([^|]*)", re.S)
_EVENT_NAME = re.compile(r"[a-z]+\.[a-z_]+")
_TYPES = {
    "long": re.compile(r"-?\d+"), "int": re.compile(r"-?\d+"), "real": re.compile(r"-?\d+(\.\d+)?"),
    "double": re.compile(r"-?\d+(\.\d+)?"), "bool": re.compile(r"true|false"),
    "datetime": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "string": re.compile(r".*", re.S),
    "dynamic": re.compile(r".*", re.S),
}
ALL = "*"


def _strings(kql: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in _STRING.finditer(_strip_comments(kql))]


def _strip_comments(kql: str) -> str:
    return "\n".join(re.sub(r"^\s*//.*$", "", line) for line in kql.splitlines())


def referenced_events(kql: str) -> set[str]:
    """Event names a query filters on; ALL when it reads every event (a bare "event=" filter)."""
    events: set[str] = set()
    for text in _strings(kql):
        if text.strip() == "event=":
            events.add(ALL)
        elif (match := re.fullmatch(r"event=([a-z_.]+)\s*", text)) or _EVENT_NAME.fullmatch(text):
            events.add(match.group(1) if match else text)
    return events


def extracted_fields(kql: str) -> dict[str, str | None]:
    """Field name -> declared KQL type (None when the syntax declares none)."""
    kql = _strip_comments(kql)
    fields: dict[str, str | None] = {}
    for columns in _PARSE_KV.findall(kql):
        for column in columns.split(","):
            name, _, kind = column.strip().partition(":")
            fields[name.strip()] = kind.strip() or "string"
    for literal in _EXTRACT.findall(kql):
        for name in re.findall(r"([a-z_][a-z0-9_]*)=", literal):
            fields.setdefault(name, None)
    for clause in _PARSE.findall(kql):
        for text in _strings(clause):
            for name in re.findall(r"([a-z_][a-z0-9_]*)=", text):
                fields.setdefault(name, None)
    return fields


def check_query(kql: str, lines: dict[str, list[dict[str, str]]]) -> list[str]:
    """Problems of one query against the sample lines; [] when every event and field it reads exists."""
    events = referenced_events(kql)
    fields = extracted_fields(kql)
    problems = [f"unknown event {e!r}" for e in sorted(events - {ALL}) if e not in EVENTS]
    if not events:
        problems.append("query does not filter on an event (message startswith \"event=<name> \")")
    if not fields:
        problems.append("query extracts no field (parse-kv/extract/parse on message)")
    scope = set(EVENTS) if ALL in events else events & set(EVENTS)
    samples = [line for event in sorted(scope) for line in lines.get(event, [])]
    for name, kind in fields.items():
        values = [line[name] for line in samples if name in line]
        if not values:
            problems.append(f"field {name!r} is in no logged line of {sorted(scope)}")
            continue
        if kind is not None:
            pattern = _TYPES.get(kind)
            if pattern is None:
                problems.append(f"field {name!r}: unsupported KQL type {kind!r}")
            elif bad := [v for v in values if not pattern.fullmatch(v)]:
                problems.append(f"field {name!r} declared {kind} but logged as {bad[:3]}")
    return problems


def _queries() -> list[tuple[str, str]]:
    found = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(QUERIES.glob("*.kql"))]
    for doc in DOCS_WITH_KQL:
        blocks = re.findall(r"```kql\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
        found.extend((f"{doc.name}#{i + 1}", block) for i, block in enumerate(blocks))
    return found


QUERY_CASES = _queries()


def test_there_are_queries_for_every_chart_and_alert():
    names = [name for name, _ in QUERY_CASES]
    assert sum(n.startswith("workbook-") for n in names) >= 8
    assert {"alert-deadletter-depth.kql", "alert-no-successful-poll.kql", "alert-failure-ratio.kql"} <= set(names)
    assert sum(n.startswith("operations.md#") for n in names) >= 5, "the runbook carries its KQL"


@pytest.mark.parametrize(("name", "kql"), QUERY_CASES, ids=[name for name, _ in QUERY_CASES])
def test_query_reads_only_logged_events_and_fields(name, kql, lines):
    assert check_query(kql, lines) == []


def test_samples_cover_the_whole_catalogue(lines):
    assert set(lines) == set(EVENTS)
    for event, spec in EVENTS.items():
        seen = {field for line in lines[event] for field in line}
        assert set(spec.fields) <= seen, f"no sample of {event} carries {sorted(set(spec.fields) - seen)}"


# --- the checker is honest: it fails on the mistakes it exists to catch -------------------------------------------

def test_checker_fails_on_a_field_the_format_does_not_emit(lines):
    kql = (QUERIES / "alert-failure-ratio.kql").read_text(encoding="utf-8")
    assert check_query(kql, lines) == []
    broken = kql.replace("failed:long", "rejected:long")
    assert any("'rejected'" in p for p in check_query(broken, lines))


def test_checker_fails_on_a_field_of_another_event(lines):
    kql = (QUERIES / "workbook-01-records-read.kql").read_text(encoding="utf-8").replace("read:long", "written:long")
    assert any("'written'" in p for p in check_query(kql, lines))


def test_checker_fails_on_an_unknown_event_or_a_wrong_type(lines):
    kql = (QUERIES / "workbook-04-end-to-end-lag.kql").read_text(encoding="utf-8")
    assert any("unknown event" in p for p in check_query(kql.replace("event=sync.lag ", "event=sync.lags "), lines))
    assert any("declared long" in p for p in check_query(kql.replace("lag_max_s:real", "lag_max_s:long"), lines))


def test_checker_reads_extract_and_parse_too(lines):
    extract = 'traces | where message startswith "event=write.completed " ' \
              '| extend n = toint(extract(@"writen=(\\d+)", 1, message))'
    assert any("'writen'" in p for p in check_query(extract, lines))
    parse = 'traces | where message startswith "event=poll.completed " | parse message with * "pagez=" pages:long *'
    assert any("'pagez'" in p for p in check_query(parse, lines))


def test_workbook_json_is_generated_from_the_queries():
    script = ROOT / "infra" / "monitoring" / "build_workbook.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
