"""The TURN credentials of server/live/ice.py against a real coturn (``use-auth-secret``):
a fresh credential makes a relay allocation, an expired one and one signed with another secret
are refused with 401. Runs where coturn is installed (Debian: ``apt install coturn``), on
127.0.0.1 only; skipped elsewhere, except in CI (SEMINAR_TEST_REQUIRE_SERVICES=1), which
installs it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from server.live import ice
from tests.conftest import REQUIRE_SERVICES

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _coturn_installed() -> None:
    if shutil.which("turnserver") and shutil.which("turnutils_uclient"):
        return
    if REQUIRE_SERVICES:  # CI installs it (.ci/run): missing there is a failure
        pytest.fail("coturn (turnserver, turnutils_uclient) is not installed")
    pytest.skip("coturn (turnserver, turnutils_uclient) is not installed")


SECRET = "coturn-check-secret"
USER = "4b0c6a5e-0000-4000-8000-000000000001"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _allocate(port: int, username: str, credential: str) -> subprocess.Popen[bytes]:
    # One client pair, one message: enough to Allocate, CreatePermission and ChannelBind.
    return subprocess.Popen(
        [
            "turnutils_uclient",
            "-p",
            str(port),
            "-u",
            username,
            "-w",
            credential,
            "-n",
            "1",
            "-m",
            "1",
            "-e",
            "127.0.0.1",
            "-X",
            "-g",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _lines(log: Path, username: str, outcome: str) -> list[str]:
    text = log.read_text() if log.exists() else ""
    return [line for line in text.splitlines() if f"user <{username}>" in line and outcome in line]


def test_coturn_accepts_fresh_credentials_only(tmp_path: Path) -> None:
    port = _free_port()
    relay = 40000 + port % 20000
    log = tmp_path / "turn.log"
    server = subprocess.Popen(
        [
            "turnserver",
            "-n",
            "--listening-ip=127.0.0.1",
            f"--listening-port={port}",
            "--relay-ip=127.0.0.1",
            f"--min-port={relay}",
            f"--max-port={relay + 40}",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET}",
            "--realm=seminar.test",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--allow-loopback-peers",
            f"--log-file={log}",
            "--simple-log",
            "-v",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        assert server.poll() is None, "turnserver did not start"
        now = time.time()
        fresh = ice.ice_servers([f"turn:127.0.0.1:{port}"], SECRET, 600, USER, now).servers[0]
        expired = ice.turn_credential(SECRET, USER, int(now) - 5)
        # Another secret, and another expiry so that its username is told apart in the log.
        forged = ice.turn_credential("another-secret", USER, int(now) + 601)
        clients = [
            _allocate(port, fresh["username"], fresh["credential"]),
            _allocate(port, expired.username, expired.credential),
            _allocate(port, forged.username, forged.credential),
        ]
        # A refused client retries for a while: wait for the outcomes in the log instead.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            _lines(log, fresh["username"], "ALLOCATE processed, success")
            and _lines(log, expired.username, "error 401")
            and _lines(log, forged.username, "error 401")
        ):
            time.sleep(0.2)
        for client in clients:
            client.kill()
            client.wait(timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert _lines(log, fresh["username"], "ALLOCATE processed, success")
    assert not _lines(log, fresh["username"], "401")
    assert _lines(log, expired.username, "error 401")
    assert not _lines(log, expired.username, "success")
    assert _lines(log, forged.username, "error 401")
    assert not _lines(log, forged.username, "success")
