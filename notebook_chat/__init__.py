"""The incident commander in Jupyter: `chat = NotebookChat.from_settings()`, then `chat("oncall API Gateway")`."""

from notebook_chat.errors import NotebookError
from notebook_chat.settings import APPROVAL_MODES, ApprovalMode

NOTEBOOK_EXTRA = ("IPython", "ipywidgets", "matplotlib")

try:
    from notebook_chat.chat import Exchange, NotebookChat
except ModuleNotFoundError as missing:  # the notebook extra is optional for the other surfaces
    if (missing.name or "").split(".")[0] not in NOTEBOOK_EXTRA:
        raise
    raise ModuleNotFoundError(f"The notebook chat needs {missing.name}: install the notebook extra, "
                              "pip install 'incident-commander[notebook]'.", name=missing.name) from None

__all__ = ["APPROVAL_MODES", "ApprovalMode", "Exchange", "NotebookChat", "NotebookError"]
