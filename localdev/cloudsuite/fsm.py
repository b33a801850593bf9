"""FSM view (work in progress): answers 404 until implemented."""

from __future__ import annotations

from typing import Any

from localdev.cloudsuite.product import Product
from localdev.simserver import Request, Response


class FSM(Product):
    name = "fsm"

    def handle(self, request: Request, rest: list[str]) -> Response:
        return Response.json({"message": "Resource not found"}, 404)

    def records(self, entity: str, area: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def keys(self, entity: str, area: str | None = None) -> list[str]:
        raise NotImplementedError

    def add(self, entity: str, fields: dict[str, Any], area: str | None = None) -> str:
        raise NotImplementedError

    def change(self, entity: str, key: str, fields: dict[str, Any], area: str | None = None) -> None:
        raise NotImplementedError

    def deactivate(self, entity: str, key: str, area: str | None = None) -> None:
        raise NotImplementedError

    def delete(self, entity: str, key: str, area: str | None = None) -> None:
        raise NotImplementedError
