"""The agent's settings: the one place the agent reads the environment.

Every field is an environment variable (names as in the README's table); tests and surfaces may
also pass them by field name, e.g. `Settings(checkpoint_db=":memory:")`.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.planners.phrasing import read_aliases
from tools.settings import PagerDutySettings
from tools.timeparse import zone

DEFAULT_CHECKPOINT_DB = "~/.incident-commander/checkpoints.sqlite"
STATE_FILE_NAME = "simulator-state.json"


def settings_problem(error: ValidationError) -> str:
    """A settings error (the agent's or PagerDuty's) as one line naming the variable, without the value (it
    may be a secret)."""
    prefix = "PAGERDUTY_" if error.title == PagerDutySettings.__name__ else ""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        name = prefix + str(item["loc"][0]).upper() if item["loc"] else error.title
        message = item["msg"].removeprefix("Value error, ")
        problems.append(message if name in message else f"{name}: {message}")
    return "; ".join(problems)


def os_user() -> str:
    """The OS account name: who is asking when nobody in PagerDuty can be named."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # containers without a passwd entry
        return "unknown"


class Settings(BaseSettings):
    """How the commander plans, remembers and asks for approval."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY",
                                             description="Without it the commander runs in command mode.")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL",
                                        description="Any OpenAI-compatible server (vLLM, Ollama, llama.cpp).")
    model: str = Field("gpt-4.1-mini", alias="IC_MODEL")
    model_timeout: float = Field(120, gt=0, alias="IC_MODEL_TIMEOUT",
                                 description="Seconds to wait for one model reply; a local server reading a "
                                             "cold prompt on a CPU needs a minute or more.")
    model_retries: int = Field(2, ge=0, alias="IC_MODEL_RETRIES",
                               description="Retries of a model request that failed or timed out.")
    model_max_tokens: int = Field(1024, ge=16, alias="IC_MODEL_MAX_TOKENS",
                                  description="Longest reply; stops a looping model.")
    toolset: Literal["focused", "all"] = Field(
        "focused", alias="IC_TOOLSET", description="focused: each request first offers the model the tools it "
                                                   "is likely to need (a smaller, faster prompt); all: every tool.")
    checkpoint_db: str = Field(DEFAULT_CHECKPOINT_DB, alias="IC_CHECKPOINT_DB",
                               description='SQLite file for checkpoints and the audit log; ":memory:" for tests.')
    simulator_state: str | None = Field(None, alias="IC_SIMULATOR_STATE",
                                        description="JSON file keeping the embedded demo organisation between "
                                                    "processes; default beside the checkpoint DB.")
    approval_policy: Path | None = Field(None, alias="IC_APPROVAL_POLICY",
                                         description="YAML policy replacing agent/approval_policy.yaml.")
    approval_ttl_minutes: int = Field(15, ge=1, alias="IC_APPROVAL_TTL_MINUTES")
    max_model_calls: int = Field(12, ge=1, alias="IC_MAX_MODEL_CALLS", description="Per turn.")
    recursion_limit: int = Field(50, ge=4, alias="IC_RECURSION_LIMIT", description="Graph steps per run.")
    requester: str | None = Field(None, alias="IC_REQUESTER",
                                  description="Who is asking when a surface does not say (a PagerDuty user's "
                                              "email or name); default the user PagerDuty writes are made as.")
    time_zone: str | None = Field(None, alias="IC_TIME_ZONE",
                                  description="IANA zone for times said without one in command mode (else UTC), "
                                              "and for the times its answers show (UTC beside them).")
    aliases: Path | None = Field(None, alias="IC_ALIASES",
                                 description="YAML file mapping what people call things to PagerDuty names.")

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        return zone(value).key if value else None

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: Path | None) -> Path | None:
        read_aliases(value)  # a bad file is a configuration error at start, not a surprise mid-incident
        return value

    @property
    def checkpoint_path(self) -> str:
        """`checkpoint_db` with `~` expanded (":memory:" unchanged)."""
        return self.checkpoint_db if self.checkpoint_db == ":memory:" else str(Path(self.checkpoint_db).expanduser())

    @property
    def simulator_state_path(self) -> Path | None:
        """Where the embedded simulator keeps its organisation; None (a fresh one per process) when the
        checkpoints are in memory, because approvals that vanish with the process cannot be decided later."""
        if self.checkpoint_path == ":memory:":
            return None
        if self.simulator_state:
            return Path(self.simulator_state).expanduser()
        return Path(self.checkpoint_path).with_name(STATE_FILE_NAME)
