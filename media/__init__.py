"""The SFU: RTP-level forwarding on aiortc, worker processes, recording and transcoding.

Transcoding: ``media.hls.transcode`` (synchronous, PyAV) and ``media.transcode.run_transcode``
(asyncio, runs ``python -m media.hls`` in a child process). They are not imported here: the
child runs ``media.hls`` as ``__main__``, which must not already be imported by this package.
"""

from media.errors import MediaError, TranscodeCancelled, TranscodeFailed, UnreadableMedia

__all__ = ["MediaError", "TranscodeCancelled", "TranscodeFailed", "UnreadableMedia"]
