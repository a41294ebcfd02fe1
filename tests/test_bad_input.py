"""Arguments beyond anything PagerDuty accepts are refused with a clear reason before they are stored or sent."""

from __future__ import annotations

import pytest
from demo_org import incident_id

from tools.registry import TOOLS
from tools.schemas import beyond_limits

INCIDENT_268 = incident_id(268)


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("tool, arguments, problem", [
    ("update_incident", {"incident": INCIDENT_268, "action": "escalate", "escalation_level": 2**64},
     "integers must be between"),
    ("manage_incidents", {"incidents": nested(50), "action": "resolve"}, "nested more than 6 levels"),
    ("add_note", {"incident": INCIDENT_268, "content": "x" * 70_000}, "longer than 64,000 characters"),
])
def test_out_of_range_arguments_are_refused_with_the_reason(tool, arguments, problem):
    assert problem in (beyond_limits(arguments) or "")
    with pytest.raises(ValueError, match=problem):
        TOOLS[tool].args.model_validate(arguments)


def test_ordinary_arguments_are_within_limits():
    assert beyond_limits({"incidents": [f"Q{i:06d}" for i in range(250)], "action": "resolve"}) is None
    assert beyond_limits({"service": {"id": "P1", "type": "service_reference"}, "title": "x" * 255}) is None
