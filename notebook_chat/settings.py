"""The notebook's own setting: how approvals are decided, so one notebook runs by hand and unattended.

Read from `IC_NOTEBOOK_APPROVAL_MODE` (CI sets `auto-approve`), or passed by name; the argument of
`NotebookChat.from_settings` wins over both.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from notebook_chat.errors import NotebookError

ApprovalMode = Literal["widgets", "manual", "auto-approve", "auto-reject"]
APPROVAL_MODES: tuple[str, ...] = get_args(ApprovalMode)


class NotebookSettings(BaseSettings):
    """`widgets`: Approve/Reject buttons; `manual`: decide with `chat.approve()` and friends;
    `auto-approve` / `auto-reject`: decided at once, for unattended runs."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    approval_mode: ApprovalMode = Field("widgets", alias="IC_NOTEBOOK_APPROVAL_MODE")


def resolve_approval_mode(chosen: str | None = None) -> ApprovalMode:
    """`chosen`, else the environment's, else `widgets`; an unknown mode says which ones exist."""
    try:
        settings = NotebookSettings() if chosen is None else NotebookSettings(approval_mode=chosen)
    except ValidationError:
        where = f"approval_mode={chosen!r}" if chosen is not None else "IC_NOTEBOOK_APPROVAL_MODE"
        raise NotebookError(f"Unknown approval mode in {where}: use one of {', '.join(APPROVAL_MODES)}.") from None
    return settings.approval_mode
