"""Settings from the environment, production refusals, and the embedded secret key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.settings import Settings, SettingsError, load_secret_key


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMINAR_PORT", "9000")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("SEMINAR_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    settings = Settings()
    assert settings.port == 9000
    assert settings.database_url == "postgresql+asyncpg://u@db/x"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.origins == {
        "http://127.0.0.1:9000",
        "http://localhost:9000",
        "https://a.example",
        "https://b.example",
    }
    assert not settings.embedded_database


def test_defaults_are_embedded_and_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "SEMINAR_ENV", "SEMINAR_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.embedded_database
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.workers_in_process
    assert not settings.secure_cookies  # plain-http localhost
    settings.check_production()  # development: nothing required


def test_production_refuses_unsafe_configuration() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(env="production", database_url=None).check_production()
    message = str(caught.value)
    for name in ("DATABASE_URL", "SEMINAR_SECRET_KEY", "SEMINAR_PUBLIC_URL", "SEMINAR_SMTP_HOST"):
        assert name in message

    with pytest.raises(SettingsError, match="https"):
        Settings(
            env="production",
            database_url="postgresql+asyncpg://db/x",
            secret_key="s" * 40,
            public_url="http://learn.example.org",
            smtp_host="smtp.example.org",
        ).check_production()

    ok = Settings(
        env="production",
        database_url="postgresql+asyncpg://db/x",
        secret_key="s" * 40,
        public_url="https://learn.example.org",
        smtp_host="smtp.example.org",
    )
    ok.check_production()
    assert ok.secure_cookies


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_secret_key(settings)
    assert len(first) >= 64
    assert load_secret_key(settings) == first
    mode = stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert load_secret_key(Settings(data_dir=tmp_path / "data", secret_key="explicit")) == (
        "explicit"
    )
