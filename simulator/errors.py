"""PagerDuty's error answers: `{"error": {"message", "code", "errors": [...]}}` with its status codes."""

from __future__ import annotations


class ApiError(Exception):
    """Raised anywhere in the simulator; the HTTP layer turns it into PagerDuty's error body."""

    def __init__(self, status: int, code: int | None, message: str, errors: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors if errors is not None else []
        self.headers = headers or {}

    def body(self) -> dict:
        error: dict = {"message": self.message, "code": self.code}
        if self.errors:
            error["errors"] = self.errors
        return {"error": error}


def invalid_input(*errors: str) -> ApiError:
    return ApiError(400, 2001, "Invalid Input Provided", list(errors))


def arguments_error(*errors: str) -> ApiError:
    return ApiError(400, 2002, "Arguments Caused Error", list(errors))


def invalid_date_range(*errors: str) -> ApiError:
    return ApiError(400, 2005, "Invalid Query Date Range", list(errors))


def not_found(*errors: str) -> ApiError:
    return ApiError(404, 2100, "Not Found", list(errors))


def unauthorized() -> ApiError:
    return ApiError(401, 2006, "Authentication failed")


def forbidden(*errors: str) -> ApiError:
    return ApiError(403, 2010, "Access Denied", list(errors))


def from_header_missing() -> ApiError:
    return ApiError(400, 2016, 'You must specify a user\'s email address in the "From" header to perform this action',
                    ['The "From" header is required with an account-level API token for this operation.'])


def user_not_found(email: str) -> ApiError:
    return ApiError(400, 2013, "User not found", [f'No user has the email "{email}" given in the "From" header.'])


def rate_limited(headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(429, 2020, "Rate Limit Exceeded", headers=headers)
