"""Storing enums as text with a CHECK constraint (no native PostgreSQL ENUM types).

Adding a value later is then a plain migration of the constraint, not an ALTER TYPE.
"""

from __future__ import annotations

import enum

from sqlalchemy import Enum


def text_enum(cls: type[enum.StrEnum], name: str, *, length: int = 32) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda e: [m.value for m in e],
    )
