"""Video and file lessons in a real browser, from upload to a student's resumed playback.

An instructor uploads a generated 3 s clip (tests/media/clips.py) and a handout through the
course editor and waits there until transcoding is ready (the poster shows). A student enrolls,
plays the video in /learn (hls.js over Media Source Extensions in Chromium: the video's time
advances and HLS segments are fetched), pauses, reloads and resumes near where they stopped;
watching to the end completes the lesson and the course progress says so. The handout's
Download link gives the file.

Transcoding needs the job runner: this module's server runs it in-process
(``SEMINAR_RUN_WORKERS=true``), unlike the shared ``live_server``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from tests.e2e import conftest as e2e
from tests.e2e.conftest import SCREENSHOTS, Accounts, LiveServer, PageProblems
from tests.e2e.test_teach_browser import (
    PASSWORD,
    OwnedCourses,
    add_lesson,
    add_module,
    create_course_in_ui,
    lesson_item,
    make_instructor,
    new_context,
    owned_courses,
    sign_in,
)
from tests.media.clips import make_clip

pytestmark = pytest.mark.e2e

__all__ = ["owned_courses"]  # the fixture, imported for pytest

MSE_H264_AAC = 'video/mp4; codecs="avc1.4d401e,mp4a.40.2"'
TRANSCODE_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``seminar serve`` like the shared fixture, but running the background jobs itself."""
    work = tmp_path_factory.mktemp("live-server-workers")
    with e2e.running_server(database_url, work, run_workers=True, log_level="INFO") as server:
        yield server


async def current_time(page: Page) -> float:
    value: float = await page.evaluate("() => document.getElementById('video').currentTime")
    return value


