"""A stand-in for OpenAI's Chat Completions endpoint, served over real HTTP by `tests.servers`.

It speaks the wire protocol the `openai` SDK (and so `ChatOpenAI`) expects — `POST /v1/chat/completions`
answered with a `chat.completion` object, or with `chat.completion.chunk` server-sent events when the
request says `"stream": true` — and plays a script of assistant replies, so the product's real
langchain-openai code path runs without a model. Every request body is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any, TypeAlias

MODEL = "fake-gpt"


@dataclass(frozen=True)
class Broken:
    """An HTTP answer that is not a usable completion. Once reached it is sticky: the server keeps
    answering the same way, as a real outage does, so the SDK's own retries meet it too."""

    status: int = 500
    body: str = json.dumps({"error": {"message": "The server had an error while processing your request.",
                                      "type": "server_error", "param": None, "code": None}})
    content_type: str = "application/json"


@dataclass(frozen=True)
class Stall:
    """No answer for `seconds` (a model server still reading a long prompt), then `reply`. Like `Broken`,
    it is sticky, so the client's retries stall too."""

    seconds: float
    reply: dict[str, Any]


# One scripted reply: an assistant message ({"content", "tool_calls"}), a broken answer, or a stall.
CannedResponse: TypeAlias = dict[str, Any] | Broken | Stall


def says(text: str) -> dict[str, Any]:
    """An assistant reply in words (`finish_reason` "stop")."""
    return {"content": text, "tool_calls": []}


def calls(*called: tuple[str, dict[str, Any] | str]) -> dict[str, Any]:
    """An assistant reply that calls tools; arguments travel as a JSON string, as OpenAI sends them
    (a string is sent as it is: models do send broken JSON)."""
    return {"content": None, "tool_calls": [
        {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)} for name, args in called]}


class FakeOpenAI:
    """An ASGI app: scripted Chat Completions, and the request bodies it was sent (`requests`)."""

    def __init__(self, script: list[CannedResponse]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self._played = 0
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if (scope["method"], scope["path"]) != ("POST", "/v1/chat/completions"):
            await _respond(send, 404, "application/json",
                           json.dumps({"error": {"message": f"Unknown request URL: {scope['method']} {scope['path']}",
                                                 "type": "invalid_request_error"}}))
            return
        request = json.loads(body)
        reply, number = self._next(request)
        if isinstance(reply, Stall):
            await asyncio.sleep(reply.seconds)
            reply = reply.reply
        if isinstance(reply, Broken):
            await _respond(send, reply.status, reply.content_type, reply.body)
        elif request.get("stream"):
            await _respond(send, 200, "text/event-stream", "".join(
                f"data: {json.dumps(chunk)}\n\n" for chunk in _chunks(reply, number, request)) + "data: [DONE]\n\n")
        else:
            await _respond(send, 200, "application/json", json.dumps(_completion(reply, number)))

    def _next(self, request: dict[str, Any]) -> tuple[CannedResponse, int]:
        with self._lock:
            self.requests.append(request)
            number = self._played
            if number >= len(self.script):
                return Broken(500, json.dumps({"error": {"message": f"the fake's script has no reply #{number + 1}",
                                                         "type": "server_error"}})), number
            reply = self.script[number]
            if not isinstance(reply, (Broken, Stall)):
                self._played += 1
            return reply, number


def _tool_calls(reply: dict[str, Any], number: int) -> list[dict[str, Any]]:
    return [{"id": f"call_{number}_{k}", "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"]}} for k, c in enumerate(reply["tool_calls"])]


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}


def _completion(reply: dict[str, Any], number: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply["content"], "refusal": None}
    if reply["tool_calls"]:
        message["tool_calls"] = _tool_calls(reply, number)
    return {"id": f"chatcmpl-{number}", "object": "chat.completion", "created": 1_700_000_000 + number,
            "model": MODEL, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if reply["tool_calls"] else "stop"}],
            "usage": _usage()}


def _chunks(reply: dict[str, Any], number: int, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The reply as OpenAI streams it: role first, text word by word, each tool call's name and id and
    then its arguments in two pieces, a finishing chunk, and the usage when the client asked for it."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": f"chatcmpl-{number}", "object": "chat.completion.chunk", "created": 1_700_000_000 + number,
                "model": MODEL, "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    words = (reply["content"] or "").split(" ") if reply["content"] else []
    out += [chunk({"content": (" " if n else "") + word}) for n, word in enumerate(words)]
    for index, call in enumerate(_tool_calls(reply, number)):
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        out.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                          "function": {"name": call["function"]["name"], "arguments": ""}}]}))
        out += [chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                for piece in (arguments[:half], arguments[half:])]
    out.append(chunk({}, "tool_calls" if reply["tool_calls"] else "stop"))
    if (request.get("stream_options") or {}).get("include_usage"):
        out.append({**chunk({}), "choices": [], "usage": _usage()})
    return out


async def _respond(send, status: int, content_type: str, body: str) -> None:
    # `retry-after-ms` is a header OpenAI sends and its SDK honours: the SDK's retries stay quick here.
    headers = [(b"content-type", content_type.encode()), (b"retry-after-ms", b"10")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})
