"""Operational endpoints: liveness, readiness, metrics, the OpenAPI document and its viewer."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from lms_core.errors import PermissionDenied
from server import __version__
from server.api.framework import Call, Empty, Router
from server.api.openapi import build_openapi
from server.problems import problem, problem_response
from server.state import LIMITER, OPENAPI, REDIS, REGISTRY, REQUEST_ID, SETTINGS

router = Router(prefix="", tags=("system",))
CHECK_TIMEOUT = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.route(
    "GET",
    "/healthz",
    summary="Liveness: the process serves requests",
    response=Health,
    auth="public",
)
async def healthz(call: Call[Empty, Empty, Empty]) -> Health:
    return Health(status="ok")


@router.route(
    "GET",
    "/readyz",
    summary="Readiness: the database (and Redis when configured) answer",
    response=Readiness,
    auth="public",
    errors=(503,),
)
async def readyz(call: Call[Empty, Empty, Empty]) -> web.StreamResponse | Readiness:
    app = call.request.app
    checks = {"database": await _check(call.db.execute(text("SELECT 1")))}
    if checks["database"] != "ok":
        await call.db.rollback()
    if REDIS in app:
        checks["redis"] = await _check(app[REDIS].ping())
        checks["rate_limit_store"] = await _check(app[LIMITER].check_storage())
    if all(v == "ok" for v in checks.values()):
        return Readiness(status="ok", checks=checks)
    body = problem(
        503,
        "not_ready",
        "A dependency is not available.",
        request_id=call.request[REQUEST_ID],
        extra={"checks": checks},
    )
    return problem_response(503, body, {"Retry-After": "5"})


async def _check(probe: Any) -> str:
    try:
        result = await asyncio.wait_for(probe, CHECK_TIMEOUT)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by name
        return f"error: {type(exc).__name__}"
    return "ok" if result is not False else "error: check failed"


@router.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics (private networks only)",
    auth="public",
    errors=(403,),
)
async def metrics(call: Call[Empty, Empty, Empty]) -> web.StreamResponse:
    settings = call.request.app[SETTINGS]
    try:
        remote = ipaddress.ip_address(call.client_ip)
    except ValueError:
        remote = None
    if remote is None or not any(
        remote in ipaddress.ip_network(n) for n in settings.metrics_networks
    ):
        raise PermissionDenied(
            "Metrics are served to private networks only.", code="metrics_denied"
        )
    body = generate_latest(call.request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@router.route("GET", "/api/v1/openapi.json", summary="This OpenAPI document", auth="public")
async def openapi(call: Call[Empty, Empty, Empty]) -> web.StreamResponse:
    return web.json_response(call.request.app[OPENAPI])


async def api_docs(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/static/docs/index.html")


def openapi_document(app: web.Application, routers: list[Router]) -> dict[str, Any]:
    endpoints = [e for r in routers for e in r.endpoints]
    return build_openapi(endpoints, version=__version__)
