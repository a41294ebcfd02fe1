"""PagerDuty's endpoints, one module per part of the API, each with its own `ROUTES`.

`api()` mounts them all on one router: the simulator asks for it explicitly, and importing a module
registers nothing anywhere else.
"""

from __future__ import annotations

from functools import cache

from ..http import Router
from . import audit, directory, events, incidents, insights, schedules

PARTS = (audit, directory, events, incidents, insights, schedules)  # the order a path is matched in


@cache
def api() -> Router:
    """Every endpoint the simulator answers (built once: routes never change after start-up)."""
    router = Router()
    for part in PARTS:
        router.include(part.ROUTES)
    return router
