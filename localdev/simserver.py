"""Shared plumbing of the simulators: a threaded HTTPS server on loopback, routing, request log, fault injection.

A simulator supplies one ``handle(request) -> Response`` callable. Before it runs, the server applies the
fault rules added through ``faults`` (or the ``/_admin/faults`` endpoint): a status code (with Retry-After),
latency, a connection reset or a truncated body, by probability and/or for the next N matching requests.
Every request is logged (method, path, status, body bytes) so tests and benchmarks can assert on the wire.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from localdev.tls import ca_bundle_path, server_context


@dataclass
class Request:
    """One incoming request, decoded enough for routing."""

    method: str
    path: str  # percent-decoded path, no query
    raw_path: str  # as sent on the request line, query included
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def q(self, name: str, default: str | None = None, *, ci: bool = False) -> str | None:
        """First value of query parameter ``name`` (case-insensitive name match when ``ci``)."""
        if ci:
            for key, values in self.query.items():
                if key.lower() == name.lower():
                    return values[0]
            return default
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None,
             content_type: str = "application/json") -> Response:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, data, {"Content-Type": content_type, **(headers or {})})


@dataclass
class FaultRule:
    """Inject a failure into matching requests. ``count`` None = unlimited; ``probability`` 1.0 = always."""

    path: str = ".*"  # regex searched in the raw path
    method: str | None = None
    status: int | None = None  # respond with this status instead of calling the simulator
    body: Any = None  # JSON body for ``status`` (default: a generic error object)
    retry_after: float | None = None
    latency_s: float = 0.0
    reset: bool = False  # close the connection with a TCP RST instead of answering
    truncate: bool = False  # call the simulator, then send only half of its body and close
    probability: float = 1.0
    count: int | None = None
    hits: int = 0

    def matches(self, request: Request, rng: random.Random) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if self.method and self.method.upper() != request.method:
            return False
        if not re.search(self.path, request.raw_path):
            return False
        return rng.random() < self.probability


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    request_bytes: int
    started: float
    finished: float
    info: dict[str, Any] = field(default_factory=dict)


class Faults:
    """Thread-safe list of fault rules."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def add(self, rule: FaultRule | None = None, **kwargs: Any) -> FaultRule:
        rule = rule or FaultRule(**kwargs)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, request: Request) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(request, self._rng):
                    rule.hits += 1
                    return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(vars(r)) for r in self._rules]


Handler = Callable[[Request], Response]


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class SimServer:
    """HTTPS (or, for the managed-identity endpoint only, HTTP) server on a loopback address."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0, tls: bool = True,
                 name: str = "sim", admin: Handler | None = None) -> None:
        if not is_loopback(host):
            raise ValueError(f"simulators only listen on loopback, not {host!r}")
        self.handler = handler
        self.admin = admin
        self.name = name
        self.faults = Faults()
        self.log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._tls = tls
        self._httpd = _Server((host, port), _make_handler(self))
        if tls:
            self._httpd.socket = server_context().wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def ca_bundle(self) -> str:
        return ca_bundle_path()

    def start(self) -> SimServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"{self.name}-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self.log.append(entry)

    def requests(self, path_regex: str = ".*", method: str | None = None) -> list[LoggedRequest]:
        """Logged requests whose path matches (admin requests are never logged)."""
        with self._log_lock:
            return [r for r in self.log if re.search(path_regex, r.path) and (method is None or r.method == method)]

    def clear_log(self) -> None:
        with self._log_lock:
            self.log.clear()

    def _admin_faults(self, request: Request) -> Response:
        if request.method == "GET":
            return Response.json(self.faults.describe())
        if request.method == "DELETE":
            self.faults.clear()
            return Response(204)
        if request.method == "POST":
            spec = request.json() or {}
            allowed = set(FaultRule.__dataclass_fields__) - {"hits"}
            unknown = set(spec) - allowed
            if unknown:
                return Response.json({"error": f"unknown fault fields: {sorted(unknown)}"}, 400)
            self.faults.add(**spec)
            return Response(201)
        return Response(405)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def get_request(self) -> tuple[Any, Any]:
        conn, addr = super().get_request()
        # Headers and body go out in two sends; without NODELAY, Nagle + delayed ACK add ~40 ms per response.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop connections (resets we inject, timeouts) are normal here; stay quiet.
        pass


def _make_handler(sim: SimServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"{sim.name}-simulator"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _dispatch(self) -> None:
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            request = Request(
                method=self.command, path=unquote(split.path), raw_path=self.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()}, body=body)
            if split.path.startswith("/_admin/"):
                self._send(self._admin(request))
                return
            rule = sim.faults.pick(request)
            if rule and rule.latency_s:
                time.sleep(rule.latency_s)
            if rule and rule.reset:
                self._reset()
                sim.record(LoggedRequest(request.method, request.raw_path, 0, len(body), started, time.monotonic()))
                return
            if rule and rule.status:
                response = Response.json(rule.body if rule.body is not None else
                                         {"error": "injected_fault", "message": f"Injected HTTP {rule.status}"},
                                         rule.status)
                if rule.retry_after is not None:
                    response.headers["Retry-After"] = str(int(rule.retry_after) if float(rule.retry_after).is_integer()
                                                          else rule.retry_after)
            else:
                try:
                    response = sim.handler(request)
                except Exception as exc:  # a simulator bug must show up as a 500, not a hung client
                    response = Response.json({"error": "simulator_error", "message": repr(exc)}, 500)
            sim.record(LoggedRequest(request.method, request.raw_path, response.status, len(body), started,
                                     time.monotonic(), getattr(response, "info", {})))
            if rule and rule.truncate:
                self._send(response, truncate=True)
                return
            self._send(response)

        def _admin(self, request: Request) -> Response:
            if request.path == "/_admin/faults":
                return sim._admin_faults(request)
            if sim.admin is not None:
                return sim.admin(request)
            return Response.json({"error": "not found"}, 404)

        def _send(self, response: Response, truncate: bool = False) -> None:
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            if truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body[: len(response.body) // 2] if truncate else response.body)
            if truncate:
                self.wfile.flush()
                self.close_connection = True

        def _reset(self) -> None:
            self.close_connection = True
            try:
                sock = self.connection
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            except OSError:
                pass

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _dispatch

    return _Handler
