"""The browser start page: served from /static, reachable from /, and CSP-clean (no inline JS)."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import AppClient


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self.handlers: list[str] = []
        self.assets: list[str] = []
        self.ids: set[str] = set()
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if values.get("style") is not None:
            self.inline_styles.append(values["style"] or "")
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "script":
            self.scripts.append(values)
        if tag in ("script", "link") and (values.get("src") or values.get("href")):
            self.assets.append(values.get("src") or values.get("href") or "")
        self._open = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "script" and data.strip():
            self.inline_scripts.append(data)
        if self._open == "style" and data.strip():
            self.inline_styles.append(data)


async def page(client: AppClient) -> _Page:
    resp = await client.get("/static/index.html")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    parsed = _Page()
    parsed.feed(await resp.text())
    return parsed


async def test_root_redirects_to_the_start_page(client: AppClient) -> None:
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/static/index.html"

    followed = await client.get("/")
    assert followed.status == 200
    assert followed.url.path == "/static/index.html"


async def test_page_has_no_inline_script_and_loads_app_js(client: AppClient) -> None:
    parsed = await page(client)
    assert parsed.inline_scripts == []
    assert parsed.handlers == []  # no onclick=... either
    assert parsed.inline_styles == []
    assert [s.get("src") for s in parsed.scripts] == ["/static/app.js"]
    assert parsed.scripts[0].get("type") == "module"
    assert "/static/app.css" in parsed.assets


async def test_page_assets_are_same_origin_and_served(client: AppClient) -> None:
    parsed = await page(client)
    for url in parsed.assets:
        if url.startswith("data:"):
            continue
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        resp = await client.get(url)
        assert resp.status == 200, url


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/app.js", "javascript"),
        ("/static/api.js", "javascript"),
        ("/static/app.css", "text/css"),
        ("/static/ui.js", "javascript"),
        ("/static/player.js", "javascript"),
        ("/static/vendor/hls.js/hls.min.js", "javascript"),
    ],
)
async def test_assets_are_served(client: AppClient, path: str, content_type: str) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    assert content_type in resp.content_type
    assert resp.headers["X-Content-Type-Options"] == "nosniff"  # so the MIME type matters


async def test_page_has_the_forms_and_regions_the_script_uses(client: AppClient) -> None:
    parsed = await page(client)
    script = await (await client.get("/static/app.js")).text()
    used = set(re.findall(r"getElementById\(\"([\w-]+)\"\)", script))
    assert used
    assert used <= parsed.ids, used - parsed.ids
    for needed in ("login-form", "register-form", "messages", "logout", "whoami"):
        assert needed in parsed.ids


async def test_page_text(client: AppClient) -> None:
    html = await (await client.get("/static/index.html")).text()
    assert "<title>Seminar</title>" in html
    assert 'aria-live="polite"' in html
    assert 'href="/api/docs"' in html
    assert 'autocomplete="new-password"' in html
    assert 'autocomplete="current-password"' in html


async def test_script_talks_json_with_same_origin_credentials(client: AppClient) -> None:
    shared = await (await client.get("/static/api.js")).text()
    assert 'credentials: "same-origin"' in shared
    assert '"Content-Type"] = "application/json"' in shared
    script = await (await client.get("/static/app.js")).text()
    assert 'from "./api.js"' in script
    for path in ("/users/me", "/auth/login", "/auth/register", "/auth/logout"):
        assert f'"{path}"' in script
    for text in (shared, script):
        assert "innerHTML" not in text  # server text is never parsed as HTML
        assert re.search(r"https?://", text) is None


def test_vendored_hls_js_says_what_it_is() -> None:
    """static/vendor/hls.js: the file as npm ships it, with its licence and provenance."""
    folder = Path(__file__).resolve().parents[2] / "static" / "vendor" / "hls.js"
    readme = (folder / "README").read_text()
    assert "version: 1.7.4" in readme
    assert "npm pack hls.js@1.7.4" in readme
    assert "Apache" in (folder / "LICENSE").read_text()
    digest = hashlib.sha256((folder / "hls.min.js").read_bytes()).hexdigest()
    assert f"{digest}  hls.min.js" in readme
