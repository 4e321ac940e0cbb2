"""Every failure is an RFC 9457 problem with a stable code, a request id, and nothing internal."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import structlog
from aiohttp import ClientResponse, web
from sqlalchemy.exc import IntegrityError

from server.app import create_app
from server.state import Database
from tests.conftest import (
    FAST_HASHER,
    ORIGIN,
    PASSWORD,
    AppClient,
    ClientFactory,
    login,
    make_settings,
    register,
)

PROBLEM_FIELDS = {"type", "title", "status", "code", "detail", "request_id"}


async def assert_problem(
    resp: ClientResponse, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is a problem+json of ``status`` (and ``code``); returns the body."""
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/problem+json", resp.content_type
    body: dict[str, Any] = json.loads(text)
    assert body.keys() >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["type"].endswith("/" + body["code"])
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert resp.headers["X-Request-ID"] == body["request_id"]
    if code is not None:
        assert body["code"] == code, body
    assert "Traceback" not in text
    return body


async def test_unknown_route_is_404(client: AppClient) -> None:
    resp = await client.get("/api/v1/no-such-thing")
    await assert_problem(resp, 404, "not_found")


async def test_wrong_method_is_405_with_allow(client: AppClient) -> None:
    resp = await client.delete("/api/v1/auth/register")
    await assert_problem(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


async def test_content_length_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = await make_client(max_body_bytes=2048)
    resp = await client.post(
        "/api/v1/auth/register",
        data=b"x" * (1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    await assert_problem(resp, 413, "payload_too_large")


async def test_chunked_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = await make_client(max_body_bytes=2048)

    async def chunks() -> AsyncIterator[bytes]:
        payload = json.dumps({"email": "big@example.com", "name": "n" * 8192, "password": "p"})
        for start in range(0, len(payload), 1024):
            yield payload[start : start + 1024].encode()

    resp = await client.post(
        "/api/v1/auth/register", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "Content-Length" not in resp.request_info.headers
    assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
    await assert_problem(resp, 413, "payload_too_large")


async def test_body_within_the_limit_is_read(make_client: ClientFactory) -> None:
    client = await make_client(max_body_bytes=2048)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "small@example.com", '
        yield json.dumps({"password": PASSWORD, "name": "Small"})[1:].encode()

    resp = await client.post(
        "/api/v1/auth/register", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 201, await resp.text()


async def test_text_plain_body_is_415(client: AppClient) -> None:
    # The classic CSRF vector: a cross-site <form> can send text/plain but not JSON.
    resp = await client.post(
        "/api/v1/auth/register", data="{}", headers={"Content-Type": "text/plain"}
    )
    await assert_problem(resp, 415, "unsupported_media_type")


async def test_form_body_is_415(client: AppClient) -> None:
    resp = await client.post("/api/v1/auth/login", data={"email": "a@example.com"})
    await assert_problem(resp, 415, "unsupported_media_type")


@pytest.mark.parametrize("raw", [b"{", b'{"email": }', b"", b"\xff\xfe", b"[1, 2"])
async def test_broken_json_is_400(client: AppClient, raw: bytes) -> None:
    resp = await client.post(
        "/api/v1/auth/register", data=raw, headers={"Content-Type": "application/json"}
    )
    await assert_problem(resp, 400, "malformed_json")


async def test_validation_errors_list_fields(client: AppClient) -> None:
    resp = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD}
    )
    body = await assert_problem(resp, 422, "validation_failed")
    locs = [error["loc"] for error in body["errors"]]
    assert ["body", "email"] in locs
    assert ["body", "name"] in locs
    for error in body["errors"]:
        assert error["message"]
        assert error["type"]
        assert "input" not in error
        assert "url" not in error
    assert PASSWORD not in await resp.text()


async def test_wrong_json_type_is_422(client: AppClient) -> None:
    resp = await client.post("/api/v1/auth/register", json=[1, 2, 3])
    await assert_problem(resp, 422, "validation_failed")


async def test_path_parameter_errors_are_422(client: AppClient) -> None:
    await register(client, "path@example.com")
    await login(client, "path@example.com")
    resp = await client.delete("/api/v1/users/me/tokens/not-a-uuid")
    body = await assert_problem(resp, 422, "validation_failed")
    assert ["path", "token_id"] in [error["loc"] for error in body["errors"]]


async def test_unknown_fields_are_refused(client: AppClient) -> None:
    await register(client, "climber@example.com", "Climber")
    await login(client, "climber@example.com")
    resp = await client.patch("/api/v1/users/me", json={"role": "admin"})
    body = await assert_problem(resp, 422, "validation_failed")
    assert ["body", "role"] in [error["loc"] for error in body["errors"]]

    me = await client.get("/api/v1/users/me")
    assert (await me.json())["role"] == "student"


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"email": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
        json.dumps({"email": "x@example.com", "password": "p" * 900_000, "name": "n"}).encode(),
        json.dumps({"email": "x@example.com", "name": ["n"] * 150_000}).encode(),
    ],
    ids=["deep-array", "deep-object", "long-string", "wide-array"],
)
async def test_deep_or_huge_json_is_not_a_500(client: AppClient, raw: bytes) -> None:
    assert len(raw) < 1024 * 1024  # under the default body limit: the parser sees it all
    resp = await client.post(
        "/api/v1/auth/register", data=raw, headers={"Content-Type": "application/json"}
    )
    assert 400 <= resp.status < 500, await resp.text()
    await assert_problem(resp, resp.status)


async def test_safe_request_id_is_echoed(client: AppClient) -> None:
    resp = await client.get("/api/v1/no-such-thing", headers={"X-Request-ID": "trace-1234.abc_D"})
    body = await assert_problem(resp, 404)
    assert body["request_id"] == "trace-1234.abc_D"

    ok = await client.get("/healthz", headers={"X-Request-ID": "healthcheck-0001"})
    assert ok.status == 200
    assert ok.headers["X-Request-ID"] == "healthcheck-0001"


@pytest.mark.parametrize(
    "unsafe",
    [
        "x" * 65,
        "short",
        "has space-1234",
        "<script>alert(1)</script>",
        "id;rm -rf /tmp",
        "back\\slash-12345",
        "ünïcode-request-id",
        "tab\there-12345",
    ],
)
async def test_unsafe_request_id_is_replaced(client: AppClient, unsafe: str) -> None:
    resp = await client.get("/api/v1/no-such-thing", headers={"X-Request-ID": unsafe})
    body = await assert_problem(resp, 404)
    assert body["request_id"] != unsafe
    assert len(body["request_id"]) == 32
    assert body["request_id"].isalnum()


async def test_request_id_with_a_raw_newline_cannot_split_the_response(client: AppClient) -> None:
    # aiohttp's client refuses to send it; on the wire a bare LF ends the header, and a CR is a
    # parser error, so neither reaches our code. Send it by hand to see the server stays safe.
    assert client.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(
        b"GET /api/v1/no-such-thing HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"X-Request-ID: abcdefgh\rInjected: yes\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head = raw.split(b"\r\n\r\n", 1)[0]
    # Refused by aiohttp's HTTP parser before any middleware runs (so plain text, not ours).
    assert re.match(rb"HTTP/1\.[01] 400 ", head), head
    assert b"\r\nInjected:" not in head
    assert b"X-Request-ID" not in head


async def test_missing_credentials_are_401(client: AppClient) -> None:
    resp = await client.get("/api/v1/users/me")
    await assert_problem(resp, 401, "not_authenticated")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", ["Basic x", "Bearer", "Bearer   ", "token abc"])
async def test_malformed_authorization_is_401(client: AppClient, authorization: str) -> None:
    resp = await client.get("/api/v1/users/me", headers={"Authorization": authorization})
    await assert_problem(resp, 401, "invalid_token")
    assert "WWW-Authenticate" in resp.headers


async def test_cross_origin_post_is_403(client: AppClient) -> None:
    resp = await client.post(
        "/api/v1/auth/register",
        json={"email": "x@example.com", "password": PASSWORD, "name": "X"},
        headers={"Origin": "https://evil.example"},
    )
    await assert_problem(resp, 403, "csrf_origin_mismatch")


@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/no-such-thing", "/healthz"])
async def test_security_headers(client: AppClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    csp = resp.headers["Content-Security-Policy"]
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";")}
    assert directives["object-src"] == "object-src 'none'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert directives["script-src"] == "script-src 'self'"
    if path.startswith("/api/"):
        assert resp.headers["Cache-Control"] == "no-store"


async def test_static_pages_carry_security_headers(client: AppClient) -> None:
    resp = await client.get("/static/docs/index.html")
    assert resp.status == 200
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


def raising(error: Exception) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise error

    return handler


SECRET = "secret detail in /srv/app/secret.py"


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(SECRET),
        # Not a lost connection: a bug like any other, not a 503 and not aiohttp's plain 500.
        IntegrityError("INSERT INTO users", {}, Exception(SECRET)),
    ],
    ids=["RuntimeError", "IntegrityError"],
)
async def test_unhandled_error_is_a_bare_500_and_logged(
    aiohttp_client: Callable[..., Awaitable[AppClient]],
    database: Database,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    settings = make_settings(database_url)
    app = await asyncio.to_thread(create_app, settings, database=database, hasher=FAST_HASHER)
    app.router.add_get("/boom", raising(error))
    client = await aiohttp_client(app, headers={"Origin": ORIGIN})
    # The request id reaches log lines through structlog's contextvars, as in production.
    caplog.handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.contextvars.merge_contextvars],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )

    with caplog.at_level(logging.ERROR):
        resp = await client.get("/boom", headers={"X-Request-ID": "boom-request-0001"})

    body = await assert_problem(resp, 500, "internal_error")
    text = await resp.text()
    for leak in ("Traceback", "secret", type(error).__name__, "INSERT", "/srv/", ".py", 'File "'):
        assert leak not in text
    assert body["request_id"] == "boom-request-0001"

    records = [r for r in caplog.records if r.exc_info]
    assert [r.name for r in records] == ["seminar.http"]  # ours, not aiohttp's fallback
    exc_info = records[0].exc_info
    assert exc_info is not None
    assert exc_info[1] is error
    lines = [json.loads(line) for line in caplog.text.splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("request_id") == "boom-request-0001"]
    assert logged, caplog.text
    assert "secret detail" in logged[0]["exception"]  # the traceback is for operators


@pytest.mark.parametrize(("path", "location"), [("/", "/static/index.html"), ("/api/docs", None)])
async def test_redirects_keep_their_status_in_logs(
    client: AppClient, caplog: pytest.LogCaptureFixture, path: str, location: str | None
) -> None:
    with caplog.at_level(logging.INFO, logger="seminar.http"):
        resp = await client.get(path, allow_redirects=False)
    assert resp.status == 302
    if location is not None:
        assert resp.headers["Location"] == location
    assert len(resp.headers["X-Request-ID"]) == 32
    logged = [r for r in caplog.records if r.name == "seminar.http" and r.getMessage() == "request"]
    assert [getattr(r, "status", None) for r in logged] == [302]
