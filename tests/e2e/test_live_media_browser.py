"""Camera, microphone and screen share in real browsers through a real ``seminar serve`` and
its SFU worker: Chromium's fake camera and microphone (``--use-fake-device-for-media-stream``)
and its screen capture, picked without a dialog (``--auto-select-desktop-capture-source``).

The instructor's browser publishes camera, microphone and screen; a student's browser decodes
them (the video elements have a size, ``framesDecoded`` of the subscribe connection's
inbound video rises, inbound audio packets arrive); a student joining late gets the video
(the time to the first frame is printed, not asserted); the instructor's camera going off
shows the student an avatar, the end of the screen share takes it off the student's stage; an
attendee has no publish controls and a ``media:publish`` forced through the socket is refused
with ``publish_forbidden``. Also: a promoted presenter (microphone first, a device switch,
demotion), a second tab taking over, the session's end letting everything go, and the
restarts: Socket.IO reconnects, the browser's ``online`` event, and ICE reported failed or
disconnected for over 5 s (reported by overriding the connection's ``iceConnectionState``:
the path to the SFU cannot be cut on loopback without root).

Every RTCPeerConnection a page makes is recorded by an init script (``window.__pcs``), so the
test reads the statistics of the connection whose track a tile shows.
"""

from __future__ import annotations

import asyncio
import math
import re
import struct
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, Accounts, LiveServer, PageProblems, running_server
from tests.e2e.test_live_browser import PASSWORD, Browsers, LiveWorld, enter_room

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MEDIA_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
]
AV = ["camera", "microphone"]
WAIT = 30.0

# Records every RTCPeerConnection of the page (the room's modules make them).
PC_RECORDER = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || Native.recorded) return;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    static recorded = true;
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
})();
"""

# Chromium lets these pages start sound without a click (a navigation the browser makes, as
# Playwright's goto, counts as the user's activation, whatever --autoplay-policy says); this
# makes an audio element's play() refuse until a click on the page, as a browser does after
# a navigation by script or a link.
STRICT_AUTOPLAY = """
(() => {
  const play = HTMLMediaElement.prototype.play;
  let clicked = false;
  addEventListener("click", (e) => { if (e.isTrusted) clicked = true; }, true);
  HTMLMediaElement.prototype.play = function () {
    if (this instanceof HTMLAudioElement && !clicked) {
      return Promise.reject(new DOMException("play() needs a click first", "NotAllowedError"));
    }
    return play.call(this);
  };
})();
"""

# What the stage shows of another's ``kind`` track, and the statistics of the inbound RTP
# stream that feeds it: {pc (index in __pcs), frames, width, height, state, muted}.
VIDEO_STATS = """async (kind) => {
  const tile = document.querySelector(
    `#stage .stage-tile[data-kind="${kind}"][data-local="false"]`);
  if (!tile) return null;
  const video = tile.querySelector("video");
  const out = { pc: -1, frames: 0, width: video.videoWidth, height: video.videoHeight,
                state: tile.dataset.state, muted: tile.dataset.muted,
                main: tile.parentElement.id === "stage-main" };
  const track = video.srcObject && video.srcObject.getVideoTracks()[0];
  if (!track) return out;
  for (const [n, pc] of (window.__pcs || []).entries()) {
    if (pc.connectionState === "closed") continue;
    const stats = await pc.getStats();
    for (const s of stats.values()) {
      if (s.type === "inbound-rtp" && s.trackIdentifier === track.id) {
        return { ...out, pc: n, frames: s.framesDecoded || 0, track: track.id };
      }
    }
  }
  return out;
}"""

# What the page sends: per outbound video stream, bytes sent and the frame size (recorded).
SENT_VIDEO = """async () => {
  const out = [];
  for (const pc of window.__pcs || []) {
    if (pc.connectionState === "closed") continue;
    for (const s of (await pc.getStats()).values()) {
      if (s.type === "outbound-rtp" && s.kind === "video") {
        out.push({ bytes: s.bytesSent || 0, width: s.frameWidth || 0, height: s.frameHeight || 0,
                   limited: s.qualityLimitationReason || "" });
      }
    }
  }
  return out;
}"""

# The microphones the page plays: [{pc, packets, state}] from its audio elements.
AUDIO_STATS = """async () => {
  const out = [];
  for (const audio of document.querySelectorAll("#media-audio audio")) {
    const track = audio.srcObject && audio.srcObject.getAudioTracks()[0];
    let found = { pc: -1, packets: 0 };
    for (const [n, pc] of (window.__pcs || []).entries()) {
      if (!track || pc.connectionState === "closed") continue;
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.type === "inbound-rtp" && s.trackIdentifier === track.id) {
          found = { pc: n, packets: s.packetsReceived || 0 };
        }
      }
    }
    out.push({ ...found, state: audio.dataset.state || "", paused: audio.paused });
  }
  return out;
}"""

T = TypeVar("T")


async def until(
    what: str, probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], within: float = WAIT
) -> T:
    """Polls ``probe`` until ``check`` holds for its value; fails with the last value."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if check(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within:.0f} s; last seen {value!r}")
        await asyncio.sleep(0.25)


