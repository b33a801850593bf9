"""HTTP admin API under ``/_admin/`` (loopback only, no auth): the Python API for processes that are not pytest.

    GET    /_admin/health                                   -> {"ok", "tenant", "products", "tokens_issued"}
    GET    /_admin/records/{product}/{entity}[?area=]       -> {"keys": [...], "records": [...]} (?keys_only=true)
    POST   /_admin/records/{product}/{entity}               body {field: value} -> 201 {"key"}
    PATCH  /_admin/records/{product}/{entity}/{key}         body {field: value} -> 200
    POST   /_admin/records/{product}/{entity}/{key}/deactivate                  -> 200
    DELETE /_admin/records/{product}/{entity}/{key}                             -> 204
    GET    /_admin/server-time/{product}                    -> {"server_time": ...}
    POST   /_admin/clock                                    body {"advance_s": n} -> {"now": epoch_s}
    POST   /_admin/expire-tokens                            body {} or {"after_calls": n}
    GET    /_admin/tokens                                   -> {"issued": n, "by_grant": {...}}
    GET|PATCH /_admin/settings                              body {name: value}
    GET    /_admin/requests?path=<regex>                    -> logged API requests
    DELETE /_admin/requests                                 -> clear the request log
    POST   /_admin/throttle                                 body {"count", "path", "retry_after_s"}
    GET|POST|DELETE /_admin/faults                          (SimServer) fault rules
Keys in URLs are the stripped keys (CSI padding is added by the simulator); percent-encode them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from localdev.cloudsuite.product import UnknownRecord
from localdev.simserver import Request, Response

if TYPE_CHECKING:
    from localdev.cloudsuite.simulator import CloudSuiteSimulator


class Admin:
    def __init__(self, sim: CloudSuiteSimulator) -> None:
        self.sim = sim

    def handle(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.raw_path.split("?")[0].split("/")[2:]]
        try:
            return self._route(request, parts)
        except UnknownRecord as exc:
            return Response.json({"error": f"not found: {exc.args[0]}"}, 404)
        except (ValueError, TypeError) as exc:
            return Response.json({"error": str(exc)}, 400)

    def _route(self, request: Request, parts: list[str]) -> Response:
        sim, method = self.sim, request.method
        head = parts[0] if parts else ""
        body = request.json() if request.body else {}
        if head == "health" and method == "GET":
            return Response.json({"ok": True, "tenant": sim.tenant, "url": sim.url, "products": sorted(sim.products),
                                  "tokens_issued": sim.tokens_issued})
        if head == "records" and len(parts) >= 3:
            return self._records(request, parts[1:], body or {})
        if head == "server-time" and len(parts) == 2 and method == "GET":
            return Response.json({"server_time": sim.server_time(parts[1])})
        if head == "clock" and method == "POST":
            sim.advance_clock(float((body or {}).get("advance_s", 0)))
            return Response.json({"now": sim.clock.now()})
        if head == "expire-tokens" and method == "POST":
            sim.expire_tokens(after_calls=(body or {}).get("after_calls"))
            return Response.json({"ok": True})
        if head == "tokens" and method == "GET":
            return Response.json({"issued": sim.tokens_issued, "by_grant": sim.tokens_issued_by_grant})
        if head == "settings":
            if method == "PATCH":
                sim.settings.update(body or {})
            elif method != "GET":
                return Response(405)
            return Response.json(sim.settings.as_dict())
        if head == "requests":
            if method == "DELETE":
                sim.server.clear_log()
                return Response(204)
            regex = request.q("path", ".*") or ".*"
            return Response.json([{"method": r.method, "path": r.path, "status": r.status}
                                  for r in sim.requests(regex)])
        if head == "throttle" and method == "POST":
            spec = body or {}
            sim.throttle(int(spec.get("count", 2)), path=spec.get("path", ".*"),
                         retry_after_s=spec.get("retry_after_s"))
            return Response(201)
        return Response.json({"error": "not found"}, 404)

    def _records(self, request: Request, parts: list[str], body: dict[str, Any]) -> Response:
        sim, method = self.sim, request.method
        product, entity, rest = parts[0], parts[1], parts[2:]
        area = request.q("area")
        if not rest:
            if method == "GET":
                keys = sim.keys(product, entity, area=area)
                if (request.q("keys_only") or "").lower() == "true":
                    return Response.json({"keys": keys})
                return Response.json({"keys": keys, "records": sim.records(product, entity, area=area)})
            if method == "POST":
                return Response.json({"key": sim.add_record(product, entity, area=area, **body)}, 201)
            return Response(405)
        key = rest[0]
        if rest[1:] == ["deactivate"] and method == "POST":
            sim.deactivate(product, entity, key, area=area)
            return Response.json({"ok": True})
        if len(rest) == 1 and method == "PATCH":
            sim.change_record(product, entity, key, area=area, **body)
            return Response.json({"ok": True})
        if len(rest) == 1 and method == "DELETE":
            sim.delete(product, entity, key, area=area)
            return Response(204)
        return Response(405)
