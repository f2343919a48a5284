"""System checks of the records API (registered in storage.apps)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning


def front_door(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """storage.W001: the settings turn the front door off (storage/frontdoor.py), so plain
    record reads lose its speed-up. Not for RECORDS_FAST_PATH=0, which chose it."""
    from storage.frontdoor import off_reason  # imports the views: not while apps load

    off = off_reason()
    if off is None or off.deliberate:
        return []
    return [
        Warning(
            f"The records API's front door is off: {off.reason}.",
            hint=(
                "Plain record reads now go through Django's request cycle (about half of "
                "their CPU time again). Teach storage/frontdoor.py what the change does to "
                "a read (its MIDDLEWARE and _template), or set RECORDS_FAST_PATH=0 to "
                "choose Django for every request."
            ),
            obj="storage.frontdoor",
            id="storage.W001",
        )
    ]
