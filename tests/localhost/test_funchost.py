"""The local functions host reproduces the Functions host's queue, timer and HTTP semantics on real Azurite."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest
import requests
from azure.storage.queue import QueueClient

from localdev.funchost import FunctionsHost, QueueOptions, ncrontab_to_croniter, resolve_setting_refs
from localdev.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
MAX_DEQUEUE = 4
VISIBILITY_S = 2


def _app(queue: str, seen: dict[str, list[int]]) -> func.FunctionApp:
    """A test app with one queue function that fails on 'fail' bodies, a timer and an HTTP function."""
    app = func.FunctionApp()

    @app.function_name("work")
    @app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage) -> None:
        body = msg.get_body().decode()
        seen.setdefault(body, []).append(msg.dequeue_count)
        if body.startswith("fail"):
            raise RuntimeError("always fails")

    @app.function_name("tick")
    @app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
    def tick(timer: func.TimerRequest) -> None:
        seen.setdefault("tick", []).append(int(timer.past_due))

    @app.function_name("hello")
    @app.route(route="hello/{name}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
    def hello(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(f"hello {req.route_params['name']} {req.params.get('x', '')}".strip())

    return app


@pytest.fixture
def queue_name() -> str:
    return f"work-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def env(azurite, queue_name: str) -> dict[str, str]:
    return {"AzureWebJobsStorage": azurite.connection_string, "WORK_QUEUE": queue_name,
            "TICK_SCHEDULE": "*/1 * * * * *"}


@pytest.fixture
def host(env: dict[str, str]) -> Iterator[tuple[FunctionsHost, dict[str, list[int]]]]:
    seen: dict[str, list[int]] = {}
    options = QueueOptions(batch_size=4, new_batch_threshold=2, max_dequeue_count=MAX_DEQUEUE,
                           visibility_timeout_s=VISIBILITY_S, max_polling_interval_s=0.5)
    fh = FunctionsHost(_app(env["WORK_QUEUE"], seen), environ=env, queue_options=options)
    fh.start()
    yield fh, seen
    fh.stop()


def _client(env: dict[str, str], name: str) -> QueueClient:
    client = QueueClient.from_connection_string(env["AzureWebJobsStorage"], name)
    return client


def _send(env: dict[str, str], text: str) -> None:
    _client(env, env["WORK_QUEUE"]).send_message(base64.b64encode(text.encode()).decode())


def _peek_all(client: QueueClient) -> list[str]:
    try:
        return [m.content for m in client.peek_messages(max_messages=32)]
    except Exception:
        return []


def test_failing_message_goes_to_poison_after_exactly_max_dequeue_count_attempts(host, env):
    _, seen = host
    _send(env, "fail-1")
    poison = _client(env, env["WORK_QUEUE"] + "-poison")
    wait_for(lambda: _peek_all(poison), timeout_s=MAX_DEQUEUE * VISIBILITY_S + 20, message="poison message")
    assert seen["fail-1"] == list(range(1, MAX_DEQUEUE + 1))
    # The poison copy keeps the still-encoded body, as the real host does.
    assert _peek_all(poison) == [base64.b64encode(b"fail-1").decode()]
    assert _peek_all(_client(env, env["WORK_QUEUE"])) == []


def test_failed_message_stays_invisible_for_the_visibility_timeout(host, env):
    fh, _ = host
    _send(env, "fail-2")
    wait_for(lambda: len(fh.invocations_of("work")) >= 2, timeout_s=VISIBILITY_S + 20, message="a retry")
    first, second = fh.invocations_of("work")[:2]
    gap = second.started - first.finished
    assert gap >= VISIBILITY_S - 0.2, f"retried after {gap:.2f} s, before the {VISIBILITY_S} s visibility timeout"
    assert (first.dequeue_count, second.dequeue_count) == (1, 2)


def test_successful_message_is_invoked_once_and_deleted(host, env):
    fh, seen = host
    _send(env, "ok-1")
    wait_for(lambda: "ok-1" in seen, message="invocation")
    assert fh.wait_idle(timeout_s=10)
    assert seen["ok-1"] == [1]
    assert _client(env, env["WORK_QUEUE"]).get_queue_properties().approximate_message_count == 0
    assert _peek_all(_client(env, env["WORK_QUEUE"] + "-poison")) == []


def test_message_that_is_not_base64_goes_to_poison_uninvoked(host, env):
    fh, _ = host
    _client(env, env["WORK_QUEUE"]).send_message("this is not base64!")
    poison = _client(env, env["WORK_QUEUE"] + "-poison")
    wait_for(lambda: _peek_all(poison), message="poison message")
    assert _peek_all(poison) == ["this is not base64!"]
    assert fh.invocations_of("work") == []


def test_timer_fires_on_its_schedule(host):
    fh, seen = host
    wait_for(lambda: len(seen.get("tick", [])) >= 2, timeout_s=10, message="two timer runs")
    starts = [i.started for i in fh.invocations_of("tick")[:2]]
    assert 0.5 <= starts[1] - starts[0] <= 5.0  # every second; generous upper bound for a loaded CI machine


def test_http_trigger_answers_with_a_function_key_and_refuses_without(env):
    seen: dict[str, list[int]] = {}
    fh = FunctionsHost(_app(env["WORK_QUEUE"], seen), environ=env, enable_timers=False,
                       queue_options=QueueOptions(max_polling_interval_s=0.5)).start()
    try:
        url = f"{fh.http_url}/api/hello/world"
        ok = requests.get(url, params={"x": "1"}, headers={"x-functions-key": fh.function_key}, timeout=10)
        assert (ok.status_code, ok.text) == (200, "hello world 1")
        assert requests.get(url, params={"code": fh.function_key}, timeout=10).status_code == 200
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.post(url, headers={"x-functions-key": fh.function_key}, timeout=10).status_code == 404
    finally:
        fh.stop()


def test_host_json_queue_settings_are_read_exactly():
    options = QueueOptions.from_host_json(ROOT / "host.json")
    assert options == QueueOptions(batch_size=8, new_batch_threshold=4, max_dequeue_count=5,
                                   visibility_timeout_s=30.0, max_polling_interval_s=10.0,
                                   message_encoding="base64")


def test_ncrontab_seconds_field_moves_last_for_croniter():
    assert ncrontab_to_croniter("0 */5 * * * *") == "*/5 * * * * 0"
    with pytest.raises(ValueError, match="6 fields"):
        ncrontab_to_croniter("*/5 * * * *")


def test_setting_references_resolve_or_fail_like_the_host():
    assert resolve_setting_refs("%A%-x", {"A": "q1"}) == "q1-x"
    with pytest.raises(KeyError, match="'MISSING'"):
        resolve_setting_refs("%MISSING%", {})


def test_wait_idle_reports_busy_queues(host, env):
    fh, _ = host
    _send(env, "fail-3")
    t0 = time.monotonic()
    assert fh.wait_idle(timeout_s=0.5) is False  # a failing message is still on the queue (invisible)
    assert time.monotonic() - t0 < 5
