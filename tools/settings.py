"""PagerDuty settings: the only place that reads `PAGERDUTY_*` from the environment.

Everything else receives a `PagerDutySettings` (or builds one from explicit values), so tests and
the simulator wiring never depend on the process environment.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

import httpx
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: str, setting: str) -> str:
    """An https:// origin, or http:// only on loopback, where a local simulator serves without TLS.

    PagerDuty refuses plain HTTP, and sending a token in clear text anywhere else would leak it.
    """
    url = httpx.URL(value.strip())
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"{setting} must be an https:// URL such as https://api.pagerduty.com, got {value!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValueError(f"{setting} may use http:// only for a loopback host (127.0.0.1, ::1, localhost); "
                         f"use https:// for {url.host}")
    if url.query or url.fragment:
        raise ValueError(f"{setting} must not carry a query or fragment, got {value!r}")
    return str(url).rstrip("/")


class PagerDutySettings(BaseSettings):
    """Connection and retry settings; see the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="PAGERDUTY_", extra="ignore", frozen=True)

    api_key: SecretStr | None = None
    api_host: str = "https://api.pagerduty.com"  # EU accounts: https://api.eu.pagerduty.com
    events_host: str = "https://events.pagerduty.com"
    from_email: str | None = None
    token_kind: Literal["token", "bearer"] = "token"
    timeout: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    max_wait: float = Field(default=120.0, ge=0)
    read_only: bool = False

    @field_validator("api_host")
    @classmethod
    def _api_host(cls, value: str) -> str:
        return check_base_url(value, "PAGERDUTY_API_HOST")

    @field_validator("events_host")
    @classmethod
    def _events_host(cls, value: str) -> str:
        return check_base_url(value, "PAGERDUTY_EVENTS_HOST")

    @field_validator("from_email")
    @classmethod
    def _from_email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if "@" not in value or any(c.isspace() for c in value):
            raise ValueError(f"PAGERDUTY_FROM_EMAIL must be a PagerDuty user's email address, got {value!r}")
        return value

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    def authorization(self) -> str | None:
        """The Authorization header value for the configured key kind, or None without a key."""
        if self.api_key is None:
            return None
        secret = self.api_key.get_secret_value()
        return f"Bearer {secret}" if self.token_kind == "bearer" else f"Token token={secret}"
