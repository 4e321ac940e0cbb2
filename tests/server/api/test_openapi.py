"""The OpenAPI document is valid 3.1, in step with the routes, and its viewer is self-hosted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from server.api import pages
from tests.conftest import AppClient

OPENAPI_URL = "/api/v1/openapi.json"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Routes that are not API operations: the browser pages (and the redirect to the start page).
# The browser client's HTML pages (server.api.pages) are not part of the API.
UNDOCUMENTED = {
    ("GET", "/"),
    ("GET", "/api/docs"),
    *(
        ("GET", path)
        for path in (
            *pages.PAGES,
            *pages.COURSE_PAGES,
            *pages.GRADING_PAGES,
            *pages.MARKETPLACE_PAGES,
        )
    ),
    # Socket.IO's transport endpoint: its protocol is in docs/live-protocol.md, not OpenAPI.
    *((method, "/socket.io/") for method in ("GET", "POST", "OPTIONS")),
}


async def fetch_document(client: AppClient) -> dict[str, Any]:
    resp = await client.get(OPENAPI_URL)
    assert resp.status == 200
    assert resp.content_type == "application/json"
    document: dict[str, Any] = await resp.json()
    return document


def app_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route, minus static files, HEAD twins and redirects."""
    routes: set[tuple[str, str]] = set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        if isinstance(resource, web.StaticResource) or route.method == "HEAD":
            continue
        # aiohttp's "{name}" / "{name:regex}" -> OpenAPI's "{name}".
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", resource.canonical)
        routes.add((route.method, path))
    return routes - UNDOCUMENTED


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external $ref {ref!r}"
    node: Any = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"$ref {ref!r} goes through a non-object"
        assert key in node, f"dangling $ref {ref!r}"
        node = node[key]
    return node


def property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            yield from properties
        for value in node.values():
            yield from property_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from property_names(item)


async def test_document_is_valid_openapi_3_1(client: AppClient) -> None:
    document = await fetch_document(client)
    assert document["openapi"].startswith("3.1.")
    validate(document)  # raises on any violation of the 3.1 schema


async def test_document_and_routes_agree(client: AppClient) -> None:
    document = await fetch_document(client)
    documented = {(method, path) for method, path, _ in operations(document)}
    registered = app_routes(client.app)
    assert registered - documented == set(), "routes missing from the document"
    assert documented - registered == set(), "documented operations the app does not serve"


async def test_path_parameters_are_declared(client: AppClient) -> None:
    document = await fetch_document(client)
    for method, path, operation in operations(document):
        in_path = set(re.findall(r"\{(\w+)\}", path))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == declared, (method, path)


async def test_every_operation_documents_problem_errors(client: AppClient) -> None:
    document = await fetch_document(client)
    for method, path, operation in operations(document):
        errors = {
            status: response
            for status, response in operation["responses"].items()
            if status.isdigit() and int(status) >= 400
        }
        assert errors, f"{method} {path} documents no error response"
        for status, response in errors.items():
            schema = response["content"]["application/problem+json"]["schema"]
            assert resolve(document, schema["$ref"])["title"] == "Problem", (method, path, status)
        assert operation["operationId"]
        assert operation["summary"]


async def test_bodies_and_responses_resolve(client: AppClient) -> None:
    document = await fetch_document(client)
    checked = 0
    for method, path, operation in operations(document):
        contents = [
            *operation.get("requestBody", {}).get("content", {}).values(),
            *(
                media
                for response in operation["responses"].values()
                for media in response.get("content", {}).values()
            ),
        ]
        for media in contents:
            for ref in refs(media["schema"]):
                resolve(document, ref)
                checked += 1
        if method in ("POST", "PUT", "PATCH") and "requestBody" in operation:
            # JSON, except file uploads: a raw binary body, or a form of text and files.
            assert list(operation["requestBody"]["content"]) in (
                ["application/json"],
                ["application/octet-stream"],
                ["multipart/form-data"],
            ), (method, path)
    assert checked > 0
    # And every reference anywhere, including from inside the component schemas.
    for ref in refs(document):
        resolve(document, ref)


async def test_idempotency_key_is_documented_where_it_is_read(client: AppClient) -> None:
    """Exactly the operations that take the header say so, with the pattern the server checks."""
    document = await fetch_document(client)
    documented: dict[str, dict[str, Any]] = {}
    for _, _, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
                documented[operation["operationId"]] = parameter
    assert set(documented) == {"record_payout", "submit_assignment"}
    for parameter in documented.values():
        assert parameter["required"] is False
        pattern = re.compile(parameter["schema"]["pattern"])
        assert pattern.fullmatch("retry-7_A.b~!")
        assert pattern.fullmatch("x" * 200)
        for refused in ("", "has space", "x" * 201, "caf\u00e9", "tab\there"):
            assert not pattern.fullmatch(refused), refused


async def test_no_schema_exposes_a_password_hash(client: AppClient) -> None:
    document = await fetch_document(client)
    names = set(property_names(document["components"]["schemas"]))
    names |= set(property_names(document["paths"]))
    assert "password_hash" not in names
    assert "password_hash" not in str(document)


async def test_document_is_stable(client: AppClient) -> None:
    first = await fetch_document(client)
    second = await fetch_document(client)
    assert first == second
    assert list(first["paths"]) == sorted(first["paths"])


async def test_operation_ids_are_unique(client: AppClient) -> None:
    document = await fetch_document(client)
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


class _AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(values[name] or "")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


async def test_api_docs_page_is_self_hosted(client: AppClient) -> None:
    resp = await client.get("/api/docs")
    assert resp.status == 200
    assert resp.url.path == "/static/docs/index.html"
    html = await resp.text()
    assert "swagger-ui" in html
    # No CDN: nothing points at another host.
    assert re.search(r"(https?:)?//[^\s\"'<>]", html) is None
    page = _AssetCollector()
    page.feed(html)
    assert page.urls
    assert all(url.startswith("/") and not url.startswith("//") for url in page.urls), page.urls
    assert page.inline_scripts == []  # CSP script-src 'self'
    for url in page.urls:
        asset = await client.get(url)
        assert asset.status == 200, url


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/docs/init.js",
    ],
)
async def test_swagger_ui_assets_are_served(client: AppClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    assert len(await resp.read()) > 0


async def test_docs_viewer_loads_our_document(client: AppClient) -> None:
    resp = await client.get("/static/docs/init.js")
    script = await resp.text()
    assert OPENAPI_URL in script
    assert "validatorUrl: null" in script  # no call-out to validator.swagger.io


async def test_upload_and_download_are_documented_as_binary(client: AppClient) -> None:
    document = await fetch_document(client)
    binary = {"type": "string", "format": "binary"}
    path = document["paths"]["/api/v1/lessons/{lesson_id}/file"]
    upload = path["put"]
    assert upload["requestBody"]["required"] is True
    assert upload["requestBody"]["content"] == {"application/octet-stream": {"schema": binary}}
    assert {"413", "415", "409"} <= set(upload["responses"])
    download = path["get"]
    assert download["responses"]["200"]["content"] == {"*/*": {"schema": binary}}
    assert "302" in download["responses"]


async def test_submission_form_is_documented_as_multipart(client: AppClient) -> None:
    document = await fetch_document(client)
    submit = document["paths"]["/api/v1/lessons/{lesson_id}/submissions"]["post"]
    form = submit["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["files"]["items"] == {"type": "string", "format": "binary"}
    assert form["properties"]["text"]["type"] == "string"
    assert {"201", "200", "409", "413", "415"} <= set(submit["responses"])
