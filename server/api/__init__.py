"""REST handlers, one module per feature area; each exposes a ``router``."""
