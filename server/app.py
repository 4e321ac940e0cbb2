"""The application factory: ``create_app(settings)`` wires every resource, with no globals.

Each resource has its own cleanup context, started in order and closed in reverse, so a failed
start-up releases what was already opened and shutdown closes the pool after the last request.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from lms_core.accounts.config import AccountsConfig
from lms_core.accounts.passwords import PasswordHasher, PasswordPolicy, load_common_passwords
from lms_core.accounts.service import AccountService
from lms_core.courses.playback import PlaybackSigner
from lms_core.db import create_engine, create_session_factory
from lms_core.jobs import JobRegistry
from lms_core.mail.service import Mailer
from lms_core.storage import Storage
from lms_core.storage.local import LocalStorage
from server import middlewares
from server.api import (
    admin,
    assignments,
    auth,
    catalog,
    certificates,
    courses,
    enrollment,
    gradebook,
    grading,
    live,
    payments,
    payouts,
    promotions,
    question_banks,
    quizzes,
    subscriptions,
    system,
    thumbnails,
    users,
    videos,
)
from server.api.framework import Router
from server.api.pages import add_page_routes
from server.jobs import job_registry, job_runner
from server.live.app import setup_live
from server.live.presence import live_presence
from server.mail_dispatch import mail_dispatcher
from server.metrics import DbPoolCollector, HttpMetrics
from server.ratelimit import RateLimiter
from server.security_headers import add_security_headers
from server.settings import Settings
from server.sfu import sfu_workers
from server.shutdown import IN_FLIGHT, InFlight, in_flight_middleware
from server.state import (
    ACCOUNTS,
    DATABASE,
    HTTP_METRICS,
    JOB_REGISTRY,
    LIMITER,
    MAILER,
    OPENAPI,
    PLAYBACK,
    REDIS,
    REGISTRY,
    SETTINGS,
    STORAGE,
    Database,
)
from server.unit_of_work import unit_of_work_middleware

CleanupContext = Callable[[web.Application], AsyncIterator[None]]
ROUTERS: list[Router] = [
    system.router,
    auth.router,
    users.router,
    admin.router,
    courses.router,
    enrollment.router,
    catalog.router,
    videos.router,
    thumbnails.router,
    live.router,
    question_banks.router,
    quizzes.router,
    assignments.router,
    payments.router,
    promotions.router,
    subscriptions.router,
    payouts.router,
    certificates.router,
    grading.router,
    gradebook.router,
]


def static_root() -> Path:
    """The browser client: packaged beside ``server`` in a wheel, at the repo root otherwise."""
    packaged = Path(__file__).parent / "static"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "static"


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    hasher: PasswordHasher | None = None,
    jobs: JobRegistry | None = None,
) -> web.Application:
    """Build the application. ``database`` and ``hasher`` let tests inject a rolled-back
    transaction and cheap argon2 parameters, ``jobs`` job kinds of their own; production
    passes none of them.

    Without ``settings.secret_key`` (tests; the CLI always sets one) playback links are signed
    with a key made up for this process, valid until it stops.
    """
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            in_flight_middleware,
            middlewares.errors_middleware,
            middlewares.body_limit_middleware,
            unit_of_work_middleware,
            middlewares.auth_middleware,
            middlewares.csrf_middleware,
        ],
    )
    app[SETTINGS] = settings
    app[IN_FLIGHT] = InFlight()
    app[MAILER] = Mailer(sender=settings.mail_from, deliver=settings.smtp_host is not None)
    secret = settings.secret_key.get_secret_value() if settings.secret_key else os.urandom(32)
    app[PLAYBACK] = PlaybackSigner(secret)
    registry = CollectorRegistry(auto_describe=True)
    app[REGISTRY] = registry
    app[HTTP_METRICS] = HttpMetrics(registry)
    registry.register(DbPoolCollector(lambda: app[DATABASE].engine if DATABASE in app else None))

    app.cleanup_ctx.append(_database(database))
    if settings.redis_url is not None:
        app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_rate_limiter)
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_job_registry(jobs))
    app.cleanup_ctx.append(_accounts(hasher or PasswordHasher()))
    app.cleanup_ctx.append(payments.payments_context)  # the Stripe client, when configured
    app.cleanup_ctx.append(sfu_workers)  # media worker processes, started and supervised
    if settings.workers_in_process:
        app.cleanup_ctx.append(mail_dispatcher)
        app.cleanup_ctx.append(job_runner)

    for router in ROUTERS:
        router.mount(app)
    app[OPENAPI] = system.openapi_document(app, ROUTERS)
    setup_live(app)  # the /live Socket.IO namespace at /socket.io/
    app.cleanup_ctx.append(live_presence())  # this node's heartbeat; sweeps dead nodes' presence
    app.router.add_get("/api/docs", system.api_docs)
    static = static_root()
    app.router.add_static("/static", static, append_version=False)
    app.router.add_get("/", _index)
    add_page_routes(app, static)
    app.on_response_prepare.append(add_security_headers)
    return app


async def _index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/static/index.html")


def _database(given: Database | None) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        if given is not None:
            app[DATABASE] = given
            yield
            return
        assert settings.database_url is not None, "resolve the embedded database before create_app"
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        app[DATABASE] = Database(engine=engine, sessions=create_session_factory(engine))
        yield
        await engine.dispose()

    return ctx


async def _redis(app: web.Application) -> AsyncIterator[None]:
    url = app[SETTINGS].redis_url
    assert url is not None
    client: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    app[REDIS] = client
    yield
    await client.aclose()


async def _rate_limiter(app: web.Application) -> AsyncIterator[None]:
    limiter = RateLimiter.create(app[SETTINGS].redis_url)
    app[LIMITER] = limiter
    yield
    await limiter.close()


async def _storage(app: web.Application) -> AsyncIterator[None]:
    storage = await open_storage(app[SETTINGS])
    app[STORAGE] = storage
    yield
    await storage.close()


def _job_registry(given: JobRegistry | None) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        # After storage: job handlers (e.g. transcoding) read and write files.
        app[JOB_REGISTRY] = (
            given if given is not None else job_registry(app[SETTINGS], app[STORAGE])
        )
        yield

    return ctx


async def open_storage(settings: Settings) -> Storage:
    """The configured file store: S3 (``SEMINAR_STORAGE=s3``) or ``DATA_DIR/files``."""
    if settings.storage == "s3":
        return await asyncio.to_thread(_connect_s3, settings)
    local = LocalStorage(settings.data_dir / "files")
    await asyncio.to_thread(local.remove_stale_temp_files)
    return local


def _connect_s3(settings: Settings) -> Storage:
    # boto3 costs ~0.7 s and ~30 MiB to import, so only installations using S3 import it; the
    # import and the client's data files are read here, in a thread, off the event loop.
    from lms_core.storage.s3 import S3Storage

    assert settings.s3_bucket is not None  # Settings refuses s3 without a bucket
    secret = settings.s3_secret_access_key
    return S3Storage.connect(
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
    )


def _accounts(hasher: PasswordHasher) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        common = await asyncio.to_thread(load_common_passwords)
        config = AccountsConfig(
            session_idle_timeout=timedelta(minutes=settings.session_idle_minutes),
            session_absolute_timeout=timedelta(days=settings.session_absolute_days),
            public_url=settings.base_url,
        )
        app[ACCOUNTS] = AccountService(config, hasher, PasswordPolicy(common), app[MAILER])
        yield

    return ctx
