"""The learning-platform domain: accounts, courses, assessments, payments, live-session records.

Pure asyncio + SQLAlchemy. Nothing here knows HTTP, Socket.IO or WebRTC; the import-linter
contracts in pyproject.toml keep it that way.
"""
