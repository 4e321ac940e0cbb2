"""The one way Seminar builds a Stripe API client: the ``stripe`` library's ``StripeClient`` over
its aiohttp HTTP client (so no call blocks the event loop), closed when the block ends.

The server builds one for its lifetime (``server.api.payments.payments_context``); a payout job
builds one per run (``server.jobs.open_connect``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import stripe

from server.settings import Settings


@asynccontextmanager
async def stripe_client(settings: Settings) -> AsyncIterator[stripe.StripeClient]:
    """A client for ``settings``' secret key (which must be set) and API address."""
    assert settings.stripe_secret_key is not None
    # Otherwise the library writes an id file under ~/.config/stripe and reads the platform's
    # description on a request, blocking the event loop (and sending both to Stripe).
    stripe.enable_telemetry = False
    # Loading the CA bundle reads a file: off the event loop.
    context = await asyncio.to_thread(ssl.create_default_context, cafile=stripe.ca_bundle_path)
    http = stripe.AIOHTTPClient(
        timeout=aiohttp.ClientTimeout(total=settings.stripe_timeout),
        connector=aiohttp.TCPConnector(ssl=context),
    )
    try:
        yield stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
            http_client=http,
            max_network_retries=settings.stripe_max_network_retries,
        )
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
