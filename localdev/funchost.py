"""A small local Functions host: drives the real decorated functions of ``function_app.app`` on this machine.

Dev tooling only (Azure Functions Core Tools cannot be installed here); in Azure the Functions host does this.
It reads every trigger from the app itself (``app.get_functions()``, never a second hand-written list) and
reproduces the host behaviour the app relies on (reference/azure-functions.md §1.5 and §2):

- queue triggers against Azure Storage (Azurite): ``batchSize`` / ``newBatchThreshold`` concurrency, a lease
  while a message runs, base64 decoding (an undecodable message goes straight to ``<queue>-poison``,
  uninvoked), the real ``dequeue_count`` in the QueueMessage, delete on success, on failure
  ``visibilityTimeout`` before the retry, and a copy of the still-encoded body to ``<queue>-poison`` after
  ``maxDequeueCount`` attempts; no poison queue for a queue that is itself ``*-poison``; exponential idle
  back-off capped at ``maxPollingInterval``;
- timer triggers on their NCRONTAB schedules (``%Setting%`` resolved from the environment, UTC), never
  overlapping themselves;
- HTTP triggers on loopback under ``/api/<route>``, with function-key checks for ``function``/``admin`` levels.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient
from croniter import croniter

ROOT = Path(__file__).resolve().parent.parent
LEASE_S = 600  # the host's receive visibility (10 min); functions here finish long before it
MIN_POLL_S = 0.1  # the host's minimum polling interval
PAST_DUE_AFTER_S = 5.0  # a timer invocation later than this is reported as past due
POISON_SUFFIX = "-poison"
_SETTING_REF = re.compile(r"%([^%]+)%")

log = logging.getLogger("localdev.funchost")


def _timespan_s(value: str | None, default: float) -> float:
    """Parse a host.json TimeSpan ('hh:mm:ss' or 'hh:mm:ss.fff') into seconds."""
    if not value:
        return default
    hours, minutes, seconds = value.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    """host.json ``extensions.queues`` with the host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout_s: float = 0.0
    max_polling_interval_s: float = 60.0
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, path: Path) -> QueueOptions:
        queues = json.loads(path.read_text(encoding="utf-8")).get("extensions", {}).get("queues", {})
        batch = int(queues.get("batchSize", 16))
        return cls(
            batch_size=batch,
            new_batch_threshold=int(queues.get("newBatchThreshold", max(batch // 2, 1))),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout_s=_timespan_s(queues.get("visibilityTimeout"), 0.0),
            max_polling_interval_s=max(_timespan_s(queues.get("maxPollingInterval"), 60.0), MIN_POLL_S),
            message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
        )


@dataclass
class Invocation:
    """One function invocation as the host saw it."""

    function: str
    started: float
    finished: float = 0.0
    succeeded: bool = False
    error: str = ""
    dequeue_count: int | None = None
    message_id: str | None = None


def resolve_setting_refs(value: str, environ: Mapping[str, str]) -> str:
    """Replace ``%Name%`` with the app setting's value, failing like the host when it is missing."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ or not environ[name]:
            raise KeyError(f"app setting {name!r} referenced by a trigger ({value!r}) is not set")
        return environ[name]

    return _SETTING_REF.sub(sub, value)


def ncrontab_to_croniter(expression: str) -> str:
    """NCRONTAB puts seconds first; croniter takes them as a sixth field at the end."""
    fields = expression.split()
    if len(fields) != 6:
        raise ValueError(f"NCRONTAB expression must have 6 fields (second first), got {expression!r}")
    return " ".join(fields[1:] + fields[:1])


def load_local_settings(path: Path, environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Copy ``Values`` of a local.settings.json into the environment (existing variables win)."""
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    for key, value in values.items():
        environ.setdefault(key, str(value))


_FUNCTIONS: dict[int, tuple[Any, list[Any]]] = {}


def functions_of(app: func.FunctionApp) -> list[Any]:
    """``app.get_functions()`` once per app: a second call raises a duplicate-name error in azure-functions 1.x."""
    cached = _FUNCTIONS.get(id(app))
    if cached is None or cached[0] is not app:
        cached = _FUNCTIONS[id(app)] = (app, list(app.get_functions()))
    return cached[1]


class FunctionsHost:
    """Runs the functions of one FunctionApp: queue listeners, timers and an HTTP front door."""

    def __init__(self, app: func.FunctionApp | None = None, *, host_json: Path | None = None,
                 environ: Mapping[str, str] | None = None, queue_options: QueueOptions | None = None,
                 max_polling_interval_s: float | None = None, function_key: str | None = None,
                 enable_timers: bool = True) -> None:
        if app is None:
            import function_app

            app = function_app.app
        self.environ = os.environ if environ is None else environ
        options = queue_options or QueueOptions.from_host_json(host_json or ROOT / "host.json")
        if max_polling_interval_s is not None:
            options = QueueOptions(**{**vars(options), "max_polling_interval_s": max_polling_interval_s})
        self.options = options
        self.functions = functions_of(app)
        self.function_key = function_key or secrets.token_urlsafe(24)
        self.enable_timers = enable_timers
        self.invocations: list[Invocation] = []
        self._inv_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._in_flight: dict[str, int] = {}
        self._in_flight_lock = threading.Condition()
        self._http: ThreadingHTTPServer | None = None
        self._timer_locks: dict[str, threading.Lock] = {}
        self._awaiting_retry: set[str] = set()  # failed messages waiting out their visibility timeout

    # ---- introspection -----------------------------------------------------------------------------
    def by_type(self, trigger_type: str) -> list[Any]:
        return [f for f in self.functions if f.get_trigger().type == trigger_type]

    def function(self, name: str) -> Any:
        for f in self.functions:
            if f.get_function_name() == name:
                return f
        raise KeyError(f"no function named {name!r}")

    def queue_name(self, fn: Any) -> str:
        return resolve_setting_refs(fn.get_trigger().queue_name, self.environ)

    @property
    def http_url(self) -> str:
        if self._http is None:
            raise RuntimeError("HTTP front door not started")
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self, http_port: int | None = 0) -> FunctionsHost:
        for fn in self.by_type("queueTrigger"):
            self._queue_client(fn, self.queue_name(fn))  # provision the queue first, as the Bicep does in Azure
            self._spawn(f"queue:{fn.get_function_name()}", self._queue_loop, fn)
        if self.enable_timers:
            for fn in self.by_type("timerTrigger"):
                self._spawn(f"timer:{fn.get_function_name()}", self._timer_loop, fn)
        if http_port is not None and self.by_type("httpTrigger"):
            self._http = ThreadingHTTPServer(("127.0.0.1", http_port), _http_handler(self))
            self._http.daemon_threads = True
            self._spawn("http", self._http.serve_forever, None)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=30)

    def __enter__(self) -> FunctionsHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[..., Any], arg: Any) -> None:
        thread = threading.Thread(target=target, args=() if arg is None else (arg,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # ---- invocation --------------------------------------------------------------------------------
    def _invoke(self, fn: Any, argument: Any, **meta: Any) -> Any:
        name = fn.get_function_name()
        record = Invocation(name, time.monotonic(), **meta)
        with self._inv_lock:
            self.invocations.append(record)
        invocation_id = uuid.uuid4()
        log.info("Executing 'Functions.%s' (Id=%s)", name, invocation_id)
        try:
            result = fn.get_user_function()(**{fn.get_trigger().name: argument})
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            log.warning("Executed 'Functions.%s' (Failed, Id=%s): %s", name, invocation_id, record.error)
            raise
        finally:
            record.finished = time.monotonic()
        record.succeeded = True
        log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", name, invocation_id,
                 (record.finished - record.started) * 1000)
        return result

    def invocations_of(self, name: str) -> list[Invocation]:
        with self._inv_lock:
            return [i for i in self.invocations if i.function == name]

    # ---- timers ------------------------------------------------------------------------------------
    def fire_timer(self, name: str, *, past_due: bool = False) -> None:
        """Run a timer function now (as the portal's 'Run' button does); raises what the function raised."""
        fn = self.function(name)
        lock = self._timer_locks.setdefault(name, threading.Lock())
        with lock:  # the host runs a timer as a singleton: never two at once
            self._invoke(fn, TimerRequest(past_due=past_due, schedule_status={}, schedule={}))

    def _timer_loop(self, fn: Any) -> None:
        name = fn.get_function_name()
        expression = resolve_setting_refs(fn.get_trigger().schedule, self.environ)
        schedule = croniter(ncrontab_to_croniter(expression), datetime.now(UTC))
        due = schedule.get_next(datetime)
        while not self._stop.is_set():
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0 and self._stop.wait(min(wait, 1.0)):
                return
            if wait > 0:
                continue
            lateness = -wait
            try:
                self.fire_timer(name, past_due=lateness > PAST_DUE_AFTER_S)
            except Exception:  # a timer does not retry: the next occurrence is the next run
                log.exception("timer function %s failed", name)
            due = schedule.get_next(datetime)
            while due <= datetime.now(UTC):  # skip occurrences missed while running
                due = schedule.get_next(datetime)

    # ---- queues ------------------------------------------------------------------------------------
    def _queue_client(self, fn: Any, queue_name: str) -> QueueClient:
        setting = fn.get_trigger().connection or "AzureWebJobsStorage"
        conn = self.environ.get(setting)
        if not conn:
            raise RuntimeError(f"queue trigger {fn.get_function_name()}: connection setting {setting!r} is not set "
                               "(the local host supports connection strings only)")
        # No encode/decode policy: the raw text is what the host sees (and copies to the poison queue).
        client = QueueClient.from_connection_string(conn, queue_name)
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        return client

    def _poison(self, source: QueueClient, fn: Any, queue_name: str, raw: str) -> None:
        if queue_name.endswith(POISON_SUFFIX):
            return  # a poison queue has no poison queue: the message just stays invisible until its lease ends
        poison = self._queue_client(fn, queue_name + POISON_SUFFIX)
        poison.send_message(raw)
        log.warning("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                    self.options.max_dequeue_count, queue_name + POISON_SUFFIX)

    def _handle_message(self, fn: Any, client: QueueClient, queue_name: str, msg: Any) -> None:
        opts = self.options
        raw = msg.content
        try:
            body = base64.b64decode(raw, validate=True) if opts.message_encoding == "base64" else raw.encode()
        except (binascii.Error, ValueError):
            log.warning("message %s on %s is not valid base64: moved to poison uninvoked", msg.id, queue_name)
            self._poison(client, fn, queue_name, raw)
            client.delete_message(msg.id, msg.pop_receipt)
            return
        if msg.dequeue_count > opts.max_dequeue_count:  # crashed or restarted past the limit: never invoked
            self._poison(client, fn, queue_name, raw)
            client.delete_message(msg.id, msg.pop_receipt)
            return
        message = QueueMessage(id=msg.id, body=body, dequeue_count=msg.dequeue_count,
                               expiration_time=msg.expires_on, insertion_time=msg.inserted_on,
                               time_next_visible=msg.next_visible_on, pop_receipt=msg.pop_receipt)
        self._awaiting_retry.discard(msg.id)
        try:
            self._invoke(fn, message, dequeue_count=msg.dequeue_count, message_id=msg.id)
        except Exception:
            if msg.dequeue_count >= opts.max_dequeue_count and not queue_name.endswith(POISON_SUFFIX):
                self._poison(client, fn, queue_name, raw)
                client.delete_message(msg.id, msg.pop_receipt)
            else:
                self._awaiting_retry.add(msg.id)
                # ResourceNotFoundError: the lease was lost; the message reappears on its own.
                with contextlib.suppress(ResourceNotFoundError):
                    client.update_message(msg.id, msg.pop_receipt, visibility_timeout=int(opts.visibility_timeout_s))
            return
        client.delete_message(msg.id, msg.pop_receipt)

    def _queue_loop(self, fn: Any) -> None:
        queue_name = self.queue_name(fn)
        client = self._queue_client(fn, queue_name)
        opts = self.options
        pool = ThreadPoolExecutor(max_workers=opts.batch_size + opts.new_batch_threshold,
                                  thread_name_prefix=f"fn-{fn.get_function_name()}")
        idle = MIN_POLL_S
        try:
            while not self._stop.is_set():
                with self._in_flight_lock:
                    in_flight = self._in_flight.get(queue_name, 0)
                if in_flight > opts.new_batch_threshold:
                    self._stop.wait(0.02)
                    continue
                try:
                    batch = list(client.receive_messages(messages_per_page=opts.batch_size,
                                                         max_messages=opts.batch_size, visibility_timeout=LEASE_S))
                except Exception:
                    log.exception("receive from %s failed", queue_name)
                    batch = []
                batch = batch[: opts.batch_size]
                if not batch:
                    if self._stop.wait(idle):
                        break
                    idle = min(idle * 2, opts.max_polling_interval_s)
                    continue
                idle = MIN_POLL_S
                for msg in batch:
                    self._track(queue_name, +1)
                    pool.submit(self._run_tracked, fn, client, queue_name, msg)
        finally:
            pool.shutdown(wait=True)

    def _run_tracked(self, fn: Any, client: QueueClient, queue_name: str, msg: Any) -> None:
        try:
            self._handle_message(fn, client, queue_name, msg)
        except Exception:
            log.exception("host error while handling a message on %s", queue_name)
        finally:
            self._track(queue_name, -1)

    def _track(self, queue_name: str, delta: int) -> None:
        with self._in_flight_lock:
            self._in_flight[queue_name] = self._in_flight.get(queue_name, 0) + delta
            self._in_flight_lock.notify_all()

    def wait_idle(self, timeout_s: float = 60.0, settle_s: float = 0.3) -> bool:
        """Wait until every triggered queue is empty (visible and invisible) and nothing runs; True if so."""
        deadline = time.monotonic() + timeout_s
        clients = [self._queue_client(fn, self.queue_name(fn)) for fn in self.by_type("queueTrigger")]
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            with self._in_flight_lock:
                busy = any(self._in_flight.values()) or bool(self._awaiting_retry)
            empty = not busy and all(c.get_queue_properties().approximate_message_count == 0 for c in clients)
            if empty:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle_s:
                    return True
            else:
                quiet_since = None
            time.sleep(0.05)
        return False

    # ---- HTTP --------------------------------------------------------------------------------------
    def route_for(self, path: str, method: str) -> tuple[Any, dict[str, str]] | None:
        for fn in self.by_type("httpTrigger"):
            trigger = fn.get_trigger()
            template = trigger.route or fn.get_function_name()
            pattern = "^/api/" + re.sub(r"\{(\w+)(?::\w+)?\??\}", r"(?P<\1>[^/]+)", template.strip("/")) + "/?$"
            match = re.match(pattern, path)
            if not match:
                continue
            methods = [str(getattr(m, "value", m)).upper() for m in (trigger.methods or [])]
            if methods and method.upper() not in methods:
                continue
            return fn, match.groupdict()
        return None

    def authorised(self, fn: Any, headers: Mapping[str, str], params: Mapping[str, str]) -> bool:
        auth_level = fn.get_trigger().auth_level
        level = str(getattr(auth_level, "value", auth_level) or "function").lower()
        if level == "anonymous":
            return True
        supplied = headers.get("x-functions-key") or params.get("code") or ""
        return secrets.compare_digest(supplied, self.function_key)


def _http_handler(host: FunctionsHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _dispatch(self) -> None:
            split = urlsplit(self.path)
            params = dict(parse_qsl(split.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            found = host.route_for(split.path, self.command)
            if found is None:
                self._reply(404, b"", {})
                return
            fn, route_params = found
            if not host.authorised(fn, headers, params):
                self._reply(401, b"", {})
                return
            request = func.HttpRequest(self.command, f"{host.http_url}{self.path}", headers=headers,
                                       params={k: v for k, v in params.items() if k != "code"},
                                       route_params=route_params, body=body)
            try:
                response = host._invoke(fn, request)
            except Exception:
                self._reply(500, b"", {})
                return
            if isinstance(response, str):
                response = func.HttpResponse(response)
            headers_out = dict(response.headers)
            if response.mimetype:
                headers_out.setdefault("Content-Type", response.mimetype)
            self._reply(response.status_code, response.get_body(), headers_out)

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    return Handler


def main() -> None:
    """`python -m localdev.funchost [local.settings.json]`: run function_app until Ctrl-C."""
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "local.settings.json"
    if settings.exists():
        load_local_settings(settings)
    sys.path.insert(0, str(ROOT))
    host = FunctionsHost().start(http_port=int(os.environ.get("LOCALHOST_HTTP_PORT", "7071")))
    print(f"functions host on {host.http_url} (function key: {host.function_key})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        host.stop()


if __name__ == "__main__":
    main()
