"""Browser tests: a real ``seminar serve`` process and Debian's Chromium driven by Playwright.

Playwright cannot download its own browsers here; it drives the system Chromium
(``apt-get install chromium``: ``/usr/bin/chromium``, or ``SEMINAR_TEST_CHROMIUM``). Without it
these tests skip, and fail instead when ``SEMINAR_TEST_REQUIRE_SERVICES=1`` (CI).

The server runs against the session's scratch database (migrated, shared with the other tests),
so what a browser test creates is committed: tests use unique email addresses and delete their
users and mail afterwards (``cleanup_accounts``). Without ``SEMINAR_SMTP_HOST`` the server only
queues mail in ``mail_outbox``, where tests read the links it would have sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Request,
    async_playwright,
)
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import User
from lms_core.mail.models import OutboxMessage
from tests.conftest import REQUIRE_SERVICES

CHROMIUM = os.environ.get("SEMINAR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often give /dev/shm only 64 MB
]
SCREENSHOTS = Path(os.environ.get("SEMINAR_TEST_SCREENSHOTS", "/tmp/seminar-e2e"))
# Reported to the page by the init script below; CSP violations never reach the console
# otherwise when the blocked thing is not a script.
_CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""
# Chromium logs every HTTP error answer to fetch() as a console error. The API answering
# 401 (not signed in, wrong password) or 410 (a used link) is expected; a test expecting another
# error answer from the API says so (PageProblems.expected_api_errors); anything else fails.
_HTTP_ERROR = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (SEMINAR_TEST_REQUIRE_SERVICES=1: browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(
            f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` "
            "(or point SEMINAR_TEST_CHROMIUM at one) to run the browser tests"
        )
    return CHROMIUM


# --------------------------------------------------------------------------- the server


@dataclass
class LiveServer:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _seminar_command() -> list[str]:
    """The venv's ``seminar`` script; without one (not installed), the CLI from this checkout."""
    script = Path(sys.executable).with_name("seminar")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from server.cli import main; main()"]


REPO = Path(__file__).resolve().parents[2]


def _wait_ready(server: LiveServer, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"seminar serve exited with {server.process.returncode}:\n{server.log_text()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/readyz", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"seminar serve did not become ready:\n{server.log_text()}")


@contextlib.contextmanager
def running_server(
    database_url: str,
    work: Path,
    *,
    run_workers: bool = False,
    log_level: str = "DEBUG",
    extra_env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """``seminar serve`` on a free port in ``work``, against the scratch database, mail held in
    the outbox; with ``run_workers`` it runs the background jobs (e.g. transcoding) itself;
    ``extra_env`` is added to its environment last (e.g. ``{"SEMINAR_SFU_WORKERS": "2"}``)."""
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SEMINAR_") and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env |= {
        "DATABASE_URL": database_url,
        "SEMINAR_SECRET_KEY": secrets.token_urlsafe(32),
        "SEMINAR_DATA_DIR": str(work / "data"),
        "SEMINAR_RUN_WORKERS": "true" if run_workers else "false",
        "SEMINAR_LOG_FORMAT": "json",
        "SEMINAR_LOG_LEVEL": log_level,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p),
    }
    env |= extra_env or {}
    log = work / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_seminar_command(), "serve", "--port", str(port)],
            env=env,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=f"http://127.0.0.1:{port}", log=log, process=process)
    try:
        _wait_ready(server, time.monotonic() + 30)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``seminar serve`` on a free port, against the scratch database, mail held in the outbox."""
    with running_server(database_url, tmp_path_factory.mktemp("live-server")) as server:
        yield server


# --------------------------------------------------------------------------- accounts and mail


@dataclass
class Accounts:
    """Unique email addresses for a test, their mail, and their deletion afterwards."""

    database_url: str
    emails: list[str] = field(default_factory=list)

    def new_email(self, label: str = "e2e") -> str:
        email = f"{label}-{uuid.uuid4().hex[:12]}@example.com"
        self.emails.append(email)
        return email

    async def link(self, to: str, template: str, path: str, wait: float = 5) -> str:
        """The newest link to ``path`` in a ``template`` mail to ``to`` (waits for the mail)."""
        engine = create_async_engine(self.database_url, poolclass=NullPool)
        deadline = time.monotonic() + wait
        try:
            while True:
                async with engine.connect() as conn:
                    body = await conn.scalar(
                        select(OutboxMessage.body_text)
                        .where(OutboxMessage.to_address == to, OutboxMessage.template == template)
                        .order_by(OutboxMessage.created_at.desc())
                        .limit(1)
                    )
                if body is not None:
                    found = re.search(rf"https?://\S+{re.escape(path)}\?token=\S+", body)
                    assert found, body
                    return found.group(0)
                assert time.monotonic() < deadline, f"no {template} mail to {to}"
                await asyncio.sleep(0.1)
        finally:
            await engine.dispose()

    async def delete(self) -> None:
        if not self.emails:
            return
        engine = create_async_engine(self.database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                # Sessions, access tokens and one-time tokens go with the user (ON DELETE CASCADE).
                await conn.execute(delete(User).where(User.email.in_(self.emails)))
                await conn.execute(
                    delete(OutboxMessage).where(OutboxMessage.to_address.in_(self.emails))
                )
        finally:
            await engine.dispose()


@pytest_asyncio.fixture
async def accounts(database_url: str) -> AsyncIterator[Accounts]:
    made = Accounts(database_url)
    try:
        yield made
    finally:
        await made.delete()


# --------------------------------------------------------------------------- the browser


@dataclass
class PageProblems:
    """What went wrong in the page: console errors, uncaught exceptions, CSP violations."""

    errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    expected_api_errors: set[int] = field(default_factory=lambda: {401, 410})

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        url = message.location.get("url", "")
        http_error = _HTTP_ERROR.match(message.text)
        if http_error and "/api/v1/" in url and int(http_error[1]) in self.expected_api_errors:
            return
        self.errors.append(f"console.{message.type}: {message.text} ({url})")

    def on_request(self, request: Request) -> None:
        self.requests.append(request)

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error.message}\n{error.stack or ''}")


@pytest_asyncio.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture
async def context(browser: Browser, live_server: LiveServer) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=live_server.url, locale="en-US")
    ctx.set_default_timeout(10_000)
    await ctx.add_init_script(_CSP_REPORTER)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest_asyncio.fixture
async def page(
    context: BrowserContext,
    problems: PageProblems,
    screenshots: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Page]:
    """A page whose problems are collected; its last state is saved to SCREENSHOTS."""
    page = await context.new_page()
    page.on("console", problems.on_console)
    page.on("pageerror", problems.on_page_error)
    page.on("request", problems.on_request)
    yield page
    await page.screenshot(path=screenshots / f"{request.node.name}.png", full_page=True)
