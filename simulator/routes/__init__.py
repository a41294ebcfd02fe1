"""Every endpoint module registers its routes on `core.ROUTER` when imported here."""

from . import directory, events, incidents, schedules  # noqa: F401
