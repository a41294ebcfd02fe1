"""The one error the notebook helper raises: a sentence for a person, shown without a traceback."""

from __future__ import annotations


class NotebookError(ValueError):
    """Something the person asked for cannot be done; the message says why and what to do instead."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the reader needs the sentence, not our call stack."""
        return [f"{type(self).__name__}: {self}"]
