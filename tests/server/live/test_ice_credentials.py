"""TURN REST API credentials (server/live/ice.py) and the ICE settings: a known vector, the
check a TURN server makes (coturn's use-auth-secret), expiry at now + TTL, no TURN entry
without a secret, and the production refusal of a TURN URL without one."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from pydantic import ValidationError

from server.live import ice
from server.settings import Settings, SettingsError

# Computed independently of Python:
#   printf '%s' "1700003600:4b0c6a5e-0000-4000-8000-000000000001" \
#     | openssl dgst -sha1 -hmac north-wind -binary | base64
VECTOR_SECRET = "north-wind"
VECTOR_USERNAME = "1700003600:4b0c6a5e-0000-4000-8000-000000000001"
VECTOR_CREDENTIAL = "BOQMSlIm8cQsoCNXpBkbkCCOFag="


def turn_server_accepts(secret: str, username: str, credential: str, now: float) -> bool:
    """What coturn does with ``use-auth-secret``: the expiry is the username's part before
    the separator ':'; the password must be base64(HMAC-SHA1(secret, username))."""
    expiry, _, _ = username.partition(":")
    if not expiry.isdigit() or int(expiry) < now:
        return False
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), credential)


def test_known_vector() -> None:
    cred = ice.turn_credential(VECTOR_SECRET, "4b0c6a5e-0000-4000-8000-000000000001", 1700003600)
    assert cred.username == VECTOR_USERNAME
    assert cred.credential == VECTOR_CREDENTIAL
    assert cred.expires == 1700003600
    assert turn_server_accepts(VECTOR_SECRET, cred.username, cred.credential, 1700003600)
    assert not turn_server_accepts(VECTOR_SECRET, cred.username, cred.credential, 1700003601)
    assert not turn_server_accepts("other", cred.username, cred.credential, 1700000000)
    # The expiry is signed: a client moving it forward breaks the credential.
    forged = "1800000000:4b0c6a5e-0000-4000-8000-000000000001"
    assert not turn_server_accepts(VECTOR_SECRET, forged, cred.credential, 1700000000)


def test_user_id_cannot_carry_the_separator() -> None:
    with pytest.raises(ValueError, match="':'"):
        ice.turn_credential("s", "a:b", 1)


def test_stun_and_turn_entries_with_credentials_until_now_plus_ttl() -> None:
    urls = ["stun:turn.example.org:3478", "turn:turn.example.org:3478?transport=udp"]
    urls.append("turns:turn.example.org:5349?transport=tcp")
    found = ice.ice_servers(urls, "s3cret", 600, "user-1", now=1_700_000_000.7)
    assert found.expires == 1_700_000_600
    stun, turn = found.servers
    assert stun == {"urls": ["stun:turn.example.org:3478"]}
    assert turn["urls"] == urls[1:]
    assert turn["username"] == "1700000600:user-1"
    assert turn_server_accepts("s3cret", turn["username"], turn["credential"], 1_700_000_599)
    assert not turn_server_accepts("s3cret", turn["username"], turn["credential"], 1_700_000_601)


def test_no_secret_no_turn_entry_and_no_urls_nothing() -> None:
    urls = ["stun:stun.example.org", "turn:turn.example.org"]
    found = ice.ice_servers(urls, None, 600, "u", now=0)
    assert found.servers == [{"urls": ["stun:stun.example.org"]}]
    assert found.expires is None
    only_turn = ice.ice_servers(["TURN:turn.example.org"], "", 600, "u", now=0)
    assert only_turn.servers == []
    assert ice.ice_servers([], "s3cret", 600, "u", now=0) == ice.IceServers([], None)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SEMINAR_ICE_SERVERS", "stun:turn.example.org:3478, turns:turn.example.org:5349"
    )
    monkeypatch.setenv("SEMINAR_TURN_SECRET", "s3cret")
    monkeypatch.setenv("SEMINAR_TURN_TTL", "900")
    settings = Settings()
    assert settings.ice_servers == ["stun:turn.example.org:3478", "turns:turn.example.org:5349"]
    assert settings.turn_secret_value == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.turn_ttl == 900


def test_settings_defaults_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SEMINAR_ICE_SERVERS", "SEMINAR_TURN_SECRET", "SEMINAR_TURN_TTL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.ice_servers == []  # host candidates only
    assert settings.turn_secret_value is None
    assert settings.turn_ttl == 3600
    assert Settings(turn_secret="").turn_secret_value is None
    with pytest.raises(ValidationError, match="not a stun:"):
        Settings(ice_servers=["https://turn.example.org"])
    for ttl in (59, 86401):
        with pytest.raises(ValidationError):
            Settings(turn_ttl=ttl)


def test_production_refuses_a_turn_url_without_a_secret() -> None:
    safe: dict[str, Any] = {
        "env": "production",
        "database_url": "postgresql+asyncpg://db/x",
        "secret_key": "s" * 40,
        "public_url": "https://learn.example.org",
        "smtp_host": "smtp.example.org",
    }
    for secret in (None, ""):
        with pytest.raises(SettingsError, match="SEMINAR_TURN_SECRET"):
            Settings(
                **safe, ice_servers=["turn:turn.example.org"], turn_secret=secret
            ).check_production()
    Settings(**safe, ice_servers=["stun:stun.example.org"]).check_production()
    Settings(**safe, ice_servers=["turn:turn.example.org"], turn_secret="s3cret").check_production()
    # Development issues no TURN entry instead (tested above) and starts.
    Settings(ice_servers=["turn:turn.example.org"]).check_production()
