"""Run the HLS transcoder (``media.hls``) in a child process, from asyncio.

A transcode is minutes of CPU: in a child process it never holds the server's GIL or event loop,
runs at a lower priority (``nice`` 10), and can be stopped. The child reads nothing from its
stdin but stops by itself when stdin reaches EOF, so it also stops when this process dies.

Protocol (``python -m media.hls SOURCE OUT_DIR``): one JSON object per stdout line,
``{"progress": 12.5}`` ..., then ``{"result": {...}}`` and exit 0; ``{"error": ...,
"permanent": true}`` and exit 2 for an unreadable input; ``"permanent": false`` and exit 1 for
anything else. Tracebacks go to stderr, whose tail ends up in ``TranscodeFailed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from media.errors import TranscodeFailed, UnreadableMedia

# ladder, not hls: the server imports this module, and only the child process needs PyAV.
from media.ladder import TranscodeResult

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 3.0  # after SIGTERM, before SIGKILL
STDERR_TAIL_LINES = 20
_ROOT = str(Path(__file__).resolve().parent.parent)  # where the ``media`` package lives


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{_ROOT}{os.pathsep}{path}" if path else _ROOT
    return env


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Close stdin (the child's stop signal), terminate, kill after a grace period, reap."""
    if process.stdin is not None:
        process.stdin.close()
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    await process.wait()


async def run_transcode(
    source: Path,
    out_dir: Path,
    *,
    on_progress: Callable[[float], Awaitable[None]] | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 (the interface callers code against)
) -> TranscodeResult:
    """Transcode ``source`` into ``out_dir`` (see ``media.hls.transcode``) in a child process.

    ``on_progress`` is awaited with each percentage the child reports (0-100, ending at 100).
    Raises ``UnreadableMedia`` (permanent; its message is for the uploader) or
    ``TranscodeFailed`` (worth a retry). On cancellation or ``timeout`` (``TimeoutError``) the
    child is stopped and reaped before the exception propagates. On any failure ``out_dir``
    may hold partial output: the caller deletes it.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "media.hls",
        str(source),
        str(out_dir),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(),
    )
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    messages: list[dict[str, Any]] = []

    async def drain_stderr() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            stderr_tail.append(raw.decode(errors="replace").rstrip())

    async def read_stdout() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                logger.warning("media.hls printed a non-JSON line: %r", raw[:200])
                continue
            if not isinstance(message, dict):
                continue
            if "progress" in message:
                if on_progress is not None:
                    await on_progress(float(message["progress"]))
            else:
                messages.append(message)

    stderr_task = asyncio.create_task(drain_stderr())
    try:
        async with asyncio.timeout(timeout):
            await read_stdout()
            await process.wait()
            await stderr_task
    except BaseException:
        # Cancelled, timed out, or on_progress raised: the child must not outlive us. The
        # shield lets the cleanup finish even if we are cancelled again while waiting.
        await asyncio.shield(_stop(process))
        stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stderr_task
        raise

    code = process.returncode
    final = messages[-1] if messages else {}
    if code == 0 and "result" in final:
        return TranscodeResult.from_json(final["result"])
    error = str(final.get("error") or "")
    if code == 2:
        raise UnreadableMedia(error or "The file is not a video we can read.")
    tail = "\n".join(stderr_tail)
    if code is not None and code < 0:
        error = error or f"the transcoder was killed by signal {-code}"
    summary = error or f"the transcoder exited with status {code} and no result"
    raise TranscodeFailed(f"{summary}\n{tail}" if tail else summary)
