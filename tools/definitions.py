"""The tool definitions the planner model reads: each tool's JSON schema, made lean.

Every token of these definitions is read on every model call, and small models copy what they see:
an optional argument shown with `"default": null` gets filled with null or the word "default". So a
definition keeps what helps choose and fill a call — name, one-line description, argument types, enums,
descriptions, which arguments are required, and real defaults — and leaves out what the argument
models check anyway (lengths, bounds) and what only restates "optional" (null defaults, titles).
`tools.langchain_tools.definition` applies it to a LangChain tool's OpenAI definition.
"""

from __future__ import annotations

from typing import Any

CHECKED_NOT_SHOWN = frozenset({"title", "maxLength", "minLength", "maximum", "minimum", "maxItems", "minItems"})


def lean(schema: Any) -> Any:
    """A JSON schema without null defaults, titles and the bounds the argument models enforce."""
    if isinstance(schema, list):
        return [lean(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept = {key: lean(value) for key, value in schema.items()
            if key not in CHECKED_NOT_SHOWN and not (key == "default" and value is None)}
    if isinstance(schema.get("properties"), dict):  # argument names, not schema keywords: an argument may be "title"
        kept["properties"] = {name: lean(value) for name, value in schema["properties"].items()}
    return kept
