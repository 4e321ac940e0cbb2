"""An SFU worker SIGKILLed mid-session: the students' video comes back by itself.

A real ``seminar serve`` with two SFU workers (``SEMINAR_SFU_WORKERS=2``); the instructor's
Chromium publishes camera and microphone, a student's Chromium decodes them. The worker that
carries the room's media (the ``python -m media.workers`` child of the server with the room's
UDP sockets; the other one has none) is killed with SIGKILL. The server tells both browsers
``media:restart`` (``worker_lost``); the instructor publishes again and the student
subscribes again on new transports, on a live worker (the supervisor also restarts the killed
one). The test waits (with a generous bound, no timing assertion) for the student's camera
video to be decoded on a new subscribe connection, ``framesDecoded`` rising, and the
microphone's packets arriving on it, and prints how long the video took.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import CHROMIUM, Accounts, _unavailable, running_server
from tests.e2e.test_live_browser import LiveWorld, enter_room
from tests.e2e.test_live_media_browser import (
    AUDIO_STATS,
    MEDIA_ARGS,
    MediaBrowsers,
    decoding,
    pressed,
    until,
    video,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

RESUME_WITHIN = 90.0


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, as for the browser tests (tests/e2e/conftest.py)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`")
    return CHROMIUM


def sfu_workers(server_pid: int) -> list[psutil.Process]:
    """The server's live SFU worker processes (``python -m media.workers``)."""
    found = []
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            if "media.workers" in " ".join(child.cmdline()) and child.status() != "zombie":
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def udp_sockets(process: psutil.Process) -> int:
    """How many UDP sockets ``process`` has open: a worker's transports (ICE) each have some."""
    try:
        return len(process.net_connections(kind="udp"))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


async def test_student_video_resumes_after_the_sfu_worker_is_killed(
    database_url: str, chromium: str, tmp_path: Path
) -> None:
    env = {"SEMINAR_SFU_WORKERS": "2"}
    accounts = Accounts(database_url)
    with running_server(database_url, tmp_path, extra_env=env, log_level="INFO") as server:
        world = LiveWorld(server, accounts, database_url)
        try:
            await world.setup(students=("sam",))
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium, headless=True, args=MEDIA_ARGS
                )
                browsers = MediaBrowsers(browser, server)
                try:
                    await run(world, browsers, server.process.pid)
                finally:
                    await browsers.close("test_live_media_worker_kill")
                    await browser.close()
        finally:
            await world.delete()
            await accounts.delete()


async def run(world: LiveWorld, browsers: MediaBrowsers, server_pid: int) -> None:
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    await teacher.get_by_role("button", name="Camera", exact=True).click()
    await teacher.get_by_role("button", name="Microphone", exact=True).click()
    await pressed(teacher, "Camera", True)
    await pressed(teacher, "Microphone", True)
    before = await decoding(student, "camera")
    stage = student.locator("#stage")
    subscribe_id = await stage.get_attribute("data-subscribe-transport")
    publish_id = await teacher.locator("#stage").get_attribute("data-publish-transport")
    assert subscribe_id
    assert publish_id

    workers = sfu_workers(server_pid)
    assert len(workers) == 2, workers
    carrying = [w for w in workers if udp_sockets(w) > 0]
    assert len(carrying) == 1, [(w.pid, udp_sockets(w)) for w in workers]
    killed = carrying[0]
    os.kill(killed.pid, signal.SIGKILL)
    t0 = time.monotonic()

    # The student's camera comes back on a new subscribe connection (a new transport id).
    resumed = await until(
        "the camera decoded on a new subscribe connection",
        lambda: video(student, "camera"),
        lambda v: v is not None and v["pc"] not in (-1, before["pc"]) and v["frames"] > 0,
        within=RESUME_WITHIN,
    )
    first_frame = time.monotonic() - t0
    assert resumed is not None
    after = await decoding(student, "camera", within=RESUME_WITHIN)
    assert after["pc"] == resumed["pc"]
    # The microphone too, on the same new connection.
    heard = await until(
        "the microphone on the new subscribe connection",
        lambda: student.evaluate(AUDIO_STATS),
        lambda a: len(a) == 1 and a[0]["pc"] == resumed["pc"] and a[0]["packets"] > 0,
        within=RESUME_WITHIN,
    )
    await until(
        "more microphone packets on the new connection",
        lambda: student.evaluate(AUDIO_STATS),
        lambda a: len(a) == 1 and a[0]["packets"] >= heard[0]["packets"] + 50,
    )
    await expect(stage).not_to_have_attribute("data-subscribe-transport", subscribe_id)
    await expect(teacher.locator("#stage")).not_to_have_attribute(
        "data-publish-transport", publish_id
    )
    print(
        f"worker {killed.pid} killed: the student's camera decoded again after "
        f"{first_frame:.1f} s ({after['frames']} frames on the new connection)"
    )
    # The supervisor restarted the killed worker in its slot.
    await until(
        "two live SFU workers again",
        lambda: _workers_without(server_pid, killed.pid),
        lambda n: n == 2,
        within=RESUME_WITHIN,
    )
    # Failed ICE checks to the dead worker may be logged; nothing else.
    assert browsers.errors() == []


async def _workers_without(server_pid: int, pid: int) -> int:
    return len([w for w in sfu_workers(server_pid) if w.pid != pid])
