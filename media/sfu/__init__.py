"""A selective forwarding unit on aiortc: RTP forwarded to each subscriber without transcoding.

``Router.publish(transceiver) -> Publication``; ``Publication.subscribe(pc) -> Subscription``.
Every aiortc private it needs is in ``aiortc_hooks``.
"""

from media.sfu.errors import AiortcIncompatible, NotNegotiated, SfuError, UnsupportedCodec
from media.sfu.publication import Publication
from media.sfu.router import Router
from media.sfu.subscription import Subscription

__all__ = [
    "AiortcIncompatible",
    "NotNegotiated",
    "Publication",
    "Router",
    "SfuError",
    "Subscription",
    "UnsupportedCodec",
]
