"""Every endpoint module registers its routes on `core.ROUTER` when imported here."""

from . import audit, directory, events, incidents, insights, schedules  # noqa: F401