async def video(page: Page, kind: str) -> dict[str, Any] | None:
    stats: dict[str, Any] | None = await page.evaluate(VIDEO_STATS, kind)
    return stats


async def decoding(page: Page, kind: str, frames: int = 10, within: float = WAIT) -> dict[str, Any]:
    """Waits until the page shows another's ``kind`` video with a size and ``framesDecoded``
    rising by ``frames`` on one connection; returns the last reading."""
    first = await until(
        f"a decoded {kind} frame",
        lambda: video(page, kind),
        lambda v: v is not None and v["pc"] >= 0 and v["frames"] > 0 and v["width"] > 0,
        within,
    )
    assert first is not None
    last = await until(
        f"{kind} frames decoded after {first}",
        lambda: video(page, kind),
        lambda v: (
            v is not None and v["pc"] == first["pc"] and v["frames"] >= first["frames"] + frames
        ),
        within,
    )
    assert last is not None
    return last


async def hearing(page: Page, packets: int = 50) -> list[dict[str, Any]]:
    """Waits until the page plays one microphone whose inbound packets keep arriving."""
    first = await until(
        "inbound microphone packets",
        lambda: page.evaluate(AUDIO_STATS),
        lambda a: len(a) == 1 and a[0]["packets"] > 0,
    )
    return await until(
        "more microphone packets",
        lambda: page.evaluate(AUDIO_STATS),
        lambda a: len(a) == 1 and a[0]["packets"] >= first[0]["packets"] + packets,
    )


@pytest.fixture(scope="module")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``seminar serve`` with one SFU worker (the machine's cores are shared)."""
    with running_server(
        database_url,
        tmp_path_factory.mktemp("media-server"),
        extra_env={"SEMINAR_SFU_WORKERS": "1"},
    ) as server:
        yield server


def tone_wav(path: Path, seconds: float = 5.0, hz: float = 440.0) -> Path:
    """A steady tone at about -12 dBFS (the fake microphone's own beep is too short to make
    anyone the active speaker); Chromium loops the file."""
    rate = 48_000
    amplitude = 0.25 * 32767
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * hz * n / rate)))
        for n in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


@pytest_asyncio.fixture
async def media_browser(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Browser]:
    tone = tone_wav(tmp_path_factory.mktemp("media") / "tone.wav")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[*MEDIA_ARGS, f"--use-file-for-fake-audio-capture={tone}"],
        )
        try:
            yield launched
        finally:
            await launched.close()


class MediaBrowsers(Browsers):
    """Browsers whose contexts may use the (fake) camera and microphone, pages recording
    their RTCPeerConnections."""

    async def open(
        self, label: str, viewport: dict[str, int] | None = None, **options: Any
    ) -> Page:
        page = await super().open(label, viewport, permissions=AV, **options)
        await page.context.add_init_script(PC_RECORDER)
        return page


