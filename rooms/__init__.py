"""Live-room state and rules (presence, chat, hands, polls, whiteboard). Knows nothing of HTTP."""
