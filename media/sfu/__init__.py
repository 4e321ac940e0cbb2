"""A selective forwarding unit on aiortc: RTP forwarded to each subscriber without transcoding."""
