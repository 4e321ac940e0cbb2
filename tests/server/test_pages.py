"""The HTML pages outside /static (server/api/pages.py): served as HTML, CSP-clean, with the
site navigation. The pages account emails link to (/reset-password, /verify-email) are careful
with the token in their address (no Referer, no cache, not in the logs); the course, instructor
and live pages load their same-origin ES modules under the default policy."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import PurePosixPath

import pytest

from server.security_headers import CSP
from tests.conftest import AppClient

PAGES = ["/reset-password", "/verify-email"]
SCRIPT = "/static/account-links.js"
TOKEN = "SeCrEt-t0ken-that-must-not-leak"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self.handlers: list[str] = []
        self.assets: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.body: dict[str, str | None] = {}
        self.meta: dict[str, str | None] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if values.get("style") is not None:
            self.inline_styles.append(values["style"] or "")
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "body":
            self.body = values
        if tag == "meta" and values.get("name"):
            self.meta[values["name"] or ""] = values.get("content")
        if tag == "script":
            self.scripts.append(values)
        if tag in ("script", "link") and (values.get("src") or values.get("href")):
            self.assets.append(values.get("src") or values.get("href") or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        self._open = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "script" and data.strip():
            self.inline_scripts.append(data)
        if self._open == "style" and data.strip():
            self.inline_styles.append(data)


async def parse(client: AppClient, path: str) -> _Page:
    resp = await client.get(path)
    assert resp.status == 200, path
    parsed = _Page()
    parsed.feed(await resp.text())
    return parsed


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("query", ["", f"?token={TOKEN}"])
async def test_page_is_html_with_a_strict_referrer_policy(
    client: AppClient, path: str, query: str
) -> None:
    resp = await client.get(path + query, allow_redirects=False)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.charset in (None, "utf-8")
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    # The defaults every page gets are still there.
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert TOKEN not in await resp.text()


@pytest.mark.parametrize("path", PAGES)
async def test_head_is_answered(client: AppClient, path: str) -> None:
    resp = await client.head(path)
    assert resp.status == 200
    assert resp.headers["Referrer-Policy"] == "no-referrer"


async def test_other_pages_keep_the_default_referrer_policy(client: AppClient) -> None:
    resp = await client.get("/static/index.html")
    assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", PAGES)
async def test_page_has_no_inline_script_or_style(client: AppClient, path: str) -> None:
    parsed = await parse(client, path)
    assert parsed.inline_scripts == []
    assert parsed.handlers == []  # no onclick=... either
    assert parsed.inline_styles == []
    assert [s.get("src") for s in parsed.scripts] == [SCRIPT]
    assert parsed.scripts[0].get("type") == "module"
    assert "/static/app.css" in parsed.assets
    # The page's own belt to the server's braces.
    assert parsed.meta.get("referrer") == "no-referrer"


@pytest.mark.parametrize("path", PAGES)
async def test_page_assets_are_same_origin_and_served(client: AppClient, path: str) -> None:
    parsed = await parse(client, path)
    for url in parsed.assets + parsed.links:
        if url.startswith(("data:", "#")):
            continue
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        resp = await client.get(url)
        assert resp.status == 200, url


async def test_script_is_served_as_javascript(client: AppClient) -> None:
    resp = await client.get(SCRIPT)
    assert resp.status == 200
    assert "javascript" in resp.content_type
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_script_finds_what_it_needs_on_each_page(client: AppClient) -> None:
    script = await (await client.get(SCRIPT)).text()
    reset = await parse(client, "/reset-password")
    verify = await parse(client, "/verify-email")
    assert reset.body.get("data-page") == "reset-password"
    assert verify.body.get("data-page") == "verify-email"
    # Every id the script looks up exists on the page whose function uses it.
    functions = re.split(r"^(?:async )?function (\w+)", script, flags=re.MULTILINE)
    bodies = dict(zip(functions[1::2], functions[2::2], strict=True))
    shared = set(re.findall(r'getElementById\("([\w-]+)"\)', functions[0]))
    for name, page in (("resetPasswordPage", reset), ("verifyEmailPage", verify)):
        used = set(re.findall(r'getElementById\("([\w-]+)"\)', bodies[name])) | shared
        assert used, name
        assert used <= page.ids, (name, used - page.ids)
    for needed in ("reset-form", "request-form", "new-password", "confirm-password", "messages"):
        assert needed in reset.ids
    for needed in ("verify", "verify-done", "verify-failed", "messages"):
        assert needed in verify.ids


async def test_script_posts_the_token_and_never_leaves_it_in_the_address(
    client: AppClient,
) -> None:
    script = await (await client.get(SCRIPT)).text()
    for path in ("/auth/password-reset/confirm", "/auth/password-reset", "/auth/verify-email"):
        assert f'"{path}"' in script
    assert '"/auth/verify-email/confirm", { token }' in script
    assert "history.replaceState" in script
    assert 'from "./api.js"' in script  # same-origin JSON calls, shared with the start page
    assert "innerHTML" not in script  # server text is never parsed as HTML
    assert re.search(r"https?://", script) is None


async def test_reset_form_helps_password_managers_and_screen_readers(client: AppClient) -> None:
    html = await (await client.get("/reset-password")).text()
    assert html.count('autocomplete="new-password"') == 2
    assert 'aria-live="polite"' in html
    assert "<title>Reset your password · Seminar</title>" in html
    # The API's field name, so the API's field errors land next to the right input.
    assert 'name="new_password"' in html


async def test_start_page_links_to_the_reset_page(client: AppClient) -> None:
    html = await (await client.get("/static/index.html")).text()
    assert 'href="/reset-password"' in html


@pytest.mark.parametrize("path", PAGES)
async def test_the_token_is_not_logged(
    client: AppClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        resp = await client.get(f"{path}?token={TOKEN}")
        assert resp.status == 200
    requests = [r for r in caplog.records if r.getMessage() == "request"]
    assert [getattr(r, "path", None) for r in requests] == [path]
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.__dict__)


# --------------------------------------------------------------------------- the course pages

COURSE_SCRIPT = "/static/courses.js"
COURSE_PAGES = {
    "/catalog": ("catalog", "catalogPage"),
    "/courses/intro-to-birds": ("course", "coursePage"),
    "/courses/3f1c2a9e-8d4b-4c55-9a6e-0d9b1f3e7a21": ("course", "coursePage"),
    "/my": ("my", "myPage"),
    "/learn/3f1c2a9e-8d4b-4c55-9a6e-0d9b1f3e7a21": ("learn", "learnPage"),
}


@pytest.mark.parametrize("path", COURSE_PAGES)
async def test_course_page_is_csp_clean_html(client: AppClient, path: str) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    parsed = await parse(client, path)
    assert parsed.inline_scripts == []
    assert parsed.handlers == []
    assert parsed.inline_styles == []
    # /my also lists one's certificates (static/certificate.js, the verification page's module).
    extra = ["/static/certificate.js"] if path == "/my" else []
    assert [s.get("src") for s in parsed.scripts] == [COURSE_SCRIPT, *extra]
    assert all(script.get("type") == "module" for script in parsed.scripts)
    assert parsed.body.get("data-page") == COURSE_PAGES[path][0]
    assert {"/catalog", "/my", "/teach"} <= set(parsed.links)  # the navigation
    for url in parsed.assets + parsed.links:
        if url.startswith(("data:", "#")):
            continue
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        assert (await client.get(url)).status == 200, url


async def test_course_script_finds_what_it_needs_on_each_page(client: AppClient) -> None:
    resp = await client.get(COURSE_SCRIPT)
    assert resp.status == 200
    assert "javascript" in resp.content_type
    script = await resp.text()
    functions = re.split(r"^(?:async )?function (\w+)", script, flags=re.MULTILINE)
    bodies = dict(zip(functions[1::2], functions[2::2], strict=True))
    shared = set(re.findall(r'getElementById\("([\w-]+)"\)', functions[0]))
    for path, (_, function) in COURSE_PAGES.items():
        page = await parse(client, path)
        used = set(re.findall(r'getElementById\("([\w-]+)"\)', bodies[function])) | shared
        assert used, function
        assert used <= page.ids, (path, used - page.ids)


async def test_course_script_inserts_html_only_from_the_sanitised_fields(
    client: AppClient,
) -> None:
    script = await (await client.get(COURSE_SCRIPT)).text()
    assert 'from "./api.js"' in script
    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "document.write" not in script
    # DOMParser appears once (the helper), and the helper is only given the server's
    # sanitised fields.
    assert script.count("new DOMParser()") == 1
    calls = re.findall(r"insertSanitisedHtml\([^,]+, ([\w.]+)\);", script)
    assert calls
    assert set(calls) <= {"course.description_html", "lesson.body_html"}, calls
    assert re.search(r"https?://\w", script) is None


async def test_start_page_links_to_the_course_pages(client: AppClient) -> None:
    parsed = await parse(client, "/static/index.html")
    assert {"/catalog", "/my", "/teach"} <= set(parsed.links)


NAV_PAGES = ["/static/index.html", *COURSE_PAGES, "/teach"]


@pytest.mark.parametrize("path", NAV_PAGES)
async def test_site_navigation_links_to_the_instructor_pages(client: AppClient, path: str) -> None:
    html = await (await client.get(path)).text()
    nav = re.search(r'<nav class="site-nav" aria-label="Main">(.*?)</nav>', html, re.DOTALL)
    assert nav is not None, path
    assert re.search(r'<a href="/teach"(?: aria-current="page")?>Teach</a>', nav.group(1)), path


async def test_unknown_course_page_paths_are_not_found(client: AppClient) -> None:
    assert (await client.get("/courses/a/b")).status == 404
    assert (await client.get("/learn/")).status == 404


# --- the instructor pages (/teach, /teach/{course id}) and the lesson player's policy ----------

TEACH_PAGES = {
    "/teach": ("teach", "/static/teach.js", ["/static/teach.js"]),
    "/teach/3f1c2a9e-8d4b-4c55-9a6e-0d9b1f3e7a21": (
        "editor",
        "/static/editor.js",
        ["/static/editor.js", "/static/outline-editor.js", "/static/lesson-media.js"],
    ),
}
# The modules the instructor pages and the player load (none may parse server text as HTML).
TEACH_SCRIPTS = [
    "/static/ui.js",
    "/static/teach.js",
    "/static/editor.js",
    "/static/outline-editor.js",
    "/static/lesson-media.js",
    "/static/player.js",
]


@pytest.mark.parametrize("path", TEACH_PAGES)
async def test_teach_page_is_csp_clean_html(client: AppClient, path: str) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "blob:" not in resp.headers["Content-Security-Policy"]
    parsed = await parse(client, path)
    assert parsed.inline_scripts == []
    assert parsed.handlers == []
    assert parsed.inline_styles == []
    page, entry, _ = TEACH_PAGES[path]
    assert [s.get("src") for s in parsed.scripts] == [entry]
    assert parsed.scripts[0].get("type") == "module"
    assert parsed.body.get("data-page") == page
    assert {"/catalog", "/my", "/teach"} <= set(parsed.links)
    for url in parsed.assets + parsed.links:
        if url.startswith(("data:", "#")):
            continue
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        assert (await client.get(url)).status == 200, url


@pytest.mark.parametrize("path", TEACH_PAGES)
async def test_teach_scripts_find_what_they_need(client: AppClient, path: str) -> None:
    parsed = await parse(client, path)
    used: set[str] = set()
    for script in TEACH_PAGES[path][2]:
        resp = await client.get(script)
        assert resp.status == 200, script
        assert "javascript" in resp.content_type
        used |= set(re.findall(r'getElementById\("([\w-]+)"\)', await resp.text()))
    assert used
    assert used <= parsed.ids, used - parsed.ids


@pytest.mark.parametrize("script", TEACH_SCRIPTS)
async def test_teach_scripts_insert_no_html(client: AppClient, script: str) -> None:
    resp = await client.get(script)
    assert resp.status == 200, script
    text = await resp.text()
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser"):
        assert banned not in text, (script, banned)
    assert re.search(r"https?://\w", text) is None, script


async def test_editor_uploads_raw_bodies_with_progress(client: AppClient) -> None:
    ui = await (await client.get("/static/ui.js")).text()
    assert "new XMLHttpRequest()" in ui
    assert "xhr.upload.onprogress" in ui
    assert 'xhr.open("PUT"' in ui
    assert "filename=${encodeURIComponent(file.name)}" in ui
    outline = await (await client.get("/static/outline-editor.js")).text()
    assert "/reorder" in outline
    assert "dragstart" in outline
    assert '"drop"' in outline


async def test_the_lesson_page_may_play_media_from_blob_urls(client: AppClient) -> None:
    resp = await client.get("/learn/3f1c2a9e-8d4b-4c55-9a6e-0d9b1f3e7a21")
    policy = resp.headers["Content-Security-Policy"]
    assert "media-src 'self' blob:" in policy
    assert "script-src 'self';" in policy  # everything else as strict as the default
    assert "object-src 'none'" in policy
    for other in ("/catalog", "/teach", "/my"):
        assert "blob:" not in (await client.get(other)).headers["Content-Security-Policy"]


async def test_unknown_teach_paths_are_not_found(client: AppClient) -> None:
    assert (await client.get("/teach/a/b")).status == 404
    assert (await client.get("/teach/")).status == 404


async def test_player_plays_hls_and_reports_positions(client: AppClient) -> None:
    player = await (await client.get("/static/player.js")).text()
    assert '"/static/vendor/hls.js/hls.min.js"' in player
    assert 'canPlayType("application/vnd.apple.mpegurl")' in player
    assert "enableWorker: false" in player  # no blob: worker under the CSP
    assert "keepalive: true" in player
    assert '"pagehide"' in player
    assert "/progress" in player
    assert (await client.get("/static/vendor/hls.js/hls.min.js")).status == 200
    courses = await (await client.get(COURSE_SCRIPT)).text()
    assert 'from "./player.js"' in courses
    learn = await parse(client, "/learn/3f1c2a9e-8d4b-4c55-9a6e-0d9b1f3e7a21")
    used = set(re.findall(r'getElementById\("([\w-]+)"\)', player))
    assert used <= learn.ids
    assert {"video", "video-state", "file-name", "file-download"} <= learn.ids


async def test_file_lessons_are_described_without_a_download(client: AppClient) -> None:
    # The lesson (and the outline) carry the file's name and size: no download is started and
    # aborted to read its headers.
    for script in ("/static/player.js", "/static/lesson-media.js"):
        text = await (await client.get(script)).text()
        assert "AbortController" not in text, script
        assert "Content-Disposition" not in text, script
    assert "lesson.file" in await (await client.get("/static/player.js")).text()
    assert "lesson.file" in await (await client.get("/static/lesson-media.js")).text()


# --- the live pages (/live: one's live sessions, /live/{live session id}: the live room) -------

LIVE_ID = "3f1c2a9e-8d4b-4c55-9a6e-0d9b1f3e7a21"
LIVE_PAGES = {
    "/live": ("live", "/static/live.js"),
    f"/live/{LIVE_ID}": ("live-room", "/static/live-room.js"),
    # Like the other pages, the room is static HTML for any id: its script asks the API, which
    # answers for an id that is not one (the page says the session cannot be opened).
    "/live/not-a-session-id": ("live-room", "/static/live-room.js"),
}
# The live room's own modules may not parse text as HTML; the shared ones have their own tests.
SHARED_MODULES = {"/static/api.js", "/static/ui.js"}
HTML_PARSERS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser")
_IMPORT = re.compile(r'(?:^|;|\s)(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?"([^"]+)"', re.M)


async def module_graph(client: AppClient, entry: str) -> dict[str, str]:
    """Every module ``entry`` loads (vendored ones not followed further): URL -> source.

    Each import is relative and stays under /static, so it loads under ``script-src 'self'``;
    each is served as JavaScript (``nosniff``: a module with another type would not run).
    """
    found: dict[str, str] = {}
    todo = [entry]
    while todo:
        url = todo.pop()
        if url in found:
            continue
        resp = await client.get(url)
        assert resp.status == 200, url
        assert "javascript" in resp.content_type, url
        found[url] = await resp.text()
        if url.startswith("/static/vendor/"):
            continue
        for spec in _IMPORT.findall(found[url]):
            assert spec.startswith(("./", "../")), (url, spec)
            resolved = str(PurePosixPath(url).parent / spec)
            parts: list[str] = []
            for part in resolved.split("/"):
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            target = "/".join(parts)
            assert target.startswith("/static/"), (url, spec)
            todo.append(target)
    return found


@pytest.mark.parametrize("path", LIVE_PAGES)
async def test_live_page_is_csp_clean_html(client: AppClient, path: str) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.charset in (None, "utf-8")
    # The default policy: the room's Socket.IO connection is same-origin (connect-src 'self').
    policy = resp.headers["Content-Security-Policy"]
    assert policy == CSP
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    parsed = await parse(client, path)
    assert parsed.inline_scripts == []
    assert parsed.handlers == []
    assert parsed.inline_styles == []
    page, entry = LIVE_PAGES[path]
    assert [s.get("src") for s in parsed.scripts] == [entry]
    assert parsed.scripts[0].get("type") == "module"
    assert parsed.body.get("data-page") == page
    assert {"/catalog", "/my", "/live", "/teach"} <= set(parsed.links)
    for url in parsed.assets + parsed.links:
        if url.startswith(("data:", "#")):
            continue
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        assert (await client.get(url)).status == 200, url


@pytest.mark.parametrize("path", ["/live", f"/live/{LIVE_ID}"])
async def test_head_of_a_live_page_is_answered(client: AppClient, path: str) -> None:
    resp = await client.head(path)
    assert resp.status == 200
    assert resp.content_type == "text/html"


async def test_unknown_live_paths_are_not_found(client: AppClient) -> None:
    assert (await client.get(f"/live/{LIVE_ID}/x")).status == 404
    assert (await client.get("/live/")).status == 404


@pytest.mark.parametrize("path", ["/live", f"/live/{LIVE_ID}"])
async def test_live_scripts_find_what_they_need(client: AppClient, path: str) -> None:
    parsed = await parse(client, path)
    modules = await module_graph(client, LIVE_PAGES[path][1])
    used: set[str] = set()
    for url, text in modules.items():
        if url in SHARED_MODULES or url.startswith("/static/vendor/"):
            continue
        used |= set(re.findall(r'(?:getElementById|\$)\("([\w-]+)"\)', text))
    assert used
    assert used <= parsed.ids, used - parsed.ids


async def test_live_room_modules_are_small_and_load_from_this_origin(client: AppClient) -> None:
    modules = await module_graph(client, "/static/live-room.js")
    own = [url for url in modules if url.startswith("/static/live")]
    # The room is split into modules (static/live/), none past the size rule.
    assert len(own) > 5, own
    for url in own:
        assert modules[url].count("\n") <= 600, url
    # Its libraries are vendored and loaded as modules too.
    assert "/static/vendor/socket.io-client/socket.io.esm.min.js" in modules
    assert "/static/whiteboard.js" in modules
    assert "/static/pdf.js" in modules


@pytest.mark.parametrize("entry", ["/static/live.js", "/static/live-room.js"])
async def test_live_scripts_insert_no_html(client: AppClient, entry: str) -> None:
    modules = await module_graph(client, entry)
    for url, text in modules.items():
        if url in SHARED_MODULES or url.startswith("/static/vendor/"):
            continue
        for banned in HTML_PARSERS:
            assert banned not in text, (url, banned)
        assert re.search(r"https?://\w", text) is None, url


LIVE_NAV_PAGES = [*NAV_PAGES, f"/teach/{LIVE_ID}", *LIVE_PAGES]


@pytest.mark.parametrize("path", LIVE_NAV_PAGES)
async def test_site_navigation_links_to_the_live_sessions(client: AppClient, path: str) -> None:
    html = await (await client.get(path)).text()
    nav = re.search(r'<nav class="site-nav" aria-label="Main">(.*?)</nav>', html, re.DOTALL)
    assert nav is not None, path
    current = ' aria-current="page"' if path == "/live" else ""
    assert f'<a href="/live"{current}>Live sessions</a>' in nav.group(1), path


# --- the grading pages (server/api/pages.py GRADING_PAGES: static/page-shell.js's frame) -------

GRADING_ID = "3f1c2a9e-8d4b-4c55-9a6e-0d9b1f3e7a21"
GRADING_PAGES = {
    f"/teach/lessons/{GRADING_ID}/settings": ("lesson-settings", "/static/lesson-settings.js"),
    f"/teach/lessons/{GRADING_ID}/grading": ("grading", "/static/grading.js"),
    f"/teach/courses/{GRADING_ID}/gradebook": ("gradebook", "/static/gradebook.js"),
    f"/teach/courses/{GRADING_ID}/question-banks": ("question-banks", "/static/question-banks.js"),
    f"/courses/{GRADING_ID}/grades": ("grades", "/static/grades.js"),
}
# The one module that may parse HTML: it puts the server's sanitised brief/feedback in the page.
SANITISED_HTML_MODULE = "/static/assignment-grade.js"


@pytest.mark.parametrize("path", GRADING_PAGES)
async def test_grading_page_is_csp_clean_html(client: AppClient, path: str) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Content-Security-Policy"] == CSP
    parsed = await parse(client, path)
    assert parsed.inline_scripts == []
    assert parsed.handlers == []
    assert parsed.inline_styles == []
    page, entry = GRADING_PAGES[path]
    assert [s.get("src") for s in parsed.scripts] == [entry]
    assert parsed.scripts[0].get("type") == "module"
    assert parsed.body.get("data-page") == page
    assert {"/catalog", "/my", "/live", "/teach"} <= set(parsed.links)
    for url in parsed.assets + parsed.links:
        if url.startswith(("data:", "#")):
            continue
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        assert (await client.get(url)).status == 200, url


@pytest.mark.parametrize("path", GRADING_PAGES)
async def test_grading_page_scripts_are_small_find_their_ids_and_insert_no_html(
    client: AppClient, path: str
) -> None:
    parsed = await parse(client, path)
    modules = await module_graph(client, GRADING_PAGES[path][1])
    used: set[str] = set()
    for url, text in modules.items():
        assert text.count("\n") <= 600, url
        if url in SHARED_MODULES:
            continue
        used |= set(re.findall(r'getElementById\("([\w-]+)"\)', text))
        banned = HTML_PARSERS if url != SANITISED_HTML_MODULE else HTML_PARSERS[:-1]
        for word in banned:
            assert word not in text, (url, word)
        assert re.search(r"https?://\w", text) is None, url
    assert used
    assert used <= parsed.ids, used - parsed.ids


async def test_the_sanitised_html_module_parses_only_the_servers_sanitised_fields(
    client: AppClient,
) -> None:
    text = await (await client.get(SANITISED_HTML_MODULE)).text()
    assert text.count("new DOMParser()") == 1
    for script in ("/static/assignment.js", "/static/grading-attempt.js", SANITISED_HTML_MODULE):
        source = await (await client.get(script)).text()
        calls = re.findall(r"sanitisedFragment\(([\w.]+),", source)
        allowed = {"a.brief_html", "grade.feedback_html", "q.prompt_html", "sanitisedHtml"}
        assert set(calls) <= allowed, calls
    learn = await module_graph(client, "/static/courses.js")
    assert "/static/assignment.js" in learn
    assert "/static/assignment-grade.js" in learn


async def test_unknown_grading_paths_are_not_found(client: AppClient) -> None:
    assert (await client.get(f"/teach/lessons/{GRADING_ID}")).status == 404
    assert (await client.get(f"/teach/lessons/{GRADING_ID}/other")).status == 404
    assert (await client.get(f"/teach/courses/{GRADING_ID}")).status == 404
    assert (await client.get(f"/courses/{GRADING_ID}/grades/x")).status == 404


# --- the marketplace pages (server/api/pages.py MARKETPLACE_PAGES: page-shell.js's frame) ------

MARKETPLACE_PAGES = {
    "/account/orders": ("orders", "/static/orders.js"),
    "/account/subscription": ("subscription", "/static/subscription.js"),
    "/teach/earnings": ("earnings", "/static/earnings.js"),
    "/admin/revenue": ("revenue", "/static/revenue.js"),
    f"/teach/courses/{GRADING_ID}/promotion-codes": (
        "promotion-codes",
        "/static/promotion-codes.js",
    ),
    "/admin/promotion-codes": ("admin-promotion-codes", "/static/promotion-codes.js"),
}


@pytest.mark.parametrize("path", MARKETPLACE_PAGES)
async def test_marketplace_page_is_csp_clean_html_with_small_modules(
    client: AppClient, path: str
) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Content-Security-Policy"] == CSP
    parsed = await parse(client, path)
    assert parsed.inline_scripts == []
    assert parsed.handlers == []
    assert parsed.inline_styles == []
    page, entry = MARKETPLACE_PAGES[path]
    assert [s.get("src") for s in parsed.scripts] == [entry]
    assert parsed.scripts[0].get("type") == "module"
    assert parsed.body.get("data-page") == page
    assert {"/catalog", "/my", "/live", "/teach"} <= set(parsed.links)
    for url in parsed.assets + parsed.links:
        if url.startswith(("data:", "#")):
            continue
        assert url.startswith("/"), url
        assert (await client.get(url)).status == 200, url
    modules = await module_graph(client, entry)
    assert "/static/money.js" in modules  # one money format for every page
    used: set[str] = set()
    for url, text in modules.items():
        assert text.count("\n") <= 600, url
        if url in SHARED_MODULES:
            continue
        used |= set(re.findall(r'getElementById\("([\w-]+)"\)', text))
        for word in HTML_PARSERS:
            assert word not in text, (url, word)
        assert re.search(r"https?://\w", text) is None, url
    assert used <= parsed.ids, used - parsed.ids


async def test_the_course_page_buys_with_the_shared_money_format(client: AppClient) -> None:
    modules = await module_graph(client, COURSE_SCRIPT)
    assert "/static/course-buy.js" in modules
    assert "/static/money.js" in modules
    money = modules["/static/money.js"]
    assert "resolvedOptions().maximumFractionDigits" in money
    for url in ("/static/courses.js", "/static/course-buy.js"):
        assert "price_cents / 100" not in modules[url], url  # money.js converts minor units
    buy = modules["/static/course-buy.js"]
    assert "innerHTML" not in buy
    assert "DOMParser" not in buy
    course = await parse(client, "/courses/intro-to-birds")
    assert {"purchase", "checkout-status", "enroll", "enroll-problem"} <= course.ids


async def test_unknown_marketplace_paths_are_not_found(client: AppClient) -> None:
    assert (await client.get("/account/orders/x")).status == 404
    assert (await client.get("/account")).status == 404
    assert (await client.get("/admin/revenue/x")).status == 404


async def test_promotion_code_pages_are_linked_by_role_and_from_the_editor(
    client: AppClient,
) -> None:
    nav = await (await client.get("/static/nav.js")).text()
    assert '["/admin/promotion-codes", "Promotion codes"]' in nav  # admins' link
    editor = await module_graph(client, "/static/editor.js")
    assert "/promotion-codes`" in editor["/static/editor.js"]
    # The start page gets the same links by role as the other pages.
    start = await module_graph(client, "/static/app.js")
    assert "/static/nav.js" in start
    assert "showAccountLinks(user)" in start["/static/app.js"]
    buy = (await module_graph(client, COURSE_SCRIPT))["/static/course-buy.js"]
    assert "Have a promotion code? Enter it on the payment page." in buy
    codes = (await module_graph(client, "/static/promotion-codes.js"))["/static/promotion-codes.js"]
    assert "window.confirm(" in codes  # stopping a code asks first
    orders = (await module_graph(client, "/static/orders.js"))["/static/orders.js"]
    assert "order.discount_cents" in orders
    assert "order.promotion_code" in orders


async def test_unknown_promotion_code_paths_are_not_found(client: AppClient) -> None:
    assert (await client.get(f"/teach/courses/{GRADING_ID}/promotion-codes/x")).status == 404
    assert (await client.get("/admin/promotion-codes/x")).status == 404
    assert (await client.get("/teach/courses/promotion-codes")).status == 404
