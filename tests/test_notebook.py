"""The walkthrough notebook, run cell by cell in a real Jupyter kernel, unattended, as CI runs it.

The kernel is this interpreter (a `python3` kernelspec written to a temporary folder), so the run does
not depend on which kernels the machine has registered. The environment holds no PagerDuty or OpenAI
key, so the notebook works on the embedded demo organisation in command mode; approvals are decided
by `IC_NOTEBOOK_APPROVAL_MODE`, and checkpoints go to a temporary file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import install
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "incident_commander.ipynb"
CELL_TIMEOUT = 180  # seconds; a generous ceiling for a loaded machine, not a speed check
_OUTSIDE = ("IC_", "PAGERDUTY_", "OPENAI_")  # settings of the person running the tests stay out of the kernel


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict[str, str]]:
    """A `python3` kernelspec for this interpreter, found first (JUPYTER_PATH), and the kernel's environment
    for an approval mode."""
    prefix = tmp_path / "jupyter"
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    install(prefix=str(prefix), kernel_name="python3")

    def env(approval_mode: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_OUTSIDE)}
        return inherited | {"IC_NOTEBOOK_APPROVAL_MODE": approval_mode, "MPLBACKEND": "Agg",
                            "IC_CHECKPOINT_DB": str(tmp_path / "checkpoints.sqlite"),
                            "IPYTHONDIR": str(tmp_path / "ipython")}

    return env


def client_for(notebook: nbformat.NotebookNode, tmp_path: Path) -> NotebookClient:
    """A client that starts (and afterwards shuts down) its own kernel from the `python3` spec."""
    return NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT,
                          resources={"metadata": {"path": str(tmp_path)}})


def shown(cell: nbformat.NotebookNode) -> str:
    """Everything a cell displayed, as text of every kind (Markdown, HTML, plain)."""
    return "\n".join(str(value) for output in cell.get("outputs", []) for value in output.get("data", {}).values())


def cell_of(notebook: nbformat.NotebookNode, source: str) -> list[nbformat.NotebookNode]:
    return [c for c in notebook.cells if c.cell_type == "code" and c.source.strip() == source]


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.mark.slow
def test_the_walkthrough_runs_unattended_with_auto_approve(tmp_path, kernel_env):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client_for(notebook, tmp_path).execute(env=kernel_env("auto-approve"))  # a failing cell raises

    [status] = cell_of(notebook, "from notebook_chat import NotebookChat\n\nchat = NotebookChat.from_settings()\nchat")
    assert "approvals: `auto-approve`" in shown(status) and "built-in PagerDuty simulator" in shown(status)

    before, after = cell_of(notebook, 'chat("oncall API Gateway")')
    assert "<table" in shown(before) and "Dana Whitfield" not in shown(before)
    assert "Dana Whitfield" in shown(after)  # the shift swap took effect

    [page] = cell_of(notebook, 'chat("page whoever is on call for API Gateway: latency alert")')
    assert "Approval needed" in shown(page) and "Approved automatically" in shown(page)
    assert "Triggered: #271 [triggered, high] latency alert — API Gateway" in shown(page)

    [swap] = cell_of(notebook, 'chat("override Platform Primary with dana.whitfield@acme.example for 8h")')
    assert "Override created" in shown(swap)

    [timeline] = cell_of(notebook, "chat.timeline(26)")
    kinds = [kind for output in timeline.outputs for kind in output.get("data", {})]
    assert "image/png" in kinds and "Auth Service token issuance p99 above 1s" in shown(timeline)
    assert "Log entries" in shown(timeline)

    [audit] = cell_of(notebook, "chat.audit()")
    assert "(auto-approve)" in shown(audit) and "create_override" in shown(audit)
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "stream"
                and o.name == "stderr" and "Traceback" in o.text], json.dumps(notebook.cells, default=str)[:2000]


@pytest.mark.slow
def test_a_click_on_approve_in_a_live_kernel_pages_and_shows_the_steps_in_the_card(tmp_path, kernel_env):
    """The button's real path: the frontend's comm message reaches the kernel after the cell finished."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        "from notebook_chat import NotebookChat\n"
        "chat = NotebookChat.from_settings()\n"
        'chat("page whoever is on call for API Gateway: latency alert")\n'
        "[card] = chat.cards.values()\n"
        "print(card.approve_button.model_id)",
        "sim = chat.commander.simulator\n"
        'print(len(chat.pending()), [i.status for i in sim.state.incidents.values() if i.title == "latency alert"])\n'
        "print(card.status.value, card.approve_button.disabled)\n"
        "print(card.progress.value)",
    )])
    client = client_for(notebook, tmp_path)
    with client.setup_kernel(env=kernel_env("widgets")):
        client.execute_cell(notebook.cells[0], 0)
        button = notebook.cells[0].outputs[-1]["text"].strip()
        click = client.kc.session.msg("comm_msg", {"comm_id": button,
                                                   "data": {"method": "custom", "content": {"event": "click"}}})
        client.kc.shell_channel.send(click)  # the kernel handles it before the next cell
        client.execute_cell(notebook.cells[1], 1)

    waiting_and_paged, status, progress = notebook.cells[1].outputs[0]["text"].splitlines()
    assert waiting_and_paged == "0 ['triggered']"  # nothing waits any more, and the incident exists
    assert status.startswith("<b>Approved by ") and status.endswith(" True")
    assert "✅ Creating the incident" in progress
