"""A local S3 for tests: moto's server (``ThreadedMotoServer``) on 127.0.0.1, in a child process.

The project's S3 adapter talks to it through boto3 over real HTTP, as it would to AWS or MinIO.
It runs in its own process rather than a thread of the test process so that the objects it
keeps in memory and its request threads do not count towards the memory and event-loop
measurements of the code under test. The child exits when its standard input closes, so it
cannot outlive the test run even if pytest is killed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # moto accepts any key; a real one must never appear in tests
REGION = "us-east-1"

_CHILD = """
import sys
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@contextmanager
def local_s3_server() -> Iterator[str]:
    """Yield the endpoint URL (``http://127.0.0.1:PORT``) of a fresh moto S3 server."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        line = child.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"moto server did not start (printed {line!r})")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()
