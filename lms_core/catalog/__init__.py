"""The public course catalog: search, course detail for visitors, similar courses (read-only)."""
