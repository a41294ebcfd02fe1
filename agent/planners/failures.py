"""Why the planning model could not answer, in words a person can act on.

The model is an outside service: it can be down, refuse the key, not know the model name, or send
something that is not a chat completion. Any of these stops a run before anything else happens in
that step; the person needs to know which one, and what to check, without a traceback.
"""

from __future__ import annotations

_NEXT = {
    401: "check OPENAI_API_KEY",
    403: "check that OPENAI_API_KEY may use this model",
    404: "check IC_MODEL and OPENAI_BASE_URL (the server does not know that model or path)",
    429: "the model endpoint is rate limiting or out of quota; wait, then resume",
}


class PlanningFailed(RuntimeError):
    """The planning model failed; the message says how and what to do about it."""


def explain(exc: BaseException) -> str:
    """One sentence: what went wrong with the model endpoint, and what to check."""
    import openai  # here, not at the top: slow to import, and command mode never needs it

    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body["error"] if isinstance(body.get("error"), dict) else body
        detail = error.get("message") or exc.message
        step = _NEXT.get(exc.status_code) or ("the model server failed; resume when it is back"
                                              if exc.status_code >= 500 else "check IC_MODEL and the server's logs")
        return f"the model endpoint answered HTTP {exc.status_code} ({str(detail).rstrip('.')}); {step}"
    if isinstance(exc, openai.APITimeoutError):
        return "the model endpoint did not answer in time; check that the server is up, then resume"
    if isinstance(exc, openai.APIConnectionError):
        url = exc.request.url
        where = f" at {url.host}" + (f":{url.port}" if url.port else "")
        return f"could not reach the model endpoint{where}; check OPENAI_BASE_URL and that the server is up"
    if isinstance(exc, (ValueError, TypeError, KeyError)):  # what the OpenAI client raises on a garbled body
        return (f"the model's reply could not be read ({type(exc).__name__}: {str(exc)[:200]}); "
                "check that OPENAI_BASE_URL points at an OpenAI-compatible server")
    return f"the planning model failed ({type(exc).__name__}: {str(exc)[:300]})"
