"""media.transcode.run_transcode: the child process, its protocol, cancellation and cleanup."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest

from media.errors import TranscodeFailed, UnreadableMedia
from media.hls import TranscodeResult
from media.transcode import run_transcode
from tests.media.clips import make_clip

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=2)


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough work (3 s of 720p, two rungs) that a transcode is still running when stopped."""
    path = tmp_path_factory.mktemp("slow") / "slow.mp4"
    return make_clip(path, seconds=3, width=1280, height=720)


def transcoder_children() -> list[psutil.Process]:
    children = psutil.Process().children(recursive=True)
    return [p for p in children if "media.hls" in " ".join(_cmdline(p))]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        cmdline: list[str] = process.cmdline()
    except psutil.NoSuchProcess:
        return []
    return cmdline


async def test_success_with_progress(clip: Path, tmp_path: Path) -> None:
    progress: list[float] = []

    async def on_progress(percent: float) -> None:
        progress.append(percent)

    result = await run_transcode(clip, tmp_path / "out", on_progress=on_progress)
    assert isinstance(result, TranscodeResult)
    assert [r.name for r in result.renditions] == ["360p"]
    assert result.has_audio
    assert result.duration_seconds == pytest.approx(2.0, abs=0.5)
    assert (tmp_path / "out" / result.master).is_file()
    assert (tmp_path / "out" / result.poster).is_file()
    assert progress
    assert progress == sorted(progress)
    assert progress[-1] == 100.0
    assert transcoder_children() == []


async def test_garbage_is_unreadable_through_the_child(tmp_path: Path) -> None:
    source = tmp_path / "notes.pdf"
    source.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    with pytest.raises(UnreadableMedia, match="not a video format") as caught:
        await run_transcode(source, tmp_path / "out")
    assert "Traceback" not in str(caught.value)


async def test_missing_source_is_a_retryable_failure(tmp_path: Path) -> None:
    with pytest.raises(TranscodeFailed, match="does not exist"):
        await run_transcode(tmp_path / "gone.mp4", tmp_path / "out")


async def test_cancel_stops_and_reaps_the_child(slow_clip: Path, tmp_path: Path) -> None:
    started = asyncio.Event()

    async def on_progress(percent: float) -> None:
        started.set()

    task = asyncio.create_task(run_transcode(slow_clip, tmp_path / "out", on_progress=on_progress))
    await asyncio.wait_for(started.wait(), 30)
    [child] = transcoder_children()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not psutil.pid_exists(child.pid)  # gone and reaped: not even a zombie
    assert transcoder_children() == []


async def test_timeout_stops_the_child(slow_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(TimeoutError):
        await run_transcode(slow_clip, tmp_path / "out", timeout=0.5)
    assert transcoder_children() == []


async def test_child_stops_when_stdin_closes(slow_clip: Path, tmp_path: Path) -> None:
    """A parent that dies closes the child's stdin: the encoder must not run on as an orphan."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "media.hls",
        str(slow_clip),
        str(tmp_path / "out"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    first = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
    assert "progress" in first
    process.stdin.close()
    try:
        rest = await asyncio.wait_for(process.stdout.read(), 10)
        code = await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    last = json.loads(rest.splitlines()[-1])
    assert code == 1
    assert last == {"error": "the transcode was cancelled", "permanent": False}
    assert not (tmp_path / "out" / "master.m3u8").exists()
