"""The background loop that delivers the mail outbox over SMTP (when SMTP is configured)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from lms_core.mail.service import Mailer, MailTransport, deliver_pending
from lms_core.mail.smtp import SmtpConfig, SmtpTransport
from server.settings import Settings
from server.state import DATABASE, MAILER, SETTINGS, Database

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if settings.smtp_host is None:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        security=settings.smtp_security,
    )


async def run_mail_dispatcher(
    database: Database, mailer: Mailer, transport: MailTransport, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await deliver_pending(database.sessions, mailer, transport)
        except Exception:
            log.exception("mail dispatcher iteration failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)


async def mail_dispatcher(app: web.Application) -> AsyncIterator[None]:
    config = smtp_config(app[SETTINGS])
    if config is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_mail_dispatcher(app[DATABASE], app[MAILER], SmtpTransport(config), stop)
    )
    yield
    stop.set()
    await task
