"""What a webhook handler gets: the transaction, the Stripe gateway, the settings, the mailer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.mail.service import Mailer
from lms_core.payments.gateway import PaymentsConfig, StripeGateway
from lms_core.payments.models import Order


@dataclass(frozen=True, slots=True)
class Context:
    session: AsyncSession
    gateway: StripeGateway
    config: PaymentsConfig
    mailer: Mailer


# A handler gets the event's ``data.object`` (a snapshot: re-fetch state, never trust it) and
# returns the order it concerned, if any, which the stored event then names.
Handler = Callable[[Context, Mapping[str, Any]], Awaitable[Order | None]]
