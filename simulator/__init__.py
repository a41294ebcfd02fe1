"""A local PagerDuty (REST API v2 and Events API v2) that behaves like the real one.

Imports nothing else of this project. Use it in-process through an httpx transport, or serve it:
`python -m simulator serve`.
"""

from .account import Account
from .clock import Clock, ManualClock, SystemClock
from .core import LoggedRequest, Simulator
from .errors import ApiError
from .faults import FaultRule
from .models import Dataset

__all__ = ["Account", "ApiError", "Clock", "Dataset", "FaultRule", "LoggedRequest", "ManualClock", "Simulator",
           "SystemClock"]
