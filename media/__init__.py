"""The SFU: RTP-level forwarding on aiortc, worker processes, recording and transcoding."""
