"""Live-room plumbing that knows no transport: the room bus that carries broadcasts between
nodes (bus.py, redis_bus.py)."""
