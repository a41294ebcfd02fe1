"""Starting the Slack app: settings, the manifest, the `serve` command's refusals, Socket Mode."""

from __future__ import annotations

import logging
from importlib import resources

import pytest
import yaml
from fake_slack import BOT_TOKEN, FakeSlack, slack_world
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from typer.testing import CliRunner

from slack_app.app import SetupError, build_app
from slack_app.cli import app as slack_cli
from slack_app.people import load_user_map
from slack_app.server import socket_mode_handler
from slack_app.settings import SlackSettings

CLEAN_ENV = {name: "" for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")}


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("IC_SLACK_APPROVERS", "U1, U2,")
    monkeypatch.setenv("IC_SLACK_TWO_PERSON_RULE", "true")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    settings = SlackSettings()
    assert settings.approvers == ("U1", "U2") and settings.two_person_rule and settings.command == "/ic"
    assert "xoxb-1" not in repr(settings)


def test_a_bad_command_name_is_refused():
    with pytest.raises(ValueError, match="must look like /ic"):
        SlackSettings(command="ic")


def test_the_manifest_offers_the_command_events_and_buttons():
    manifest = yaml.safe_load(resources.files("slack_app").joinpath("manifest.yaml").read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/ic" and command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert {"commands", "chat:write", "users:read.email"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_serve_without_a_bot_token_says_what_to_set():
    result = CliRunner().invoke(slack_cli, ["serve"], env=CLEAN_ENV)
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN is not set" in result.output and "Traceback" not in result.output


def test_serve_in_socket_mode_needs_the_app_token():
    result = CliRunner().invoke(slack_cli, ["serve", "--socket-mode"], env=CLEAN_ENV | {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert result.exit_code == 2 and "SLACK_APP_TOKEN" in result.output


def test_http_mode_needs_the_signing_secret(sim, clock):
    with slack_world(sim, clock) as world, pytest.raises(SetupError, match="SLACK_SIGNING_SECRET"):
        build_app(world.commander, SlackSettings(bot_token=BOT_TOKEN), client=WebClient(token=BOT_TOKEN))


def test_a_refused_bot_token_is_reported_at_start(sim, clock):
    with slack_world(sim, clock) as world, FakeSlack() as other:
        settings = SlackSettings(bot_token="xoxb-wrong", signing_secret="s", api_url=other.api_url)
        with pytest.raises(SetupError, match="invalid_auth"):
            build_app(world.commander, settings)


def test_socket_mode_is_built_on_the_same_app_without_connecting(sim, clock):
    with slack_world(sim, clock) as world:
        settings = SlackSettings(bot_token=BOT_TOKEN, app_token="xapp-fake", api_url=world.slack.api_url)
        bolt = build_app(world.commander, settings, client=WebClient(token=BOT_TOKEN, base_url=world.slack.api_url),
                         socket_mode=True)
        handler = socket_mode_handler(bolt, settings)
        assert isinstance(handler, SocketModeHandler) and handler.app is bolt
        assert not world.slack.of("apps.connections.open")  # nothing connected yet


def test_user_map_file(tmp_path):
    good = tmp_path / "users.yaml"
    good.write_text("U0BILAL: bilal.khan@acme.example\n")
    assert load_user_map(good) == {"U0BILAL": "bilal.khan@acme.example"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("U0BILAL: bilal\n")
    with pytest.raises(ValueError, match="U0BILAL"):
        load_user_map(bad)


def test_the_app_starts_without_bolts_warning_about_the_token(sim, clock, monkeypatch, caplog):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)  # as in production: the client is built from it
    with slack_world(sim, clock) as world, caplog.at_level(logging.INFO):
        build_app(world.commander, SlackSettings(bot_token=BOT_TOKEN, signing_secret="s"),
                  client=WebClient(token=BOT_TOKEN, base_url=world.slack.api_url))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
