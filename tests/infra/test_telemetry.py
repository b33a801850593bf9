"""shared/telemetry.py: one stable key=value line per event, KQL parse-kv friendly, redacted, catalogue-checked."""

from __future__ import annotations

import ast
import enum
import logging
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared import telemetry
from shared.redaction import redact, register_secret
from shared.telemetry import EVENTS, log_event, parse_event, render_event

ROOT = Path(__file__).resolve().parents[2]
IDS = {"job_id": "20261127T0730Z-7f3a", "connection": "acme-m3", "entity": "supplier"}


def test_line_starts_with_the_event_then_identity_then_catalogue_order_whatever_the_kwargs_order():
    line = render_event("write.completed", written=98, outcome="ok", entity="supplier", failed=2,
                        connection="acme-m3", job_id="j-1", batch_id="b-0003", throttled=0)
    assert line == ("event=write.completed job_id=j-1 connection=acme-m3 entity=supplier outcome=ok "
                    "batch_id=b-0003 written=98 failed=2 throttled=0")


def test_values_are_formatted_for_kql():
    line = render_event("poll.completed", **IDS, outcome="ok", read=12, duration_ms=1534,
                        watermark=datetime(2026, 11, 27, 8, 30, tzinfo=timezone(timedelta(hours=1))),
                        watermark_from=datetime(2026, 11, 27, 7, 0))
    assert "read=12 " in line and "duration_ms=1534 " in line
    assert "watermark_from=2026-11-27T07:00:00Z watermark=2026-11-27T07:30:00Z" in line
    assert render_event("write.completed", **IDS, outcome="ok", throttle_wait_s=2.5).endswith("throttle_wait_s=2.5")
    assert render_event("sync.lag", **IDS, records=3, lag_max_s=timedelta(minutes=2)).endswith("lag_max_s=120")
    assert render_event("poll.started", **IDS, past_due=True).endswith("past_due=true")


def test_none_fields_are_left_out():
    assert render_event("poll.started", **IDS, watermark_from=None) == \
        "event=poll.started job_id=20261127T0730Z-7f3a connection=acme-m3 entity=supplier"


@pytest.mark.parametrize("value", ['HTTP 400: "name" is required', "a=b", "back\\slash", "two\nlines", ""])
def test_values_needing_quotes_round_trip(value):
    line = render_event("deadletter.added", **IDS, stage="transform", reason=value, record_key="S 001")
    fields = parse_event(line)
    assert fields["reason"] == value
    assert fields["record_key"] == "S 001"
    assert fields["stage"] == "transform"
    assert "\n" not in line


def test_values_are_redacted():
    register_secret("s3cr3t-client-value-42")
    line = render_event("token.refreshed", service="dataverse", outcome="failed", connection="acme-m3",
                        reason="refused client_secret=s3cr3t-client-value-42 at https://x/?sig=abcdef")
    assert "s3cr3t-client-value-42" not in line
    assert "abcdef" not in line
    assert parse_event(line)["reason"].startswith("refused client_secret=***")


def test_no_catalogue_field_name_looks_secret_to_the_redactor():
    """A field named like a secret (token=, sig=, cs=) would have its value masked by the log-record redaction."""
    for name, spec in EVENTS.items():
        for field in ("event", *spec.fields):
            assert redact(f"{field}=value42") == f"{field}=value42", (name, field)
        assert redact(f"event={name}") == f"event={name}"


def test_log_event_logs_the_line_once_at_the_given_level(caplog):
    logger = logging.getLogger("pipeline.poll")
    with caplog.at_level(logging.INFO, logger="pipeline.poll"):
        line = log_event(logger, "poll.completed", level=logging.WARNING, **IDS, outcome="failed",
                         error_class="AuthError", reason="token refused")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.WARNING, line)]


@pytest.mark.parametrize(("event", "fields", "message"), [
    ("poll.finished", {}, "unknown telemetry event"),
    ("poll.completed", {**IDS, "outcome": "ok", "reads": 1}, "no field"),
    ("poll.completed", {"connection": "a", "entity": "supplier", "outcome": "ok"}, "needs field"),
    ("poll.completed", {**IDS, "outcome": "succeeded"}, "outcome must be one of"),
])
def test_unknown_or_incomplete_events_are_programming_errors(event, fields, message):
    with pytest.raises(ValueError, match=message):
        render_event(event, **fields)


def test_catalogue_names_and_fields_are_kql_identifiers():
    for name, spec in EVENTS.items():
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", name)
        assert len(set(spec.fields)) == len(spec.fields), name
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", f) for f in spec.fields), name
        assert "event" not in spec.fields


def test_docs_catalogue_matches_the_code():
    """docs/telemetry.md has one '### `event`' section per event with a table listing exactly its fields."""
    text = (ROOT / "docs" / "telemetry.md").read_text(encoding="utf-8")
    documented: dict[str, set[str]] = {}
    for block in re.split(r"\n### ", text)[1:]:
        name = re.match(r"`([a-z_.]+)`", block)
        if not name:
            continue
        body = block.split("\n## ", 1)[0]
        documented[name.group(1)] = set(re.findall(r"^\|\s*`([a-z_]+)`", body, re.MULTILINE))
    assert set(documented) == set(EVENTS), "events documented vs shared.telemetry.EVENTS"
    for name, spec in EVENTS.items():
        assert documented[name] == set(spec.fields), f"docs/telemetry.md fields of {name}"


def test_long_values_are_truncated_after_redaction_and_enums_render_their_value():
    class Stage(enum.Enum):
        WRITE = "write"

    line = render_event("deadletter.added", stage=Stage.WRITE, reason="x" * 5000)
    reason = parse_event(line)["reason"]
    assert parse_event(line)["stage"] == "write"
    assert len(reason) == telemetry.MAX_VALUE_CHARS + len("...[truncated]")
    assert reason.endswith("...[truncated]")


def test_datetimes_are_utc():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert telemetry._format_value(moment) == "2026-01-02T03:04:05Z"


def _log_event_calls() -> list[tuple[str, int, ast.Call]]:
    calls = []
    for path in sorted(ROOT.rglob("*.py")):
        if {".venv", ".venv-iac", "node_modules", "tests"} & set(path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "log_event":
                calls.append((str(path.relative_to(ROOT)), node.lineno, node))
    return calls


def test_every_log_event_call_in_the_app_uses_catalogue_names():
    """Static check of the code's calls (a typo would only raise when that code path runs)."""
    problems = []
    for where, line, call in _log_event_calls():
        if len(call.args) < 2 or not isinstance(call.args[1], ast.Constant):
            continue  # event chosen at run time: covered by the tests of that code
        event = call.args[1].value
        if event not in EVENTS:
            problems.append(f"{where}:{line}: unknown event {event!r}")
            continue
        names = {k.arg for k in call.keywords if k.arg and k.arg != "level"}
        spread = any(k.arg is None for k in call.keywords)
        unknown = sorted(names - set(EVENTS[event].fields))
        problems.extend(f"{where}:{line}: {event} has no field {n!r}" for n in unknown)
        if not spread:
            problems.extend(f"{where}:{line}: {event} misses required {n!r}"
                            for n in EVENTS[event].required if n not in names)
    assert problems == []
