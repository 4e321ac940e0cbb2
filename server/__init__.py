"""The transport layer: aiohttp app, REST handlers, Socket.IO namespaces, CLI."""

__version__ = "0.1.0"
