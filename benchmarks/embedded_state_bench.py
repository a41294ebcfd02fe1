"""What keeping the embedded demo organisation in a file costs, each figure beside the in-memory simulator.

    python benchmarks/embedded_state_bench.py [--seconds 2]

Reads pay one `stat` of the state file; writes pay a locked save of the whole organisation; a process
start loads the file instead of building the organisation (and its history) from the dataset.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import best_per_call

from agent.embedded import DEMO_DATASET, demo_credentials
from agent.embedded_state import SavedOrganisation
from simulator import Simulator


def client(transport: httpx.BaseTransport) -> httpx.Client:
    credentials = demo_credentials()
    return httpx.Client(transport=transport, base_url="https://api.pagerduty.com", headers={
        "Authorization": f"Token token={credentials['api_key']}", "From": credentials["from_email"],
        "Accept": "application/vnd.pagerduty+json;version=2"})


def unlimited() -> Simulator:
    """The demo organisation without rate limits, so the loops measure the work and not 429s."""
    sim = Simulator.from_dataset(DEMO_DATASET)
    sim.state.dataset.rate_limits = sim.state.dataset.rate_limits.model_copy(update={"requests_per_minute": 10**9})
    return sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="Wall time per comparison.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    store = SavedOrganisation(folder / "simulator-state.json", usable=lambda state: True)
    kept = store.load_or_build(unlimited, None)
    plain = unlimited()
    in_memory, in_file = client(plain.transport()), client(store.transport(kept))
    incident = next(iter(plain.state.incidents))
    notes = itertools.count()

    def note(api: httpx.Client) -> None:
        api.post(f"/incidents/{incident}/notes", json={"note": {"content": f"bench {next(notes)}"}}).raise_for_status()

    figures = {
        "read (GET /services)": best_per_call({"memory": lambda: in_memory.get("/services"),
                                               "file": lambda: in_file.get("/services")}, args.seconds),
        "write (POST a note)": best_per_call({"memory": lambda: note(in_memory), "file": lambda: note(in_file)},
                                             args.seconds, batch=5),
        "process start": best_per_call({"memory": lambda: Simulator.from_dataset(DEMO_DATASET),
                                        "file": lambda: store.load_or_build(unlimited, None)},
                                       args.seconds, batch=2),
    }
    size = (folder / "simulator-state.json").stat().st_size
    print(f"state file: {size / 1e6:.2f} MB, {len(kept.state.incidents)} incidents")
    for what, best in figures.items():
        print(f"{what:24} in memory {best['memory'] * 1e3:8.2f} ms   kept in a file {best['file'] * 1e3:8.2f} ms"
              f"   ratio {best['file'] / best['memory']:.2f}")


if __name__ == "__main__":
    main()
