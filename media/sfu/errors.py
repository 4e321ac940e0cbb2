"""The SFU's exceptions: ``SfuError`` and what can go wrong when forwarding is set up."""

from __future__ import annotations

from media.errors import MediaError


class SfuError(MediaError):
    """Base of every error raised by ``media.sfu``."""


class UnsupportedCodec(SfuError):
    """The negotiated codec is not one the SFU forwards (VP8 or H.264 video, Opus audio)."""


class NotNegotiated(SfuError):
    """A transceiver was published before its session description was applied."""


class AiortcIncompatible(SfuError):
    """The installed aiortc is not the release whose privates ``aiortc_hooks`` was written for."""
