"""Declaring REST endpoints: validation in, serialisation out, and the OpenAPI document.

An endpoint is a coroutine taking a ``Call`` (parsed body, query and path parameters plus the
request) and returning a pydantic model, ``None`` (204) or an aiohttp response. The same
declaration drives validation and ``/api/v1/openapi.json``, so the two cannot drift apart.

``upload=True`` declares a raw binary body (the file itself, read by the handler with
``server.uploads.receive_upload``): the route is marked ``@streams_body`` and documented with an
``application/octet-stream`` request body; with ``form`` (the JSON schema of its fields) the body is
documented as ``multipart/form-data`` instead. ``download=True`` documents a binary response (and a
302 to a presigned URL). ``idempotent=True`` accepts an ``Idempotency-Key`` header: it is checked
before the handler runs, handed over as ``call.idempotency_key`` and documented as a parameter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.errors import FieldError, InvalidInput, NotAuthenticated
from server.api.idempotency import idempotency_key
from server.state import ACTOR, AUTH_FAILURE, SETTINGS
from server.unit_of_work import db_session
from server.uploads import streams_body


class Empty(BaseModel):
    """No body, query or path parameters."""

    model_config = ConfigDict(extra="forbid")


B = TypeVar("B", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)
P = TypeVar("P", bound=BaseModel)

Auth = Literal["public", "user"]
Result = BaseModel | web.StreamResponse | None


class UnsupportedMediaType(Exception):
    """The body is not JSON (415)."""


class MalformedJson(Exception):
    """The body is not parseable JSON (400)."""


@dataclass(slots=True)
class Call(Generic[B, Q, P]):
    request: web.Request
    body: B
    query: Q
    path: P
    # The checked Idempotency-Key header; always None on routes not declared ``idempotent``.
    idempotency_key: str | None = None

    @property
    def actor(self) -> Actor:
        actor: Actor | None = self.request.get(ACTOR)
        if actor is None:
            failure = self.request.get(AUTH_FAILURE)
            raise failure if isinstance(failure, NotAuthenticated) else NotAuthenticated()
        return actor

    @property
    def optional_actor(self) -> Actor | None:
        return self.request.get(ACTOR)

    @property
    def db(self) -> AsyncSession:
        return db_session(self.request)

    @property
    def client_ip(self) -> str:
        return client_ip(self.request)


Handler = Callable[[Call[B, Q, P]], Awaitable[Result]]


def model_response(model: BaseModel, status: int) -> web.Response:
    """``model`` as JSON with ``status``: for a handler whose success status varies (201 made,
    200 found already) or that may answer a problem instead."""
    return web.Response(
        body=model.model_dump_json().encode(), status=status, content_type="application/json"
    )


def client_ip(request: web.Request) -> str:
    """The client's address; behind a trusted reverse proxy, the one the proxy saw."""
    if request.app[SETTINGS].trust_forwarded_headers:
        forwarded = request.headers.get("X-Forwarded-For", "")
        # The right-most entry was appended by our proxy; anything left of it is client-made.
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.remote or "unknown"


@dataclass(slots=True)
class Endpoint:
    method: str
    path: str
    handler: Callable[[Call[Any, Any, Any]], Awaitable[Result]]
    body: type[BaseModel] | None
    # An optional body may be left out entirely (no bytes); it then parses as ``{}``.
    body_required: bool
    query: type[BaseModel]
    path_params: type[BaseModel]
    response: type[BaseModel] | None
    status: int
    # Other success statuses the handler may answer with the same body (e.g. 200 beside 201
    # for an idempotent create that found the thing already there).
    also: tuple[int, ...]
    summary: str
    tags: tuple[str, ...]
    auth: Auth
    errors: tuple[int, ...]
    operation_id: str
    # A raw binary request body streamed by the handler / a binary response.
    upload: bool = False
    download: bool = False
    # A streamed multipart/form-data body: the JSON schema of its fields (for OpenAPI).
    form: dict[str, Any] | None = None
    # Takes an Idempotency-Key header (a retry answers what the first request did).
    idempotent: bool = False


@dataclass
class Router:
    """Collects endpoints of one feature area; ``mount`` adds them to an application."""

    prefix: str = "/api/v1"
    tags: tuple[str, ...] = ()
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[B] | None = None,
        body_required: bool = True,
        query: type[Q] = Empty,  # type: ignore[assignment]
        path_params: type[P] = Empty,  # type: ignore[assignment]
        response: type[BaseModel] | None = None,
        status: int = 200,
        also: Iterable[int] = (),
        auth: Auth = "user",
        errors: Iterable[int] = (),
        upload: bool = False,
        download: bool = False,
        form: dict[str, Any] | None = None,
        idempotent: bool = False,
    ) -> Callable[[Handler[B, Q, P]], Handler[B, Q, P]]:
        if form is not None and not upload:
            raise ValueError("a form is a streamed upload: declare upload=True")
        if upload and body is not None:
            raise ValueError("an upload route reads its own body: declare no body model")

        def register(handler: Handler[B, Q, P]) -> Handler[B, Q, P]:
            self.endpoints.append(
                Endpoint(
                    method=method.upper(),
                    path=self.prefix + path,
                    handler=handler,
                    body=body,
                    body_required=body_required,
                    query=query,
                    path_params=path_params,
                    response=response,
                    status=status,
                    also=tuple(also),
                    summary=summary,
                    tags=self.tags,
                    auth=auth,
                    errors=tuple(errors),
                    operation_id=handler.__name__,
                    upload=upload,
                    download=download,
                    form=form,
                    idempotent=idempotent,
                )
            )
            return handler

        return register

    def mount(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, _adapt(endpoint))


def _adapt(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await _parse_body(request, endpoint) if endpoint.body else Empty()
        call: Call[Any, Any, Any] = Call(
            request=request,
            body=body,
            query=_parse(endpoint.query, _query_dict(request, endpoint.query), "query"),
            path=_parse(endpoint.path_params, dict(request.match_info), "path"),
        )
        if endpoint.auth == "user":
            _ = call.actor  # 401 before any work
        if endpoint.idempotent:
            call.idempotency_key = idempotency_key(request)
        result = await endpoint.handler(call)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        return model_response(result, endpoint.status)

    handle.__name__ = endpoint.operation_id
    if endpoint.upload:
        streams_body(handle)
    return handle


async def _parse_body(request: web.Request, endpoint: Endpoint) -> BaseModel:
    model = endpoint.body or Empty
    if not endpoint.body_required and not request.body_exists:
        return _parse(model, {}, "body")
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"")
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise MalformedJson() from None
        raise _invalid(exc, "body") from None


def _query_dict(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    # Repeated keys become lists only for fields declared as lists.
    out: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        info = model.model_fields.get(key)
        is_list = info is not None and getattr(info.annotation, "__origin__", None) is list
        out[key] = values if is_list else values[-1]
    return out


def _parse(model: type[B], data: dict[str, Any], where: str) -> B:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, where) from None


def _invalid(exc: ValidationError, where: str) -> InvalidInput:
    errors = [
        FieldError((where, *e["loc"]), e["msg"], e["type"])
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return InvalidInput("The request is not valid.", code="validation_failed", errors=errors)
