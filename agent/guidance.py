"""The words the graph adds for a model planner alone, in one place: what it is told, and what an answer must
never give back to people (`agent.grounding` withholds an answer that repeats any of them)."""

from __future__ import annotations

from agent.approvals import RETRY_GUIDANCE

LOOK_IT_UP = ("You answered without calling a tool. Reply with only the call of the tool that gets the facts or "
              "makes the change the request needs")
MAKE_THE_CHANGE = ("You looked things up but proposed no change. Reply with only the call of the tool that makes "
                   "the change the request asks for")
ANSWER_NOW = "(Reply to the person in one short sentence, or call the next tool the request needs.)"
ANSWER_LIST = "(Reply to the person with one short line per item, or call the next tool the request needs.)"
ASKED_BY = "(Asked by "  # how a served model reads who asked and when, after the request


def repeats_guidance(answer: str) -> bool:
    """Whether the answer gives back words meant for the model (the 1.5B Qwen answered with its reminder)."""
    said = " ".join(answer.split())
    guidance = (LOOK_IT_UP, MAKE_THE_CHANGE, ANSWER_NOW, ANSWER_LIST, RETRY_GUIDANCE.strip(), ASKED_BY)
    return any(text[:40] in said for text in guidance)
