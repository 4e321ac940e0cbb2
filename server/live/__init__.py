"""The ``/live`` Socket.IO namespace: live-room chat, hands and presence (docs/live-protocol.md)."""
