"""A real SMTP server for tests: aiosmtpd's protocol served on 127.0.0.1 inside the test's loop.

``async with local_smtp_server() as smtp`` listens on a free port (``smtp.port``) and collects
every accepted message in ``smtp.messages``. It speaks real SMTP over TCP, so the project's
``SmtpTransport`` (aiosmtplib) is exercised end to end. Knobs for failure tests:

- ``smtp.reject_data = "451 ..."`` answers DATA with that reply instead of accepting;
- ``smtp.reject_recipients`` holds addresses refused at RCPT TO (550, no such user);
- ``smtp.hold_until(n)`` keeps the first ``n`` DATA commands waiting until ``n`` of them are in
  flight at once, which proves that many senders are delivering concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def body(self) -> str:
        """The text/plain body, with the wire's CRLF line ends turned back into LF."""
        part = self.message.get_body(preferencelist=("plain",))
        assert isinstance(part, EmailMessage)
        content = part.get_content()
        assert isinstance(content, str)
        return content.replace("\r\n", "\n")  # SMTP carries CRLF line ends


class LocalSmtpServer:
    """The aiosmtpd handler plus what the tests look at."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[ReceivedMail] = []
        self.reject_data: str | None = None
        self.reject_recipients: set[str] = set()
        self.data_commands = 0  # every DATA received, accepted or not
        self._changed = asyncio.Condition()
        self._gate: asyncio.Barrier | None = None
        self._gate_left = 0

    def hold_until(self, parties: int) -> None:
        self._gate = asyncio.Barrier(parties)
        self._gate_left = parties

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.reject_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        if self._gate is not None and self._gate_left > 0:
            self._gate_left -= 1
            try:
                await asyncio.wait_for(self._gate.wait(), 10)
            except TimeoutError:
                return "451 4.3.0 held message timed out waiting for a concurrent one"
        if self.reject_data is not None:
            return self.reject_data
        content = envelope.content
        assert isinstance(content, bytes)
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        async with self._changed:
            self.messages.append(
                ReceivedMail(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(str(r) for r in envelope.rcpt_tos),
                    message=parsed,
                )
            )
            self._changed.notify_all()
        return "250 2.0.0 Message accepted for delivery"

    async def wait_for_mail(
        self, predicate: Callable[[ReceivedMail], bool], within: float = 15.0
    ) -> ReceivedMail:
        """Wait until a message matching ``predicate`` has arrived; return the first one."""

        def matching() -> list[ReceivedMail]:
            return [m for m in self.messages if predicate(m)]

        async def arrived() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(matching()))

        try:
            await asyncio.wait_for(arrived(), within)
        except TimeoutError:
            raise AssertionError(
                f"no matching message within {within}s; got {len(self.messages)} other(s)"
            ) from None
        return matching()[0]

    async def wait_for(self, count: int, within: float = 15.0) -> list[ReceivedMail]:
        """Wait until at least ``count`` messages have arrived; return them all."""

        async def arrived() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.messages) >= count)

        try:
            await asyncio.wait_for(arrived(), within)
        except TimeoutError:
            raise AssertionError(
                f"expected {count} message(s) within {within}s, got {len(self.messages)}"
            ) from None
        return list(self.messages)

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address in m.rcpt_tos]


@contextlib.asynccontextmanager
async def local_smtp_server() -> AsyncIterator[LocalSmtpServer]:
    loop = asyncio.get_running_loop()
    smtp = LocalSmtpServer()
    # A fixed hostname: the default would call socket.getfqdn() on the loop.
    server = await loop.create_server(
        lambda: SMTP(smtp, hostname="smtp.test", loop=loop), smtp.host, 0
    )
    smtp.port = server.sockets[0].getsockname()[1]
    try:
        yield smtp
    finally:
        server.close()
        await server.wait_closed()


async def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port
