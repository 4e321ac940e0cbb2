"""Base classes for every domain's request and response models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError


class Input(BaseModel):
    # Unknown fields are an error: `PATCH /users/me {"role": "admin"}` must not pass silently.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold U+0000: refuse it here (422), not in the database (500).
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("nul_character", "must not contain the NUL character")
        return value


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)
