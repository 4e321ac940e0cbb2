"""Schemathesis hooks for ``test_fuzz.py``; the ``st`` subprocess loads this file through
``SCHEMATHESIS_HOOKS``. Not a test module, and never imported by pytest."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import schemathesis

# aiohttp's HTTP parser refuses a request line or a header line longer than 8190 bytes with a
# plain-text 400 (LineTooLong) before the application sees the request. That is the transport's
# limit, not the API's behaviour, so cases that large (long non-ASCII strings, percent-encoded up
# to 12 bytes a character, in the query) are not sent. The margin covers the method, the HTTP
# version and the encoding differences between this estimate and the client's.
LINE_LIMIT = 8190 - 512


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> bool:
    return _fits_http_parser(case)


def _fits_http_parser(case: schemathesis.Case[Any]) -> bool:
    query = urlencode(_strings(case.query or {}), doseq=True, errors="surrogatepass")
    target = f"{case.formatted_path}?{query}"
    if len(target.encode("utf-8", "surrogatepass")) > LINE_LIMIT:
        return False
    lines = [f"{name}: {value}" for name, value in (case.headers or {}).items()]
    cookies = "; ".join(f"{name}={value}" for name, value in (case.cookies or {}).items())
    lines.append(f"Cookie: {cookies}")
    return all(len(line.encode("utf-8", "surrogatepass")) <= LINE_LIMIT for line in lines)


def _strings(query: dict[str, Any]) -> dict[str, Any]:
    return {
        str(key): [str(v) for v in value] if isinstance(value, list) else str(value)
        for key, value in query.items()
    }
