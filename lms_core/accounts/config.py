from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    session_idle_timeout: timedelta = timedelta(hours=12)
    session_absolute_timeout: timedelta = timedelta(days=14)
    reset_token_ttl: timedelta = timedelta(minutes=30)
    verification_token_ttl: timedelta = timedelta(days=2)
    # Base of links in emails, e.g. "https://learn.example.org".
    public_url: str = "http://127.0.0.1:8080"
