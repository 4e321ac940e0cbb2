"""Builds the OpenAPI 3.1 document from the declared endpoints and their pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.api.framework import Empty, Endpoint
from server.api.idempotency import IDEMPOTENCY_HEADER, KEY_PATTERN
from server.problems import Problem

REF = "#/components/schemas/{model}"
_STANDARD_ERRORS = {
    400: "Malformed request",
    401: "Not authenticated",
    402: "Payment required (the problem points to checkout)",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    410: "Gone: expired, already used or revoked",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Validation failed",
    429: "Rate limited",
    500: "Internal error",
    503: "A dependency is unavailable",
}

IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: a repeated request with the same key answers what the "
    "first one did (200) instead of doing it again. 1-200 visible ASCII characters; any other "
    "value is refused (422 invalid_idempotency_key).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": KEY_PATTERN},
}


def build_openapi(endpoints: Iterable[Endpoint], *, version: str) -> dict[str, Any]:
    endpoints = list(endpoints)
    models: list[tuple[type[BaseModel], Any]] = [(Problem, "serialization")]
    for e in endpoints:
        if e.body is not None:
            models.append((e.body, "validation"))
        if e.response is not None:
            models.append((e.response, "serialization"))
    keys, top = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        op = _operation(e, keys, schemas)
        paths.setdefault(_openapi_path(e.path), {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Seminar API",
            "version": version,
            "description": (
                "The REST API of Seminar, an open-source learning platform. Errors are "
                "RFC 9457 problem details with a stable `code`."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "seminar_sid"},
                "bearerToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def _openapi_path(path: str) -> str:
    # aiohttp's "{name:regex}" becomes OpenAPI's "{name}".
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)


def _operation(
    e: Endpoint, keys: dict[tuple[Any, Any], Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": e.operation_id,
        "summary": e.summary,
        "tags": list(e.tags),
        "parameters": [
            *_parameters(e.path_params, "path", schemas),
            *_parameters(e.query, "query", schemas),
            *([IDEMPOTENCY_PARAMETER] if e.idempotent else []),
        ],
    }
    if e.body is not None:
        op["requestBody"] = {
            "required": e.body_required,
            "content": {"application/json": {"schema": keys[(e.body, "validation")]}},
        }
    if e.upload and e.form is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": e.form}},
        }
    elif e.upload:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    success: dict[str, Any] = {"description": "Success"}
    if e.download:
        # Served as what it is (a PDF, an image, an HLS playlist...): any type.
        success["content"] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    elif e.response is not None:
        success["content"] = {"application/json": {"schema": keys[(e.response, "serialization")]}}
    responses: dict[str, Any] = {str(status): success for status in (e.status, *e.also)}
    if e.download:
        responses["302"] = {"description": "Download from a short-lived URL (object storage)"}
    problem_ref = keys[(Problem, "serialization")]
    errors = set(e.errors) | {500}
    if e.body is not None or e.upload:
        errors |= {400, 413, 415, 422}
    # Credentials that are sent are checked even where none are needed: a bad or revoked
    # bearer token is refused (401) on every operation, public ones included.
    errors.add(401)
    if e.method not in ("GET", "HEAD", "OPTIONS"):
        errors.add(403)  # the CSRF origin check can refuse any unsafe request
    for status in sorted(errors):
        description = _STANDARD_ERRORS.get(status, "Error")
        if status == 401 and e.auth == "public":
            description = "Invalid credentials were sent (this operation needs none)"
        responses[str(status)] = {
            "description": description,
            "content": {"application/problem+json": {"schema": problem_ref}},
        }
    op["responses"] = responses
    if e.auth == "user":
        op["security"] = [{"sessionCookie": []}, {"bearerToken": []}]
    else:
        op["security"] = []
    return op


def _parameters(model: type[BaseModel], where: str, schemas: dict[str, Any]) -> list[Any]:
    if model is Empty:
        return []
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": {k: v for k, v in prop.items() if k != "description"},
        }
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params
