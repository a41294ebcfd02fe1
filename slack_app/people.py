"""Who a Slack user is in PagerDuty, and whether they may decide approvals.

A person's PagerDuty identity is their email: from the mapping file when it names them (for
workspaces whose Slack and PagerDuty emails differ), else from their Slack profile (`users.info`,
which needs the `users:read.email` scope). Someone with neither gets a clear refusal, so nothing is
ever written to PagerDuty on behalf of an unknown person.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from slack_sdk import WebClient

from slack_app.errors import SLACK_FAILURES, Refusal, slack_problem
from slack_app.settings import SlackSettings


def load_user_map(path: Path | None) -> dict[str, str]:
    """Slack user id → email from a YAML mapping; a broken file fails at start-up with its path."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"IC_SLACK_USER_MAP {path}: cannot read it ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"IC_SLACK_USER_MAP {path}: expected lines like `U012ABCDEF: name@example.com`")
    bad = [str(k) for k, v in data.items() if not isinstance(v, str) or "@" not in v]
    if bad:
        raise ValueError(f"IC_SLACK_USER_MAP {path}: these ids do not map to an email address: {', '.join(bad)}")
    return {str(k): v.strip() for k, v in data.items()}


class People:
    """Identity and approval rights of Slack users, asked of Slack each time (no stale cache)."""

    def __init__(self, client: WebClient, settings: SlackSettings, user_map: dict[str, str] | None = None) -> None:
        self._client = client
        self._map = dict(user_map if user_map is not None else load_user_map(settings.user_map))
        self._approvers = frozenset(settings.approvers)
        self._group = settings.approver_group

    def email(self, user_id: str) -> str:
        """The PagerDuty email acting for this Slack user; `Refusal` when there is none."""
        if user_id in self._map:
            return self._map[user_id]
        try:
            user = self._client.users_info(user=user_id)["user"]
        except SLACK_FAILURES as exc:
            raise Refusal(f"I could not look up your Slack profile ({slack_problem(exc)}), so I cannot tell who you "
                          "are in PagerDuty. Nothing was done.") from exc
        email = (user.get("profile") or {}).get("email")
        if not email:
            raise Refusal(f"I don't know your PagerDuty account: your Slack profile shows no email. Ask an admin to "
                          f"add `{user_id}: your-pagerduty-email` to the file in IC_SLACK_USER_MAP. Nothing was done.")
        return email

    def check_approver(self, user_id: str) -> None:
        """Pass if the user is on the approvers list or in the approvers' user group; else `Refusal`."""
        if user_id in self._approvers:
            return
        if self._group is not None:
            try:
                members = self._client.usergroups_users_list(usergroup=self._group)["users"]
            except SLACK_FAILURES as exc:
                raise Refusal(f"I could not check the approvers' group ({slack_problem(exc)}); nothing was "
                              "decided.") from exc
            if user_id in members:
                return
        if not self._approvers and self._group is None:
            raise Refusal("Nobody may approve from Slack yet: an admin must set IC_SLACK_APPROVERS (user ids) or "
                          "IC_SLACK_APPROVER_GROUP. Nothing was decided.")
        raise Refusal("You are not one of the approvers for PagerDuty changes, so your click was not counted. "
                      "Ask someone on the approvers list; nothing was decided.")
