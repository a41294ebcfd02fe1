"""What a notebook cell shows: the rich outputs `display` published while an action ran (needs the `shell`
fixture, so that `display` publishes at all)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.utils.capture import RichOutput, capture_output


def showing(action: Callable[[], Any]) -> list[RichOutput]:
    with capture_output() as captured:
        action()
    return captured.outputs


def of_kind(outputs: list[RichOutput], mime: str) -> list[Any]:
    return [o.data[mime] for o in outputs if mime in o.data]