@pytest_asyncio.fixture
async def world(
    live_server: LiveServer, accounts: Accounts, database_url: str
) -> AsyncIterator[LiveWorld]:
    made = LiveWorld(live_server, accounts, database_url)
    try:
        yield made
    finally:
        await made.delete()


@pytest_asyncio.fixture
async def browsers(
    media_browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> AsyncIterator[MediaBrowsers]:
    made = MediaBrowsers(media_browser, live_server)
    try:
        yield made
    finally:
        await made.close(request.node.name)


async def pressed(page: Page, name: str, value: bool) -> None:
    await expect(page.get_by_role("button", name=name, exact=True)).to_have_attribute(
        "aria-pressed", "true" if value else "false"
    )


async def present(teacher: Page) -> None:
    """Camera and microphone (by keyboard), then the screen."""
    await expect(teacher.locator("#media-controls")).to_be_visible()
    await teacher.get_by_role("button", name="Camera", exact=True).click()
    await pressed(teacher, "Camera", True)
    await teacher.get_by_role("button", name="Microphone", exact=True).focus()
    await teacher.keyboard.press("Enter")
    await pressed(teacher, "Microphone", True)
    await teacher.get_by_role("button", name="Share screen", exact=True).click()
    await pressed(teacher, "Share screen", True)
    # Our own preview is on our stage; the server has named the publish transport.
    await expect(teacher.locator('#stage .stage-tile[data-local="true"]')).to_have_count(2)
    await expect(teacher.locator("#stage")).to_have_attribute(
        "data-publish-transport", re.compile(r"^[0-9a-f-]{36}$")
    )


async def enter_room_untouched(page: Page, world: LiveWorld, label: str) -> None:
    """Into the room signed in through the API: the page never had a click (so the browser
    does not let it start sound by itself)."""
    resp = await page.request.post(
        "/api/v1/auth/login",
        data={"email": world.people[label].email, "password": PASSWORD},
        headers={"Origin": world.server.url},
    )
    assert resp.status == 200, await resp.text()
    await page.goto(f"/live/{world.live_id}")
    await expect(page.locator("#room-status")).to_have_attribute("data-state", "connected")


async def enable_sound(page: Page) -> None:
    """Clicks "Click to enable sound" if the browser refused to autoplay."""
    button = page.get_by_role("button", name="Click to enable sound")
    if await button.is_visible():
        await button.click()
        await expect(button).to_be_hidden()


# --------------------------------------------------------------------------- the tests


async def test_instructor_camera_microphone_and_screen_reach_the_students(
    world: LiveWorld, browsers: MediaBrowsers
) -> None:
    await world.setup(students=("sam", "lee"))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    teacher_id = world.people["teacher"].id

    # The student is an attendee: no publish controls.
    await expect(student.locator("#media-controls")).to_be_hidden()
    await expect(student.locator("#stage-empty")).to_be_visible()

    await present(teacher)

    # The student decodes the camera and the screen and receives the microphone.
    camera = await decoding(student, "camera")
    screen = await decoding(student, "screen")
    assert camera["pc"] == screen["pc"]  # one subscribe transport carries everything
    assert screen["main"] is True  # the screen share is the big picture
    assert camera["muted"] == "false"
    await enable_sound(student)
    audio = await hearing(student)
    assert audio[0]["pc"] == camera["pc"]
    tile = student.locator(f'#stage .stage-tile[data-kind="camera"][data-user-id="{teacher_id}"]')
    await expect(tile).to_have_attribute("data-state", "playing")
    # The (fake) microphone plays a tone: the instructor is the active speaker (media:speaker).
    await until(
        "the instructor's camera marked as the speaker",
        lambda: tile.get_attribute("data-speaking"),
        lambda speaking: speaking == "true",
    )
    await expect(student.locator("#media-quality-sub")).to_have_attribute(
        "data-quality", re.compile("^(good|fair|poor)$")
    )
    await expect(student.locator("#media-quality-sub")).to_contain_text("Receiving:")
    # Recorded, not asserted: what the instructor's camera and screen send after the SFU's
    # REMB (media/sfu/publication.py's cap) has had a few seconds to raise them.
    before = await teacher.evaluate(SENT_VIDEO)
    await asyncio.sleep(5)
    after = await teacher.evaluate(SENT_VIDEO)
    for old, new in zip(before, after, strict=False):
        rate = (new["bytes"] - old["bytes"]) * 8 / 5 / 1000
        print(
            f"instructor video: {rate:.0f} kbit/s at {new['width']}x{new['height']}"
            f" (limited by: {new['limited'] or 'nothing'})"
        )

    # A late joiner, at phone width: the video within a reasonable time (recorded only).
    late = await browsers.open(
        "lee", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    await late.context.add_init_script(STRICT_AUTOPLAY)
    started = time.monotonic()
    await enter_room_untouched(late, world, "lee")
    joined = time.monotonic()
    late_camera = await until(
        "the late joiner's first camera frame",
        lambda: video(late, "camera"),
        lambda v: v is not None and v["frames"] > 0 and v["width"] > 0,
    )
    assert late_camera is not None
    first_frame = time.monotonic()
    print(
        f"late joiner: room connected after {joined - started:.2f} s, first camera frame "
        f"{first_frame - joined:.2f} s after that ({first_frame - started:.2f} s from opening "
        f"the room; {late_camera['width']}x{late_camera['height']})"
    )
    await decoding(late, "camera")
    await decoding(late, "screen")
    # Its sound waited for a click: the button starts it.
    sound = late.get_by_role("button", name="Click to enable sound")
    await expect(sound).to_be_visible()
    await expect(late.locator("#media-audio audio")).to_have_attribute("data-state", "blocked")
    await sound.click()
    await expect(sound).to_be_hidden()
    await expect(late.locator("#media-audio audio")).to_have_attribute("data-state", "playing")
    await hearing(late)
    overflow = await late.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, overflow

    # The camera off: the students see the avatar and the name instead of the video.
    await teacher.get_by_role("button", name="Camera", exact=True).click()
    await pressed(teacher, "Camera", False)
    await expect(tile).to_have_attribute("data-muted", "true")
    await expect(tile.locator("video")).to_be_hidden()
    await expect(tile.locator(".stage-avatar")).to_be_visible()
    await expect(tile).to_contain_text("Tess Teacher")
    await expect(tile).to_contain_text("Camera off")
    # And back on.
    await teacher.get_by_role("button", name="Camera", exact=True).click()
    await expect(tile).to_have_attribute("data-muted", "false")
    await expect(tile.locator("video")).to_be_visible()
    await decoding(student, "camera")

    # The screen share stops: it leaves the students' stage, the camera goes big.
    await teacher.get_by_role("button", name="Share screen", exact=True).click()
    await pressed(teacher, "Share screen", False)
    for page in (student, late):
        await expect(page.locator('#stage .stage-tile[data-kind="screen"]')).to_have_count(0)
        await expect(page.locator('#stage-main .stage-tile[data-kind="camera"]')).to_have_count(1)
    await decoding(student, "camera")

    # Stop presenting: every track leaves the stage.
    await teacher.get_by_role("button", name="Stop presenting").click()
    await expect(student.locator("#stage .stage-tile")).to_have_count(0)
    await expect(student.locator("#stage-empty")).to_be_visible()
    await expect(teacher.locator("#stage .stage-tile")).to_have_count(0)

    assert browsers.errors() == []


async def test_an_attendee_cannot_publish(world: LiveWorld, browsers: MediaBrowsers) -> None:
    await world.setup(students=("sam",))
    student = await browsers.open("sam")
    await enter_room(student, world, "sam")
    await expect(student.locator("#media-controls")).to_be_hidden()
    for name in ("Camera", "Microphone", "Share screen", "Devices"):
        await expect(student.get_by_role("button", name=name, exact=True)).to_have_count(0)

    # Forced through a socket of their own (the same user, cookie auth) with a real offer.
    ack = await student.evaluate(
        """async (liveId) => {
          const { io } = await import("/static/vendor/socket.io-client/socket.io.esm.min.js");
          const socket = io("/live", {
            transports: ["websocket"], auth: { live_session_id: liveId } });
          await new Promise((resolve, reject) => {
            socket.on("connect", resolve);
            socket.on("connect_error", reject);
          });
          const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
          const pc = new RTCPeerConnection();
          const tx = stream.getTracks().map(
            (t) => pc.addTransceiver(t, { direction: "sendonly" }));
          await pc.setLocalDescription(await pc.createOffer());
          const tracks = tx.map((t) => ({
            mid: t.mid, kind: t.sender.track.kind === "video" ? "camera" : "microphone" }));
          const ack = await socket.timeout(10000).emitWithAck(
            "media:publish", { sdp: pc.localDescription.sdp, tracks });
          pc.close();
          stream.getTracks().forEach((t) => t.stop());
          socket.close();
          return ack;
        }""",
        world.live_id,
    )
    assert ack["ok"] is False, ack
    assert ack["problem"]["code"] == "publish_forbidden"
    assert ack["problem"]["status"] == 403
    assert browsers.errors() == []


async def sender_device(page: Page, kind: str) -> str | None:
    """The deviceId of the track the page's open publish connection sends (``audio``/``video``)."""
    device: str | None = await page.evaluate(
        """(kind) => {
          for (const pc of window.__pcs || []) {
            if (pc.connectionState !== "connected") continue;
            for (const s of pc.getSenders()) {
              if (s.track && s.track.kind === kind) return s.track.getSettings().deviceId;
            }
          }
          return null;
        }""",
        kind,
    )
    return device


async def test_a_promoted_presenter_publishes_changes_microphone_and_is_demoted(
    world: LiveWorld, browsers: MediaBrowsers
) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    sam_id = world.people["sam"].id

    # The host makes Sam a presenter: Sam gets the controls and presents camera and microphone.
    await expect(student.locator("#media-controls")).to_be_hidden()
    await teacher.get_by_role("button", name="Make presenter: Sam").click()
    await expect(student.locator("#media-controls")).to_be_visible()
    # The microphone first: heard, not seen, Sam is a name on the host's stage.
    await student.get_by_role("button", name="Microphone", exact=True).click()
    await pressed(student, "Microphone", True)
    voice = teacher.locator(f'#stage .stage-tile[data-kind="microphone"][data-user-id="{sam_id}"]')
    await expect(voice).to_contain_text("Sam")
    await expect(voice.locator(".stage-avatar")).to_be_visible()
    await student.get_by_role("button", name="Camera", exact=True).click()
    await expect(voice).to_have_count(0)
    camera = await decoding(teacher, "camera")
    await hearing(teacher)
    tile = teacher.locator(f'#stage .stage-tile[data-kind="camera"][data-user-id="{sam_id}"]')
    await expect(tile).to_have_attribute("data-state", "playing")

    # Devices, by keyboard: another microphone replaces the sent track, the sound goes on.
    await student.get_by_role("button", name="Devices").focus()
    await student.keyboard.press("Enter")
    await expect(student.get_by_role("button", name="Devices")).to_have_attribute(
        "aria-expanded", "true"
    )
    mics = student.get_by_label("Microphone device")
    await expect(mics.locator("option").nth(1)).to_be_attached()
    before = await sender_device(student, "audio")
    options = await mics.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    other = next(o for o in options if o != before)
    await mics.select_option(other)
    await until(
        "the other microphone on the publish connection",
        lambda: sender_device(student, "audio"),
        lambda device: device == other,
    )
    await hearing(teacher)
    await decoding(teacher, "camera")
    assert (await video(teacher, "camera") or {}).get("pc") == camera["pc"]

    # Demoted: Sam's media stops at once (media:unpublished), the controls go.
    await teacher.get_by_role("button", name="Make attendee: Sam").click()
    await expect(student.locator("#media-controls")).to_be_hidden()
    await expect(student.locator("#messages")).to_contain_text("no longer a presenter")
    await expect(teacher.locator("#stage .stage-tile")).to_have_count(0)
    await expect(student.locator("#stage .stage-tile")).to_have_count(0)
    # The camera and microphone were let go.
    live = await student.evaluate(
        """() => (window.__pcs || []).flatMap((pc) => pc.getSenders())
             .filter((s) => s.track && s.track.readyState === "live").length"""
    )
    assert live == 0
    assert browsers.errors() == []


async def test_media_comes_back_after_socket_reconnects(
    world: LiveWorld, browsers: MediaBrowsers
) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    await teacher.get_by_role("button", name="Camera", exact=True).click()
    await teacher.get_by_role("button", name="Microphone", exact=True).click()
    await decoding(student, "camera")
    teacher_stage = teacher.locator("#stage")
    student_stage = student.locator("#stage")

    # The browser says it is back online: both restart ICE on new transports (restart: true),
    # the old connection playing until the new one connects.
    published = await teacher_stage.get_attribute("data-publish-transport")
    subscribed = await student_stage.get_attribute("data-subscribe-transport")
    assert published
    assert subscribed
    for page in (teacher, student):
        await page.evaluate("() => window.dispatchEvent(new Event('online'))")
    await expect(teacher_stage).not_to_have_attribute("data-publish-transport", published)
    await expect(student_stage).not_to_have_attribute("data-subscribe-transport", subscribed)
    uuid = re.compile(r"^[0-9a-f-]{36}$")
    await expect(teacher_stage).to_have_attribute("data-publish-transport", uuid)
    await expect(student_stage).to_have_attribute("data-subscribe-transport", uuid)
    first = await decoding(student, "camera")
    published = await teacher_stage.get_attribute("data-publish-transport")
    assert published

    # The student's socket drops and comes back: a new subscribe connection plays.
    await student.context.set_offline(True)
    await expect(student.locator("#room-status")).to_have_attribute("data-state", "disconnected")
    await student.context.set_offline(False)
    await expect(student.locator("#room-status")).to_have_attribute("data-state", "connected")
    again = await until(
        "the camera on a new subscribe connection after the reconnect",
        lambda: video(student, "camera"),
        lambda v: v is not None and v["pc"] not in (-1, first["pc"]) and v["frames"] > 0,
    )
    assert again is not None
    received = await decoding(student, "camera")
    await hearing(student)

    # The instructor's socket drops and comes back: the same camera is published again.
    await teacher.context.set_offline(True)
    await expect(teacher.locator("#room-status")).to_have_attribute("data-state", "disconnected")
    await teacher.context.set_offline(False)
    await expect(teacher.locator("#room-status")).to_have_attribute("data-state", "connected")
    await expect(teacher_stage).not_to_have_attribute("data-publish-transport", published)
    await expect(teacher_stage).to_have_attribute(
        "data-publish-transport", re.compile(r"^[0-9a-f-]{36}$")
    )
    await pressed(teacher, "Camera", True)
    # The student receives it as a new track (a new m-line) of the same track_id.
    await until(
        "the republished camera decoded",
        lambda: video(student, "camera"),
        lambda v: (
            v is not None and v.get("track") not in (None, received["track"]) and v["frames"] > 0
        ),
    )
    await decoding(student, "camera")
    # Only the offline phase's failed reconnect attempts may have been logged.
    assert browsers.errors(ignore=r"WebSocket|ERR_INTERNET_DISCONNECTED|join-ticket") == []


async def test_presenting_from_a_second_tab_takes_over(
    world: LiveWorld, browsers: MediaBrowsers
) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    await teacher.get_by_role("button", name="Camera", exact=True).click()
    first = await decoding(student, "camera")

    # The same instructor, another tab (same cookie): its camera replaces the first tab's.
    second = await teacher.context.new_page()
    problems = PageProblems()
    second.on("console", problems.on_console)
    second.on("pageerror", problems.on_page_error)
    browsers.problems["teacher-tab-2"] = problems
    browsers.pages["teacher-tab-2"] = second
    await second.goto(f"/live/{world.live_id}")
    await expect(second.locator("#room-status")).to_have_attribute("data-state", "connected")
    await second.get_by_role("button", name="Camera", exact=True).click()
    await pressed(second, "Camera", True)

    # The first tab was told (media:unpublished replaced) and let its camera go.
    await expect(teacher.locator("#messages")).to_contain_text("another tab")
    await pressed(teacher, "Camera", False)
    await expect(teacher.locator('#stage .stage-tile[data-local="true"]')).to_have_count(0)
    # The student sees one camera of the instructor, now from the second tab.
    await until(
        "the second tab's camera decoded",
        lambda: video(student, "camera"),
        lambda v: (
            v is not None and v.get("track") not in (None, first["track"]) and v["frames"] > 0
        ),
    )
    await decoding(student, "camera")
    await expect(student.locator('#stage .stage-tile[data-kind="camera"]')).to_have_count(1)

    # The session ends: every page lets its devices and connections go.
    await world.api("POST", f"/live-sessions/{world.live_id}/end")
    for page in (teacher, second, student):
        await expect(page.locator("#room-status")).to_have_attribute("data-state", "ended")
        await expect(page.locator("#stage .stage-tile")).to_have_count(0)
        open_now = await page.evaluate(
            """() => (window.__pcs || []).filter((pc) => pc.connectionState !== "closed").length
               + (window.__pcs || []).flatMap((pc) => pc.getSenders())
                   .filter((s) => s.track && s.track.readyState === "live").length"""
        )
        assert open_now == 0
    assert browsers.errors() == []


# Makes the page's open connection of ``direction`` ("publish": it sends, "subscribe": it
# receives) report ``state`` as its iceConnectionState, as Chromium does when the path to the
# SFU is lost; the room's modules only read the state and the event.
FAKE_ICE_STATE = """([direction, state]) => {
  const sending = (pc) => pc.getTransceivers().some((t) => t.currentDirection === "sendonly");
  const pc = (window.__pcs || []).find(
    (pc) => pc.connectionState === "connected" && sending(pc) === (direction === "publish"));
  if (!pc) return false;
  Object.defineProperty(pc, "iceConnectionState", { get: () => state });
  pc.dispatchEvent(new Event("iceconnectionstatechange"));
  return true;
}"""


async def test_ice_failure_or_a_long_disconnection_restarts_on_a_new_transport(
    world: LiveWorld, browsers: MediaBrowsers
) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    await teacher.get_by_role("button", name="Camera", exact=True).click()
    before = await decoding(student, "camera")
    teacher_stage = teacher.locator("#stage")
    student_stage = student.locator("#stage")
    published = await teacher_stage.get_attribute("data-publish-transport")
    subscribed = await student_stage.get_attribute("data-subscribe-transport")
    assert published
    assert subscribed

    # The student's subscribe connection stays "disconnected" (past the 5 s grace): restart.
    assert await student.evaluate(FAKE_ICE_STATE, ["subscribe", "disconnected"])
    await expect(student_stage).not_to_have_attribute(
        "data-subscribe-transport", subscribed, timeout=20_000
    )
    await until(
        "the camera on the new subscribe connection",
        lambda: video(student, "camera"),
        lambda v: v is not None and v["pc"] not in (-1, before["pc"]) and v["frames"] > 0,
    )
    await decoding(student, "camera")

    # The instructor's publish connection fails: it publishes again on a new transport.
    received = await video(student, "camera")
    assert received is not None
    assert await teacher.evaluate(FAKE_ICE_STATE, ["publish", "failed"])
    await expect(teacher_stage).not_to_have_attribute("data-publish-transport", published)
    await expect(teacher_stage).to_have_attribute(
        "data-publish-transport", re.compile(r"^[0-9a-f-]{36}$")
    )
    await until(
        "the camera republished after the failure, decoded",
        lambda: video(student, "camera"),
        lambda v: v is not None and v.get("track") != received.get("track") and v["frames"] > 0,
    )
    await decoding(student, "camera")
    assert browsers.errors() == []
