"""The SFU workers inside ``seminar serve``: one cleanup context that starts them with the app
and stops them with it (``media.workers.supervisor`` does the work).

``app[SFU_WORKERS]`` is the :class:`~media.workers.supervisor.WorkerSupervisor`: the control
plane picks a worker for a room with ``.pick()``, drives it through ``.worker(id).client``, and
appends to ``.on_worker_lost`` the hook that tells a lost worker's participants to reconnect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from media.workers.supervisor import SupervisorConfig, WorkerSupervisor
from server.state import SETTINGS, SFU_WORKERS


async def sfu_workers(app: web.Application) -> AsyncIterator[None]:
    """Start ``SEMINAR_SFU_WORKERS`` workers (none with 0); stop them at shutdown, SIGKILLing
    any still running after ``SEMINAR_SHUTDOWN_TIMEOUT``."""
    settings = app[SETTINGS]
    supervisor = WorkerSupervisor(
        SupervisorConfig(
            count=settings.sfu_worker_count,
            stop_timeout=settings.shutdown_timeout,
            log_level=settings.log_level,
            log_format=settings.log_format,
        )
    )
    app[SFU_WORKERS] = supervisor
    await supervisor.start()
    yield
    await supervisor.stop()