async def test_video_lesson_plays_resumes_and_completes(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    accounts: Accounts,
    owned_courses: OwnedCourses,
    problems: PageProblems,
    database_url: str,
    tmp_path: Path,
) -> None:
    # The editor looks for a video before it exists (404); a file comes with the outline.
    problems.expected_api_errors |= {404}
    clip = make_clip(tmp_path / "clip.mp4", seconds=3.0, width=640, height=360)
    teacher = await make_instructor(live_server, accounts, database_url, "Vera Video")
    await sign_in(page, teacher)
    course_id = await create_course_in_ui(page, f"Moving Pictures {secrets.token_hex(3)}")
    await add_module(page, "Watch")
    await add_lesson(page, "Watch", "The clip", "video")
    await add_lesson(page, "Watch", "Handout", "file")

    # Upload the video: the upload bar reaches 100 %, then transcoding runs to "ready".
    clip_lesson = lesson_item(page, "The clip")
    video_id = await clip_lesson.get_attribute("data-lesson-id")
    panel = clip_lesson.locator(".video-panel")
    await expect(panel.locator(".video-state")).to_have_text("No video uploaded yet.")
    await panel.get_by_label("Upload a video").set_input_files(clip)
    await expect(panel.locator(".upload-bar p")).to_have_text("Uploaded clip.mp4: 100 %")
    await expect(panel).to_have_attribute("data-status", "ready", timeout=TRANSCODE_TIMEOUT_MS)
    await expect(panel.locator(".video-state")).to_have_text(
        re.compile(r"^clip\.mp4: ready \(3 s, 640\S360\)\.$")
    )
    await expect(panel.locator("img.video-poster")).to_be_visible()
    assert await panel.locator("img.video-poster").evaluate("img => img.naturalWidth") > 0

    handout = lesson_item(page, "Handout")
    handout_id = await handout.get_attribute("data-lesson-id")
    await handout.get_by_label("Upload the file").set_input_files(
        files=[FilePayload(name="notes.txt", mimeType="text/plain", buffer=b"Frame by frame.\n")]
    )
    await expect(handout.locator(".file-current")).to_have_text("Current file: notes.txt, 16 B")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#course-status")).to_have_text("Published")
    await page.screenshot(path=SCREENSHOTS / "player-editor-ready.png", full_page=True)

    # A student enrolls.
    ctx = await new_context(browser, live_server)
    try:
        student = await ctx.new_page()
        student.on("console", problems.on_console)
        student.on("pageerror", problems.on_page_error)
        student.on("request", problems.on_request)
        await student.goto("/")
        form = student.locator("#register-form")
        await form.get_by_label("Name").fill("Pia Player")
        await form.get_by_label("Email").fill(accounts.new_email("e2e-viewer"))
        await form.get_by_label("Password").fill(PASSWORD)
        await form.get_by_role("button", name="Create account").click()
        await expect(student.locator("#whoami")).to_contain_text("Signed in as Pia Player")
        await student.goto(f"/courses/{course_id}")
        await student.get_by_role("button", name="Enroll").click()
        await expect(student.get_by_role("link", name="Continue learning")).to_be_visible()

        # The handout: name, size, and a Download link that gives the file.
        await student.goto(f"/learn/{handout_id}")
        await expect(student.locator("#file-name")).to_have_text("notes.txt (16 B)")
        # ...told by the lesson itself: nothing was downloaded to learn them.
        file_url = f"/api/v1/lessons/{handout_id}/file"
        assert not [r.url for r in problems.requests if r.url.endswith(file_url)]
        async with student.expect_download() as download_info:
            await student.get_by_role("link", name="Download notes.txt").click()
        download = await download_info.value
        assert download.suggested_filename == "notes.txt"
        saved = Path(await download.path())
        assert await asyncio.to_thread(saved.read_bytes) == b"Frame by frame.\n"

        # The video lesson.
        await student.goto(f"/learn/{video_id}")
        mse = await student.evaluate(f"() => MediaSource.isTypeSupported('{MSE_H264_AAC}')")
        print(f"Chromium MSE {MSE_H264_AAC}: {mse}")
        video = student.locator("#video")
        await expect(video).to_have_attribute("data-engine", "hls.js" if mse else "native")
        await expect(video).to_have_attribute("poster", re.compile(r"/api/v1/videos/"))
        await expect(student.locator("#progress-text")).to_have_text(
            "Course progress: 0 % (0 of 2 lessons)"
        )
        await student.wait_for_function(
            "() => document.getElementById('video').readyState >= 1", timeout=20_000
        )
        requested = [r.url for r in problems.requests]
        assert any(u.endswith("/static/vendor/hls.js/hls.min.js") for u in requested)
        assert any(re.search(r"/hls/[^/]+/master\.m3u8$", u) for u in requested), requested
        if not mse:
            pytest.fail("Chromium cannot play H.264/AAC through MSE: see the report")

        # Play (muted: no user gesture needed) until 1.5 s, then pause: the position is kept.
        await student.evaluate(
            "() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }"
        )
        await student.wait_for_function(
            "() => document.getElementById('video').currentTime > 1.5", timeout=20_000
        )
        assert await video.evaluate("v => v.readyState") >= 2
        segments = [r.url for r in problems.requests if r.url.endswith(".ts")]
        assert segments, "no HLS segment was fetched"
        await video.evaluate("v => v.pause()")
        stopped_at = await current_time(student)
        # The pause report's answer: the position the server kept.
        await student.wait_for_function(
            "(at) => Math.abs(Number(document.getElementById('video').dataset.reported) - at)"
            " < 0.01",
            arg=stopped_at,
        )
        reported = float(await video.get_attribute("data-reported") or "0")

        # Reload: playback resumes where it stopped.
        await student.reload()
        await expect(video).to_have_attribute("data-engine", "hls.js")
        await expect(video).to_have_attribute("data-resume-from", re.compile(r"^\d"))
        resume_from = float(await video.get_attribute("data-resume-from") or "0")
        assert abs(resume_from - reported) < 0.01, (resume_from, reported)
        await expect(student.locator("#video-state")).to_have_text(re.compile(r"^Resuming at 0:0"))
        await student.wait_for_function(
            "(at) => { const v = document.getElementById('video');"
            " return v.readyState >= 1 && Math.abs(v.currentTime - at) < 0.6; }",
            arg=reported,
            timeout=20_000,
        )
        # Leave while playing: the pagehide report (fetch keepalive) keeps the new position.
        await student.evaluate(
            "() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }"
        )
        await student.wait_for_function(
            "(at) => document.getElementById('video').currentTime > at + 0.6",
            arg=reported,
            timeout=20_000,
        )
        await student.goto("/my")
        resp = await student.request.get(f"/api/v1/courses/{course_id}/progress")
        kept = {p["lesson_id"]: p["position_seconds"] for p in (await resp.json())["lessons"]}
        assert kept[video_id] > reported + 0.5, (kept[video_id], reported)
        await student.goto(f"/learn/{video_id}")
        await expect(video).to_have_attribute("data-resume-from", re.compile(r"^\d"))
        again = float(await video.get_attribute("data-resume-from") or "0")
        assert abs(again - kept[video_id]) < 0.01, (again, kept[video_id])

        # Watch to the end: the server completes the video (>= 90 %), the page shows it.
        await student.evaluate(
            "() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }"
        )
        await student.wait_for_function(
            "() => document.getElementById('video').ended", timeout=20_000
        )
        await expect(student.locator("#messages")).to_have_text(
            "You watched this video: the lesson is complete."
        )
        await expect(student.locator("#progress-text")).to_have_text(
            "Course progress: 50 % (1 of 2 lessons)"
        )
        await student.screenshot(path=SCREENSHOTS / "player-video.png", full_page=True)
    finally:
        await ctx.close()
    assert problems.errors == []
