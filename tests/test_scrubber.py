"""The one secret filter: configured secrets and token-shaped strings come out as `…` plus 4 characters."""

from __future__ import annotations

from agent.redaction import Scrubber


def test_configured_secrets_and_token_shapes_are_masked_and_ordinary_text_is_not():
    scrub = Scrubber("pd-canary-token-1234", None, "short")
    text = ("401: Incorrect API key provided: sk-proj-ABCDEFGHIJKLMNOPQRSTUV; token pd-canary-token-1234; "
            "slack xoxb-1111-2222-abcdefgh; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9; "
            "Token token=[redacted]; routing_key=R0123456789abcdef0123456789abcdef; incident key "
            "ic-0123456789abcdef0123456789abcdef; short")

    assert scrub(text) == (
        "401: Incorrect API key provided: …STUV; token …1234; slack …efgh; Authorization: Bearer …NiJ9; "
        "Token token=[redacted]; routing_key=…cdef; incident key ic-0123456789abcdef0123456789abcdef; short")


def test_secrets_learned_later_are_masked_inside_nested_values():
    scrub = Scrubber()
    scrub.learn("signing-secret-abcd")
    assert scrub.value({"a": ["x signing-secret-abcd y"], "n": 3}) == {"a": ["x …abcd y"], "n": 3}
