"""The embedded demo organisation kept in a JSON file, so consecutive commands share one organisation.

Each CLI command is its own process: without this file an approval decided by `approve` would land in a
fresh demo organisation, and the next `ask` would not see it. The file is written through, after every
write request and before its answer reaches the tool. The checkpoint records a tool's result only after
that answer, so a crash at any point leaves the file at least as far along as the checkpoint; a resume
then repeats the call with the same incident key and the simulator recognises it instead of doubling it.
Saving on close instead would lose an approved change whenever a process died between the two.

Processes take an exclusive `flock` on a sibling `.lock` file around load-or-build and around each
write (reload if another process saved since, apply, save). Reads take no lock: saves replace the file
atomically, and a read only reloads when the file changed since this process last saw it (one `stat`).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from simulator import Account, Simulator


class SimulatorStateError(ValueError):
    """The saved organisation cannot be loaded; the message names the file to delete."""


class SavedOrganisation:
    """One simulator state file and the lock that serialises the processes writing it."""

    def __init__(self, path: Path, usable: Callable[[Account], bool]) -> None:
        """`usable` says whether a loaded state is one the commander can act in (e.g. its token exists)."""
        self.path = path
        self._usable = usable
        self._lock_path = path.with_name(path.name + ".lock")
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime ns, size) of the version in memory

    def load_or_build(self, build: Callable[[], Simulator], clock: Any | None) -> Simulator:
        """The saved organisation, or a new one from `build`, saved at once so later commands see the same one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if self.path.exists():
                simulator = Simulator(self._load(), clock)
            else:
                simulator = build()
                self._save(simulator.state)
        return simulator

    def transport(self, simulator: Simulator) -> httpx.BaseTransport:
        """What the clients use instead of `simulator.transport()`, so every request goes through the file."""
        return _WriteThroughTransport(simulator, self)

    def refresh(self, simulator: Simulator) -> None:
        """Take another process's saved changes, if there are any (the caller holds `simulator.lock`).

        A deleted file changes nothing here; the next write saves the organisation again."""
        signature = self._signature()
        if signature is not None and signature != self._seen:
            simulator.state = self._load()

    @contextmanager
    def writing(self, simulator: Simulator) -> Iterator[None]:
        """Load-modify-save as one step across processes."""
        with self._locked(), simulator.lock:
            self.refresh(simulator)
            try:
                yield
            finally:
                self._save(simulator.state)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _load(self) -> Account:
        signature = self._signature()
        try:
            state = Account.load(self.path)
        except (ValueError, KeyError, TypeError, AttributeError) as error:  # JSON, schema or reference errors
            raise self._unusable(_first_line(error)) from None
        if not self._usable(state):
            raise self._unusable("it is not the demo organisation this version uses")
        self._seen = signature
        return state

    def _save(self, state: Account) -> None:
        state.save(self.path)  # a temporary file, then os.replace
        self._seen = self._signature()

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def _unusable(self, reason: str) -> SimulatorStateError:
        return SimulatorStateError(
            f"the saved demo organisation {self.path} cannot be loaded ({reason}); delete {self.path} to start "
            "a fresh one (or set IC_SIMULATOR_STATE to another file)")


class _WriteThroughTransport(httpx.BaseTransport):
    """The simulator's transport, with the organisation reloaded when stale and saved after every write."""

    def __init__(self, simulator: Simulator, store: SavedOrganisation) -> None:
        self.simulator, self.inner, self.store = simulator, simulator.transport(), store

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        simulator = self.simulator
        if request.method == "GET":
            with simulator.lock:
                self.store.refresh(simulator)
            return self.inner.handle_request(request)
        with self.store.writing(simulator):
            return self.inner.handle_request(request)


def _first_line(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON: {error.msg} at line {error.lineno}"
    text = str(error).strip().splitlines()
    return text[0][:160] if text else type(error).__name__
