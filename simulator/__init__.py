"""A local PagerDuty (REST API v2 and Events API v2) that behaves like the real one.

Imports nothing else of this project. Use it in-process through an httpx transport, or serve it:
`python -m simulator serve`.
"""

from .clock import ManualClock, SystemClock
from .core import LoggedRequest, Simulator
from .errors import ApiError
from .faults import FaultRule
from .models import Dataset
from .state import State

__all__ = ["ApiError", "Dataset", "FaultRule", "LoggedRequest", "ManualClock", "Simulator", "State", "SystemClock"]
