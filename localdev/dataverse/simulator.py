"""Entra ID + Dataverse Web API simulator: one HTTPS loopback server (authority and environment) plus a plain-http
managed-identity endpoint. See README.md for the Python and admin APIs and for what is simulated."""

from __future__ import annotations

import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from typing import Any

from localdev.dataverse.batch import Batch
from localdev.dataverse.entra import MSI_PATH, Entra
from localdev.dataverse.metadata import Metadata
from localdev.dataverse.odata import DvError, norm
from localdev.dataverse.schema import Column, Table, default_tables
from localdev.dataverse.store import API_PREFIX, Context, Store, Txn
from localdev.dataverse.throttle import Throttle
from localdev.dataverse.webapi import Call, WebApi, error_response, json_response
from localdev.simserver import Faults, LoggedRequest, Request, Response, SimServer

DEFAULT_KEYS: dict[str, list[str]] = {"account": ["cssync_sourcekey"], "contact": ["cssync_sourcekey"]}
DEFAULT_CUSTOM_COLUMNS: dict[str, dict[str, int]] = {"account": {"cssync_sourcekey": 100},
                                                     "contact": {"cssync_sourcekey": 100}}
DEFAULT_DOP_HINT = 4  # what small real environments report in x-ms-dop-hint


class DataverseSimulator:
    """Faithful in-memory Entra ID + Dataverse Web API (v9.2) on 127.0.0.1 over HTTPS."""

    def __init__(self, tenant: str = "contoso-tenant", client_id: str = "11111111-2222-3333-4444-555555555555",
                 client_secret: str = "s3cret-value",  # noqa: S107 - a fake
                 *, token_lifetime_s: int = 3600, upsert_multiple: bool = True,
                 keys: dict[str, list[str] | list[list[str]]] | None = None,
                 custom_columns: dict[str, dict[str, int]] | None = None, dop_hint: int = DEFAULT_DOP_HINT,
                 key_activation_s: float = 0.5, key_activation_reads: int | None = None,
                 max_request_bytes: int | None = None, msi_header: str | None = None, port: int = 0,
                 execution_delay_s: float = 0.0) -> None:
        self.server = SimServer(self._handle, name="dataverse", admin=self._admin, port=port)
        self.msi_server = SimServer(self._handle_msi, name="dataverse-msi", tls=False)
        for server in (self.server, self.msi_server):
            # Accepted sockets inherit TCP_NODELAY: without it the handler's separate header and body writes meet
            # the client's delayed ACK and every response with a body takes ~40 ms.
            server._httpd.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.upsert_multiple = upsert_multiple
        self.dop_hint = dop_hint
        self.max_request_bytes = max_request_bytes
        self.execution_delay_s = execution_delay_s  # simulated server time per admitted API request
        self.msi_header = msi_header or secrets.token_hex(16)
        self.organization_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim-org/{tenant}"))
        self.business_unit_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim-bu/{tenant}"))
        self.entra = Entra(tenant=tenant, client_id=client_id, client_secret=client_secret,
                           token_lifetime_s=token_lifetime_s, resource=self.url, authority=self.authority,
                           msi_header=self.msi_header)
        self.store = Store(default_tables(), key_activation_s=key_activation_s,
                           key_activation_reads=key_activation_reads)
        self.throttler = Throttle()
        self.api = WebApi(self)
        self.metadata = Metadata(self)
        self.batch = Batch(self)
        self._initial = {"custom_columns": DEFAULT_CUSTOM_COLUMNS if custom_columns is None else custom_columns,
                         "keys": DEFAULT_KEYS if keys is None else keys, "dop_hint": dop_hint,
                         "upsert_multiple": upsert_multiple, "max_request_bytes": max_request_bytes,
                         "execution_delay_s": execution_delay_s}
        self._provision(self._initial["custom_columns"], self._initial["keys"])

    def _provision(self, custom_columns: dict[str, dict[str, int]], keys: dict[str, Any]) -> None:
        for table_name, columns in custom_columns.items():
            table = self._table(table_name)
            for name, max_length in columns.items():
                table.columns[name] = Column(name, "String", max_length=max_length, custom=True, schema_name=name,
                                             metadata_id=self.new_metadata_id())
        for table_name, spec in keys.items():
            table = self._table(table_name)
            key_sets = spec if spec and isinstance(spec[0], list) else [spec]
            for attrs in key_sets:
                missing = [a for a in attrs if a not in table.columns]
                if missing:
                    raise ValueError(f"key columns {missing} don't exist on {table_name}; add them to custom_columns")
                self.store.add_key(table, f"{'_'.join(attrs)}_key", list(attrs), active=True)

    def _table(self, name: str) -> Table:
        table = self.store.tables.get(name) or self.store.by_set.get(name)
        if table is None:
            raise ValueError(f"unknown table {name!r}: the simulator has {sorted(self.store.tables)}")
        return table

    @staticmethod
    def new_metadata_id() -> str:
        return str(uuid.uuid4())

    # ---- lifecycle and addresses ------------------------------------------------------------------------------

    def start(self) -> DataverseSimulator:
        self.server.start()
        self.msi_server.start()
        return self

    def stop(self) -> None:
        # Both servers wait up to one poll interval to notice the shutdown: stop them side by side.
        msi = threading.Thread(target=self.msi_server.stop, name="dataverse-msi-stop")
        msi.start()
        self.server.stop()
        msi.join()

    def __enter__(self) -> DataverseSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Environment URL (Dataverse base = url + '/api/data/v9.2/'); token scope = url + '/.default'."""
        return self.server.url

    @property
    def authority(self) -> str:
        return self.server.url

    @property
    def api_base(self) -> str:
        return self.url + API_PREFIX

    @property
    def scope(self) -> str:
        return self.url + "/.default"

    @property
    def ca_bundle(self) -> str:
        return self.server.ca_bundle

    @property
    def msi_endpoint(self) -> str:
        return self.msi_server.url + MSI_PATH

    @property
    def faults(self) -> Faults:
        return self.server.faults

    # ---- test-facing API --------------------------------------------------------------------------------------

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.store.snapshot(self._table(table).logical_name)

    def row_by_key(self, table: str, **key: Any) -> dict[str, Any] | None:
        matches = [r for r in self.rows(table) if all(norm(r.get(k)) == norm(v) for k, v in key.items())]
        return matches[0] if matches else None

    def seed(self, table: str, values: dict[str, Any]) -> str:
        """Create a row directly (validated like a POST) and return its id."""
        t = self._table(table)
        with self.store.lock:
            changes = self.store.changes(t, values, Context(self.api_base))
            return self.store.create(t, changes, Txn(self.store))

    def throttle(self, requests_per_s: int | None = None, requests_per_window: int | None = None,
                 window_s: float = 300, concurrency: int | None = None, execution_ms_per_window: int | None = None,
                 penalty_extension_s: float = 1.0) -> None:
        """Service-protection limits per token subject; all None = unlimited (the default)."""
        self.throttler.configure(requests_per_s=requests_per_s, requests_per_window=requests_per_window,
                                 window_s=window_s, concurrency=concurrency,
                                 execution_ms_per_window=execution_ms_per_window,
                                 penalty_extension_s=penalty_extension_s)

    def poison(self, table: str, column: str, value: Any) -> None:
        self.store.poison(self._table(table).logical_name, column, value)

    def clear_poison(self) -> None:
        with self.store.lock:
            self.store.poisoned.clear()

    @property
    def key_index_outcome(self) -> str:
        return self.store.key_index_outcome

    @key_index_outcome.setter
    def key_index_outcome(self, value: str) -> None:
        if value not in ("Active", "Failed"):
            raise ValueError("key_index_outcome is 'Active' or 'Failed'")
        self.store.key_index_outcome = value

    def expire_tokens(self) -> None:
        self.entra.expire_all()

    def reset(self, *, log: bool = True) -> None:
        """Back to the state after construction: rows, schema and keys, poison, throttle, faults, switches, log,
        registered certificates. Issued tokens stay valid, so a shared simulator can be reset between tests."""
        with self.store.lock:
            self.store.reinit(default_tables())
            self._provision(self._initial["custom_columns"], self._initial["keys"])
            for name in ("dop_hint", "upsert_multiple", "max_request_bytes", "execution_delay_s"):
                setattr(self, name, self._initial[name])
        self.clear_poison()
        self.throttler.configure()
        self.faults.clear()
        self.batch.part_faults.clear()
        self.entra.clear_certificates()
        if log:
            self.server.clear_log()
            self.msi_server.clear_log()

    def requests(self, path_regex: str = ".*", method: str | None = None) -> list[LoggedRequest]:
        """Logged requests (both servers), oldest first; ``info`` has kind, operations, subject, error code and,
        for 429s, ``retry_after`` and ``retry_until`` (time.monotonic, like ``started``)."""
        entries = self.server.requests(path_regex, method) + self.msi_server.requests(path_regex, method)
        return sorted(entries, key=lambda r: r.started)

    def sent_during_retry_after(self) -> list[LoggedRequest]:
        """Requests a subject sent while an earlier 429's Retry-After wait (counted from the 429) was running."""
        out = []
        waits: dict[str, float] = {}
        for entry in self.requests(r"^/api/data/"):
            subject = entry.info.get("subject")
            if subject is None:
                continue
            if entry.started < waits.get(subject, 0.0):
                out.append(entry)
            if entry.status == 429 and "retry_after" in entry.info:
                waits[subject] = max(waits.get(subject, 0.0), entry.finished + entry.info["retry_after"])
        return out

    def stats(self) -> dict[str, Any]:
        entries = self.requests()
        api = [e for e in entries if e.path.startswith("/api/data/")]
        return {
            "requests": len(entries),
            "api_requests": len(api),
            "by_kind": dict(Counter(e.info.get("kind", "other") for e in entries)),
            "by_status": dict(Counter(e.status for e in entries)),
            "throttled": sum(1 for e in api if e.status == 429),
            "max_request_bytes": max((e.request_bytes for e in api), default=0),
            "max_operations": max((e.info.get("operations", 0) for e in api), default=0),
            "operations": sum(e.info.get("operations", 0) for e in api if e.status < 400),
            "rows": {name: len(rows) for name, rows in self.store.rows.items()},
            "tokens_issued": self.entra.issued,
        }

    # ---- HTTP entry points ------------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        response = self.entra.handle(request)
        if response is not None:
            return response
        path = request.raw_path.split("?", 1)[0]
        if path == API_PREFIX.rstrip("/") or path.startswith(API_PREFIX):
            return self._api(request, path[len(API_PREFIX):])
        response = json_response({"error": {"code": "0x8006088a", "message": f"Resource not found for the segment "
                                                                             f"'{request.path}'."}}, 404)
        response.info = {"kind": "unknown"}  # type: ignore[attr-defined]
        return response

    def _handle_msi(self, request: Request) -> Response:
        return self.entra.handle_msi(request)

    def _unauthorized(self) -> Response:
        header = (f"Bearer authorization_uri={self.authority}/{self.entra.tenant}/oauth2/authorize, "
                  f"resource_id={self.url}/")
        response = Response(401, b"", {"WWW-Authenticate": header, "OData-Version": "4.0"})
        response.info = {"kind": "unauthorized", "operations": 0}  # type: ignore[attr-defined]
        return response

    def _api(self, request: Request, rel: str) -> Response:
        token = self.entra.validate(request.headers.get("authorization"))
        if token is None:
            return self._unauthorized()
        started = time.monotonic()
        call = Call(request.method, rel, request.query, request.headers, request.body, Context(self.api_base),
                    info={"subject": token.subject})
        extra: dict[str, str] = {}
        try:
            extra, _ = self.throttler.enter(token.subject)
        except DvError as err:
            response = error_response(err, call.annotations())
            retry = getattr(err, "info", {})
            call.info.update(kind="throttled", error_code=err.code, retry_after=retry.get("retry_after"),
                             during_penalty=retry.get("during_penalty"))
            return self._finish(response, call, extra)
        try:
            if self.max_request_bytes is not None and len(request.body) > self.max_request_bytes:
                raise DvError(413, "0x0", "Payload Too Large: the request length is too large.")
            if self.execution_delay_s:
                time.sleep(self.execution_delay_s)  # counts as execution time and keeps the request in flight
            response = self.batch.handle(call) if rel == "$batch" else self.api.call(call)
        except DvError as err:
            call.info["error_code"] = err.code
            response = error_response(err, call.annotations())
        finally:
            self.throttler.leave(token.subject, time.monotonic() - started)
        return self._finish(response, call, extra)

    def _finish(self, response: Response, call: Call, extra: dict[str, str]) -> Response:
        response.headers.setdefault("OData-Version", "4.0")
        response.headers["x-ms-dop-hint"] = str(self.dop_hint)
        request_id = str(uuid.uuid4())
        response.headers["REQ_ID"] = request_id
        response.headers["x-ms-service-request-id"] = request_id
        response.headers.update(extra)
        call.info.setdefault("kind", "other")
        call.info.setdefault("operations", 1)
        response.info = call.info  # type: ignore[attr-defined]
        return response

    # ---- admin API --------------------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p][1:]  # after _admin
        body = request.json() if request.body else {}
        try:
            return self._admin_route(request.method, parts, body or {})
        except (ValueError, TypeError, KeyError) as exc:
            return Response.json({"error": str(exc)}, 400)

    def _admin_route(self, method: str, parts: list[str], body: dict[str, Any]) -> Response:
        route = (method, parts[0] if parts else "")
        if route == ("GET", "stats"):
            return Response.json(self.stats())
        if route == ("POST", "reset"):
            self.reset(log=bool(body.get("log", True)))
            return Response(204)
        if route == ("POST", "throttle"):
            self.throttle(**body)
            return Response(204)
        if route == ("DELETE", "throttle"):
            self.throttle()
            return Response(204)
        if route == ("POST", "part-faults"):
            self.batch.part_faults.add(**body)
            return Response(204)
        if route == ("DELETE", "part-faults"):
            self.batch.part_faults.clear()
            return Response(204)
        if route == ("POST", "poison"):
            self.poison(body["table"], body["column"], body["value"])
            return Response(204)
        if route == ("DELETE", "poison"):
            self.clear_poison()
            return Response(204)
        if route == ("POST", "tokens") and parts[1:] == ["expire"]:
            self.expire_tokens()
            return Response(204)
        if route == ("GET", "rows") and len(parts) == 2:
            return Response.json(self.rows(parts[1]))
        if route == ("POST", "rows") and len(parts) == 2:
            try:
                return Response.json({"id": self.seed(parts[1], body)}, 201)
            except DvError as err:
                return Response.json(err.body(), err.status)
        if route == ("POST", "settings"):
            for name in ("dop_hint", "upsert_multiple", "max_request_bytes", "execution_delay_s"):
                if name in body:
                    setattr(self, name, body[name])
            if "key_index_outcome" in body:
                self.key_index_outcome = body["key_index_outcome"]
            return Response(204)
        return Response.json({"error": f"no admin route {method} /_admin/{'/'.join(parts)}"}, 404)

