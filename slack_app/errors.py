"""Readable failures: what Slack said, in words a person can act on."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

_HINTS = {
    "not_in_channel": "the app is not a member of this channel; invite it with `/invite @Incident Commander`",
    "channel_not_found": "the app cannot see this channel; invite it, or use a public channel",
    "is_archived": "the channel is archived",
    "missing_scope": "the app lacks a Slack permission ({needed}); reinstall it from the manifest",
    "invalid_auth": "Slack refused the bot token; check SLACK_BOT_TOKEN",
    "token_revoked": "the bot token was revoked; reinstall the app and update SLACK_BOT_TOKEN",
    "account_inactive": "the bot token belongs to a deactivated app or user; reinstall the app",
    "ratelimited": "Slack is rate limiting the app; try again in a minute",
    "msg_too_long": "the message was too long for Slack",
    "invalid_blocks": "Slack rejected the message layout",
    "user_not_found": "Slack does not know this user",
    "no_such_subteam": "the user group in IC_SLACK_APPROVER_GROUP does not exist",
    "expired_trigger_id": "the click is too old to open a dialog; click again",
}


SLACK_FAILURES = (SlackApiError, OSError)  # what a Web API call raises: Slack's refusal, or no connection


class Refusal(Exception):
    """A request the app will not carry out; the message tells the person why and what to do."""


def slack_problem(exc: Exception) -> str:
    """'Slack answered `not_in_channel`: the app is not a member …' — never a traceback or a token."""
    if not isinstance(exc, SlackApiError):
        return f"Slack could not be reached ({type(exc).__name__})"
    code = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    hint = _HINTS.get(code)
    if hint is None:
        return f"Slack answered `{code}`"
    return f"Slack answered `{code}`: " + hint.format(needed=exc.response.get("needed") or "see the manifest")
