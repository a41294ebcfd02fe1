"""Which failures the person fixes in the setup, and which belong to the one action they asked for.

A surface reports the first kind as a configuration problem (the command line exits with its
configuration code: a bad key, an unreachable host, a saved demo organisation it cannot read) and the
second as a failed action. Both are tuples of exception classes, to catch with `except`.
"""

from __future__ import annotations

from agent.embedded_state import SimulatorStateError
from tools.errors import ConfigurationError, NetworkError, PagerDutyError, Unauthorized

SETUP_FAILURES: tuple[type[Exception], ...] = (ConfigurationError, Unauthorized, NetworkError, SimulatorStateError)
"""Nothing the person asks for can work until the configuration or the connection is fixed."""
ACTION_FAILURES: tuple[type[Exception], ...] = (PagerDutyError,)
"""PagerDuty refused or failed this one request; others may still work."""
