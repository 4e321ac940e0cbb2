"""An upload onto a full disk (research fault table row 9): 507, and no temporary file left.

The files directory is a 1 MiB tmpfs mounted for the test, so writes really fail with
ENOSPC. Mounting needs root (CAP_SYS_ADMIN); elsewhere the test is skipped.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from server.app import create_app
from server.state import Database
from tests.conftest import FAST_HASHER, ORIGIN, AppClient, make_settings
from tests.lms_core.storage import samples
from tests.lms_core.storage.conftest import local_leftovers
from tests.server.test_errors import assert_problem
from tests.server.test_uploads import OUTCOMES, upload

MiB = 1024 * 1024


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def test_disk_full_upload_is_507_and_leaves_nothing(
    aiohttp_client: Callable[..., Awaitable[AppClient]],
    database: Database,
    database_url: str,
    tiny_disk: Path,
) -> None:
    settings = make_settings(database_url, data_dir=tiny_disk, max_upload_bytes=8 * MiB)
    app = await asyncio.to_thread(create_app, settings, database=database, hasher=FAST_HASHER)
    app[OUTCOMES] = asyncio.Queue()
    app.router.add_post("/test-upload", upload)
    client = await aiohttp_client(app, headers={"Origin": ORIGIN})
    pdf = samples.pdf()
    big = pdf + bytes(3 * MiB)

    resp = await client.post("/test-upload", params={"filename": "big.pdf"}, data=io.BytesIO(big))
    await assert_problem(resp, 507, "storage_full")
    assert type(await app[OUTCOMES].get()).__name__ == "StorageFull"
    assert await asyncio.to_thread(local_leftovers, tiny_disk / "files") == []

    # The space of the failed upload was given back: a small file still fits.
    resp = await client.post("/test-upload", params={"filename": "small.pdf"}, data=pdf)
    assert resp.status == 201, await resp.text()
    await app[OUTCOMES].get()
