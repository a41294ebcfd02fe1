"""PagerDutySettings: environment names, host rules, key kinds; and what a client does without a key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tools.client import PagerDutyClient
from tools.errors import ConfigurationError
from tools.settings import PagerDutySettings

ENV = ("API_KEY", "API_HOST", "EVENTS_HOST", "FROM_EMAIL", "TOKEN_KIND", "TIMEOUT", "MAX_ATTEMPTS", "MAX_WAIT",
       "READ_ONLY")


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(f"PAGERDUTY_{name}", raising=False)
    return monkeypatch


def test_defaults(clean_env):
    s = PagerDutySettings()
    assert (s.api_key, s.api_host, s.events_host, s.from_email, s.token_kind) == (
        None, "https://api.pagerduty.com", "https://events.pagerduty.com", None, "token")
    assert (s.timeout, s.max_attempts, s.max_wait, s.read_only) == (30, 5, 120, False)


def test_every_setting_comes_from_its_environment_variable(clean_env):
    values = {"API_KEY": "u+abcdefgh", "API_HOST": "https://api.eu.pagerduty.com/", "FROM_EMAIL": "sre@acme.example",
              "EVENTS_HOST": "https://events.eu.pagerduty.com", "TOKEN_KIND": "bearer", "TIMEOUT": "12.5",
              "MAX_ATTEMPTS": "3", "MAX_WAIT": "45", "READ_ONLY": "true"}
    for name, value in values.items():
        clean_env.setenv(f"PAGERDUTY_{name}", value)
    s = PagerDutySettings()
    assert s.api_key is not None and s.api_key.get_secret_value() == "u+abcdefgh"
    assert (s.api_host, s.events_host, s.from_email, s.token_kind) == (
        "https://api.eu.pagerduty.com", "https://events.eu.pagerduty.com", "sre@acme.example", "bearer")
    assert (s.timeout, s.max_attempts, s.max_wait, s.read_only) == (12.5, 3, 45, True)
    assert s.authorization() == "Bearer u+abcdefgh"
    assert "u+abcdefgh" not in repr(s) and "u+abcdefgh" not in str(s)


def test_a_rest_key_is_sent_as_token_token(clean_env):
    assert PagerDutySettings(api_key="abcdefgh").authorization() == "Token token=abcdefgh"


@pytest.mark.parametrize("host", ["http://127.0.0.1:8080", "http://127.9.9.9", "http://localhost:9000",
                                  "http://[::1]:8443", "https://sim.internal:8443"])
def test_plain_http_is_allowed_on_loopback_only(clean_env, host):
    assert PagerDutySettings(api_host=host).api_host == host


@pytest.mark.parametrize("host, complaint", [
    ("http://api.pagerduty.com", "only for a loopback host"),
    ("http://10.0.0.5:8080", "only for a loopback host"),
    ("ftp://api.pagerduty.com", "must be an https:// URL"),
    ("api.pagerduty.com", "must be an https:// URL"),
    ("https://api.pagerduty.com/?x=1", "query or fragment"),
])
def test_other_hosts_must_use_https(clean_env, host, complaint):
    with pytest.raises(ValidationError, match=complaint) as caught:
        PagerDutySettings(api_host=host)
    assert "PAGERDUTY_API_HOST" in str(caught.value)


def test_the_events_host_follows_the_same_rule(clean_env):
    with pytest.raises(ValidationError, match="PAGERDUTY_EVENTS_HOST"):
        PagerDutySettings(events_host="http://events.pagerduty.com")


def test_from_email_must_look_like_an_email_and_blank_means_unset(clean_env):
    with pytest.raises(ValidationError, match="PAGERDUTY_FROM_EMAIL"):
        PagerDutySettings(from_email="not-an-email")
    assert PagerDutySettings(from_email="  ").from_email is None


def test_token_kind_is_token_or_bearer(clean_env):
    with pytest.raises(ValidationError):
        PagerDutySettings(token_kind="oauth")


def test_a_client_without_a_key_says_which_setting_to_set(clean_env):
    with pytest.raises(ConfigurationError, match="PAGERDUTY_API_KEY"):
        PagerDutyClient()


def test_explicit_arguments_override_the_settings_and_are_validated(clean_env):
    base = PagerDutySettings(api_key="abcdefgh", from_email="a@acme.example")
    client = PagerDutyClient(base, host="https://api.eu.pagerduty.com", token_kind="bearer")
    assert (client.settings.api_host, client.settings.token_kind, client.settings.from_email) == (
        "https://api.eu.pagerduty.com", "bearer", "a@acme.example")
    with pytest.raises(ValidationError):
        PagerDutyClient(base, host="http://example.com")
    assert "abcdefgh" not in repr(client)
