"""The SMTP transport (aiosmtplib)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    # "starttls" (port 587), "tls" (implicit TLS, port 465) or "none" (local relays, tests).
    security: str = "starttls"
    timeout: float = 30.0


class SmtpTransport:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: EmailMessage) -> None:
        c = self._config
        await aiosmtplib.send(
            message,
            hostname=c.host,
            port=c.port,
            username=c.username,
            password=c.password,
            use_tls=c.security == "tls",
            start_tls=c.security == "starttls",
            timeout=c.timeout,
        )
