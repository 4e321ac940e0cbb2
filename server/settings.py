"""Settings, read from the environment (``SEMINAR_*``, plus ``DATABASE_URL`` and ``REDIS_URL``).

Every field here is documented in the README's settings table; keep them in step.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from media.workers.remote import RemoteAddress


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SEMINAR_", extra="ignore", validate_default=True, frozen=True
    )

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path(".seminar")
    public_url: str | None = Field(
        default=None, description="Public base URL, e.g. https://learn.example.org"
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra origins allowed to make cookie requests."
    )
    trust_forwarded_headers: bool = False

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "SEMINAR_DATABASE_URL")
    )
    db_pool_size: int = Field(default=20, ge=1, le=500)
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "SEMINAR_REDIS_URL")
    )
    secret_key: SecretStr | None = None

    session_idle_minutes: int = Field(default=720, ge=5)
    session_absolute_days: int = Field(default=14, ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    shutdown_timeout: float = Field(default=20.0, ge=0)

    metrics_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
        ],
        description="Client networks allowed to read /metrics.",
    )

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    login_rate_limit: str = "10/minute"
    ip_rate_limit: str = "100/minute"
    register_rate_limit: str = "20/hour"
    reset_rate_limit: str = "5/hour"

    live_event_rate: float = Field(
        default=10.0, gt=0, description="Events per second one /live socket may send (refill)."
    )
    live_event_burst: int = Field(
        default=20, ge=1, description="Events one /live socket may send at once."
    )
    live_presence_window: float = Field(
        default=0.15,
        ge=0,
        le=5,
        description="Seconds over which a /live room's joins and leaves are sent as one "
        "presence:changed (the first after a quiet window goes at once; 0: every change alone).",
    )
    live_admission: int = Field(
        default=10,
        ge=1,
        le=500,
        description="/live connects and joins of one node using the database at once; the "
        "others wait their turn (keep it below db_pool_size: other work needs connections).",
    )
    live_send_buffer_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=64 * 1024,
        description="Unsent bytes a /live connection may hold before it is dropped as too slow.",
    )
    ice_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="STUN/TURN URLs handed to room members (none: host candidates only).",
    )
    turn_secret: SecretStr | None = Field(
        default=None, description="coturn's static-auth-secret (TURN REST API credentials)."
    )
    turn_ttl: int = Field(
        default=3600, ge=60, le=86400, description="Seconds a TURN credential stays valid."
    )

    sfu_workers: int | None = Field(
        default=None,
        ge=0,
        le=1024,
        description="SFU worker processes `serve` starts; default: one per CPU; 0: none.",
    )
    sfu_remote_workers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host:port of `seminar sfu-worker`s on other machines (comma-separated), "
        "used beside the local ones.",
    )
    sfu_control_token: SecretStr | None = Field(
        default=None,
        description="The shared secret remote SFU workers require in the control channel's hello.",
    )
    sfu_worker_capacity: int = Field(
        default=40,
        ge=1,
        le=10_000,
        description="Media transports one SFU worker takes before a room's further audience "
        "goes to another worker, fed by a pipe from the publisher's.",
    )

    mail_from: str = "Seminar <no-reply@localhost>"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"

    storage: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1024)
    course_quota_bytes: int = Field(
        default=5 * 1024**3, ge=0, description="Total size of one course's stored files."
    )

    stripe_secret_key: SecretStr | None = Field(
        default=None, description="Stripe API secret key (sk_...); unset: payments are off."
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, description="The webhook endpoint's signing secret (whsec_...)."
    )
    stripe_api_base: str | None = Field(
        default=None, description="Another Stripe API base URL (a local stand-in in tests)."
    )
    stripe_timeout: float = Field(
        default=30.0, gt=0, le=120, description="Seconds one Stripe API call may take."
    )
    stripe_max_network_retries: int = Field(
        default=2, ge=0, le=10, description="Stripe API retries (same idempotency key)."
    )
    platform_fee_percent: float = Field(
        default=20.0,
        ge=0,
        le=100,
        description="The platform's share of a sale after Stripe's fee; the rest is the "
        "instructor's.",
    )
    refund_ends_enrollment: bool = Field(
        default=True, description="A fully refunded purchase cancels its enrollment."
    )
    stripe_price_monthly: str | None = Field(
        default=None,
        description="Stripe Price id (price_...) of the monthly platform plan; unset with "
        "the yearly one: no subscriptions.",
    )
    stripe_price_yearly: str | None = Field(
        default=None, description="Stripe Price id (price_...) of the yearly platform plan."
    )
    stripe_connect: bool = Field(
        default=False,
        description="Pay instructors through Stripe Connect Express (onboarding links and "
        "scheduled transfers); off: admins settle the payables report themselves.",
    )
    stripe_connect_webhook_secret: SecretStr | None = Field(
        default=None,
        description="The signing secret (whsec_...) of the Connect webhook endpoint (events of "
        "connected accounts, e.g. account.updated), when it is another endpoint's.",
    )
    payout_hold_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="Earnings are transferred once they are this many days old (the refund "
        "window).",
    )
    payout_minimum_cents: int = Field(
        default=1000, ge=1, description="A transfer is made once the balance reaches this."
    )
    payout_interval_hours: float = Field(
        default=24, gt=0, le=24 * 31, description="How often the payout job runs."
    )

    run_workers: bool | None = Field(
        default=None,
        description="Run background workers inside `serve`; default: yes in embedded mode.",
    )
    worker_concurrency: int = Field(
        default=4, ge=1, le=100, description="Jobs one worker (or `serve`) runs at once."
    )

    @field_validator("allowed_origins", "metrics_networks", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip().rstrip("/") for v in value.split(",") if v.strip()]
        return value

    @field_validator("sfu_remote_workers", mode="before")
    @classmethod
    def _split_remote_workers(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("sfu_remote_workers")
    @classmethod
    def _remote_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            RemoteAddress.parse(address)  # ValueError: not host:port
        return value

    @model_validator(mode="after")
    def _remote_workers_need_a_token(self) -> Settings:
        if self.sfu_remote_workers and not self.sfu_control_token:
            raise ValueError("SEMINAR_SFU_REMOTE_WORKERS needs SEMINAR_SFU_CONTROL_TOKEN")
        return self

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _split_ice_servers(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("ice_servers")
    @classmethod
    def _ice_schemes(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.lower().startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
        return value

    @model_validator(mode="after")
    def _storage_configured(self) -> Settings:
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("SEMINAR_STORAGE=s3 needs SEMINAR_S3_BUCKET")
        return self

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def origins(self) -> frozenset[str]:
        """Origins whose cookie-authenticated unsafe requests are accepted (CSRF check)."""
        parts = urlsplit(self.base_url)
        own = {f"{parts.scheme}://{parts.netloc}"}
        if self.env == "development" and parts.hostname == "127.0.0.1":
            # People type "localhost" as often as the address the server printed.
            own.add(f"{parts.scheme}://localhost:{parts.port}")
        return frozenset({*own, *self.allowed_origins})

    @property
    def secure_cookies(self) -> bool:
        # Browsers drop Secure cookies on plain-http localhost in some versions; everywhere
        # else the cookie must never travel without TLS.
        host = urlsplit(self.base_url).hostname or ""
        return not (host in ("localhost", "127.0.0.1", "::1") and self.env != "production")

    @property
    def turn_secret_value(self) -> str | None:
        """The TURN secret, ``None`` when unset or empty."""
        return (self.turn_secret.get_secret_value() if self.turn_secret else "") or None

    @property
    def missing_payment_settings(self) -> list[str]:
        """The environment variables payments still need (empty: Stripe is configured)."""
        missing = []
        if not (self.stripe_secret_key and self.stripe_secret_key.get_secret_value()):
            missing.append("SEMINAR_STRIPE_SECRET_KEY")
        if not (self.stripe_webhook_secret and self.stripe_webhook_secret.get_secret_value()):
            missing.append("SEMINAR_STRIPE_WEBHOOK_SECRET")
        return missing

    @property
    def sfu_worker_count(self) -> int:
        if self.sfu_workers is not None:
            return self.sfu_workers
        try:
            return len(os.sched_getaffinity(0))  # the CPUs we may run on (containers, taskset)
        except AttributeError:  # not on macOS
            return os.cpu_count() or 1

    @property
    def workers_in_process(self) -> bool:
        return self.embedded_database if self.run_workers is None else self.run_workers

    def check_production(self) -> None:
        """Refuse unsafe production configurations, naming the variable to set."""
        if self.env != "production":
            return
        missing = []
        if self.database_url is None:
            missing.append("DATABASE_URL (the embedded database is for development only)")
        if self.secret_key is None:
            missing.append("SEMINAR_SECRET_KEY")
        if not self.public_url:
            missing.append("SEMINAR_PUBLIC_URL")
        elif not self.public_url.startswith("https://"):
            missing.append("SEMINAR_PUBLIC_URL must be https:// in production")
        if self.smtp_host is None:
            missing.append("SEMINAR_SMTP_HOST (password reset emails must be delivered)")
        if not self.turn_secret_value and any(
            u.lower().startswith(("turn:", "turns:")) for u in self.ice_servers
        ):
            missing.append("SEMINAR_TURN_SECRET (SEMINAR_ICE_SERVERS has TURN URLs)")
        if missing:
            raise SettingsError(
                "SEMINAR_ENV=production refuses to start; set: " + "; ".join(missing)
            )


def load_secret_key(settings: Settings) -> str:
    """The explicit secret, or one generated once and kept in the data dir (embedded mode)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(key)
    return key
