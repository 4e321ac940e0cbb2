"""Loopback-only WebRTC for the SFU tests: no STUN, host candidates on 127.0.0.1 only.

aioice gathers host candidates on every interface except loopback (aioice/ice.py
``get_host_addresses``) and aiortc asks Google's STUN server when ``iceServers`` is None
(rtcicetransport.py:198-233); both would make the tests depend on the network.
"""

from __future__ import annotations

import aioice.ice
import pytest


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
