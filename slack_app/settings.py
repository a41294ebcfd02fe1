"""Slack settings: the only place the Slack surface reads the environment.

Every field is an environment variable; tests and the CLI may also pass them by field name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SLACK_API_URL = "https://slack.com/api/"


class SlackSettings(BaseSettings):
    """How the app talks to Slack and who may approve changes from it."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN", description="xoxb-… bot token.")
    signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET",
                                             description="Checks that HTTP requests come from Slack.")
    app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN",
                                        description="xapp-… app-level token, for Socket Mode only.")
    approvers: Annotated[tuple[str, ...], NoDecode] = Field(
        (), alias="IC_SLACK_APPROVERS", description="Slack user ids who may decide approvals, comma-separated.")
    approver_group: str | None = Field(None, alias="IC_SLACK_APPROVER_GROUP",
                                       description="A Slack user group id (S…) whose members may decide approvals.")
    two_person_rule: bool = Field(False, alias="IC_SLACK_TWO_PERSON_RULE",
                                  description="The requester cannot approve their own medium- or high-risk change.")
    command: str = Field("/ic", alias="IC_SLACK_COMMAND", description="The slash command, as set up in Slack.")
    user_map: Path | None = Field(None, alias="IC_SLACK_USER_MAP",
                                  description="YAML file: Slack user id → PagerDuty email; else users.info is asked.")
    public_replies: bool = Field(False, alias="IC_SLACK_PUBLIC_REPLIES",
                                 description="Post answers to reads and help in the channel; by default only the "
                                             "person who asked sees them. Approval cards are always posted.")
    api_url: str = Field(SLACK_API_URL, alias="IC_SLACK_API_URL", description="Slack Web API base URL.")

    @field_validator("approvers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("command")
    @classmethod
    def _slash(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/") or len(value) < 2 or " " in value:
            raise ValueError(f"IC_SLACK_COMMAND must look like /ic, got {value!r}")
        return value

    @field_validator("bot_token", "signing_secret", "app_token")
    @classmethod
    def _blank_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("approver_group")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None
