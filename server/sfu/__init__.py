"""The SFU workers of ``seminar serve``: one cleanup context that starts the local ones with
the app (``media.workers.supervisor``), connects to the remote ones
(``media.workers.remote``), and stops both with it.

``app[SFU_WORKERS]`` is the :class:`~media.workers.supervisor.WorkerSupervisor`. The control
plane (``server/sfu/plane.py``, ``app[MEDIA_PLANE]``) is attached to both pools: it places
rooms on their workers by load and hears their events and losses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from media.workers.remote import RemoteAddress, RemoteConfig, RemoteWorkers
from media.workers.supervisor import SupervisorConfig, WorkerSupervisor
from server.sfu.plane import MEDIA_PLANE
from server.sfu.relay import SIGNAL_RELAY
from server.state import SETTINGS, SFU_WORKERS


async def sfu_workers(app: web.Application) -> AsyncIterator[None]:
    """Start ``SEMINAR_SFU_WORKERS`` workers (none with 0) and connect to the
    ``SEMINAR_SFU_REMOTE_WORKERS``; stop them at shutdown, SIGKILLing any local one still
    running after ``SEMINAR_SHUTDOWN_TIMEOUT``."""
    settings = app[SETTINGS]
    supervisor = WorkerSupervisor(
        SupervisorConfig(
            count=settings.sfu_worker_count,
            capacity=settings.sfu_worker_capacity,
            stop_timeout=settings.shutdown_timeout,
            log_level=settings.log_level,
            log_format=settings.log_format,
        )
    )
    app[SFU_WORKERS] = supervisor
    plane = app.get(MEDIA_PLANE)
    if plane is not None:  # the /live namespace's media signalling drives the workers
        plane.attach(supervisor)
    remote = RemoteWorkers(
        RemoteConfig(
            addresses=[RemoteAddress.parse(a) for a in settings.sfu_remote_workers],
            token=settings.sfu_control_token.get_secret_value()
            if settings.sfu_control_token
            else None,
        )
    )
    if plane is not None and settings.sfu_remote_workers:
        plane.attach(remote)
    relay = app.get(SIGNAL_RELAY)
    await supervisor.start()
    await remote.start()
    if relay is not None:
        await relay.start()
    yield
    if relay is not None:
        await relay.stop()
    await remote.stop()
    await supervisor.stop()
    if plane is not None:
        await plane.close()
