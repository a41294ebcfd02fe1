"""Typed PagerDuty errors: what went wrong, in words a planner (or a person) can act on.

Each error keeps PagerDuty's own code, message and `errors[]` detail (short and specific, so they
are passed on verbatim) plus the request it came from and its `x-request-id`, which PagerDuty
support asks for. Callers branch on the class, never on a parsed string.
"""

from __future__ import annotations

import re
from typing import Any

_SCOPE = re.compile(r"\bscope\s+([a-z_]+\.(?:read|write))\b", re.IGNORECASE)
_MAX_DETAIL = 300


class PagerDutyError(Exception):
    """Base class: `status` is None when the request never reached PagerDuty."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 errors: list[str] | None = None, request_id: str | None = None, method: str | None = None,
                 path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.errors = list(errors or [])
        self.request_id = request_id
        self.method = method
        self.path = path

    def hint(self) -> str | None:
        """What to do about it, when the class knows better than PagerDuty's message."""
        return None

    def __str__(self) -> str:
        where = f"{self.method} {self.path}" if self.method and self.path else "PagerDuty request"
        status = f"HTTP {self.status}" if self.status is not None else "not sent"
        code = f", code {self.code}" if self.code is not None else ""
        text = f"{where} failed ({status}{code}): {self.message}"
        if self.errors:
            text += " — " + "; ".join(e.rstrip(". ") for e in self.errors)
        text = text.rstrip(". ")
        if len(text) > _MAX_DETAIL:
            text = text[:_MAX_DETAIL - 1] + "…"
        hint = self.hint()
        return f"{text}. {hint}." if hint else f"{text}."

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r}, "
                f"request_id={self.request_id!r}, method={self.method!r}, path={self.path!r})")


class ConfigurationError(PagerDutyError):
    """A setting is missing or wrong; the message names the setting. Nothing was sent."""


class InvalidInput(PagerDutyError):
    """400 (or a request refused locally): the arguments are wrong; retrying the same call will not help."""


class Unauthorized(PagerDutyError):
    """401: PagerDuty did not accept the key at all."""

    def hint(self) -> str:
        return ("Check PAGERDUTY_API_KEY, that PAGERDUTY_TOKEN_KIND matches it (token for REST API keys, "
                "bearer for OAuth tokens), and that PAGERDUTY_API_HOST is your account's region "
                "(https://api.eu.pagerduty.com for EU accounts)")


class Forbidden(PagerDutyError):
    """403: the key works but may not do this (read-only key, missing OAuth scope, or read-only mode)."""

    @property
    def missing_scope(self) -> str | None:
        for text in (self.message, *self.errors):
            match = _SCOPE.search(text)
            if match:
                return match.group(1)
        return None

    def hint(self) -> str | None:
        scope = self.missing_scope
        return f"The token needs the OAuth scope {scope}" if scope else None


class NotFound(PagerDutyError):
    """404: no such object (or no such endpoint)."""


class RateLimited(PagerDutyError):
    """429 after the retry budget ran out; `reset_in` is PagerDuty's advice in seconds, when it gave one."""

    def __init__(self, message: str, *, reset_in: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.reset_in = reset_in

    def hint(self) -> str | None:
        return f"Try again in {self.reset_in:g} s" if self.reset_in is not None else None


class ServerError(PagerDutyError):
    """5xx, or an answer that is not the JSON PagerDuty promises."""


class NetworkError(PagerDutyError):
    """No answer: timeout, refused or dropped connection. `sent` is False when no connection was made, so
    PagerDuty cannot have acted on the request."""

    def __init__(self, message: str, *, sent: bool = True, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.sent = sent


class UnconfirmedWrite(Exception):
    """A change PagerDuty did not confirm: it answered 5xx, or no answer came back after the retries.

    Raised past the tool (not turned into its error text) so the run stops at that very call and a resume
    repeats it with the same call id; every write tool is safe to repeat.
    """

    def __init__(self, doing: str, error: ServerError | NetworkError) -> None:
        super().__init__(f"could not confirm that PagerDuty did this: {doing} — {error}")
        self.doing = doing
        self.error = error

    @property
    def may_have_happened(self) -> bool:
        return not (isinstance(self.error, NetworkError) and not self.error.sent)

    def said(self) -> str:
        """What PagerDuty did instead of confirming, in words: 'answered 503', 'gave no answer (timed out)'."""
        if isinstance(self.error, ServerError) and self.error.status is not None:
            return f"answered {self.error.status} ({self.error.message.rstrip('.')})"
        return self.error.message.rstrip(".")


_BY_STATUS: dict[int, type[PagerDutyError]] = {
    400: InvalidInput, 401: Unauthorized, 403: Forbidden, 404: NotFound, 413: InvalidInput, 429: RateLimited,
}


def error_class(status: int) -> type[PagerDutyError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, PagerDutyError)


def parse_error_body(body: Any) -> tuple[str | None, int | None, list[str]]:
    """(message, code, errors) from the REST body `{"error": {...}}` or the Events body `{"message", "errors"}`."""
    if not isinstance(body, dict):
        return None, None, []
    inner: dict = body["error"] if isinstance(body.get("error"), dict) else body
    message = inner.get("message")
    code = inner.get("code")
    errors = inner.get("errors")
    return (str(message) if message is not None else None,
            code if isinstance(code, int) else None,
            [str(e) for e in errors] if isinstance(errors, list) else [])
