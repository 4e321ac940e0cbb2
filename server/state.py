"""Typed application and request state (``web.AppKey`` / ``web.RequestKey``): no module globals."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.service import AccountService
from lms_core.accounts.sessions import Actor
from lms_core.courses.playback import PlaybackSigner
from lms_core.db import SessionFactory
from lms_core.jobs import JobRegistry
from lms_core.mail.service import Mailer
from lms_core.storage import Storage
from media.workers.supervisor import WorkerSupervisor
from server.metrics import HttpMetrics
from server.ratelimit import RateLimiter
from server.settings import Settings


@dataclass(slots=True)
class Database:
    engine: AsyncEngine
    sessions: SessionFactory


SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
ACCOUNTS = web.AppKey("accounts", AccountService)
MAILER = web.AppKey("mailer", Mailer)
LIMITER = web.AppKey("limiter", RateLimiter)
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
HTTP_METRICS = web.AppKey("http_metrics", HttpMetrics)
REDIS = web.AppKey("redis", Redis)  # present only when REDIS_URL is set
JOB_REGISTRY = web.AppKey("job_registry", JobRegistry)
STORAGE: web.AppKey[Storage] = web.AppKey("storage")  # a Protocol: no runtime class to name
PLAYBACK = web.AppKey("playback_signer", PlaybackSigner)
SFU_WORKERS = web.AppKey("sfu_workers", WorkerSupervisor)  # server/sfu: media worker processes

REQUEST_ID = web.RequestKey("request_id", str)
DB_SESSION = web.RequestKey("db_session", AsyncSession)
# Callbacks run after the request's transaction commits / rolls back (server/unit_of_work.py).
AFTER_COMMIT = web.RequestKey("after_commit", list)
AFTER_ROLLBACK = web.RequestKey("after_rollback", list)
ACTOR = web.RequestKey("actor", Actor)
# Why an attached credential was rejected (e.g. "session_expired"), reported if a route needs auth.
AUTH_FAILURE = web.RequestKey("auth_failure", Exception)
VIA_COOKIE = web.RequestKey("via_cookie", bool)
RESPONSE_STATUS = web.RequestKey("response_status", int)
OPENAPI = web.AppKey("openapi", dict)
