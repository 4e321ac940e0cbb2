"""The exceptions of video transcoding.

``UnreadableMedia`` is permanent and its message is shown to the instructor who uploaded the
file, so it is written in plain English; ``TranscodeFailed`` is anything else and worth a
retry; ``TranscodeCancelled`` is raised when the caller asked the transcode to stop.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base of every error raised by ``media`` transcoding."""


class UnreadableMedia(MediaError):
    """The input is not a video we can read (permanent; the message is user-facing)."""


class TranscodeFailed(MediaError):
    """The transcode failed for another reason (disk, encoder, a killed child): retry."""


class TranscodeCancelled(MediaError):
    """The transcode was asked to stop before it finished."""
