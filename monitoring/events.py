"""News of drift measured, for the apps above monitoring (alerts fire their drift rules on it).

Monitoring may not import those apps, so they subscribe here when Django starts (their `AppConfig.ready`), and the
measurement publishes each day's results inside the transaction that stored them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class DriftMeasured:
    """One organisation's measurements of one day (every feature and the score), by id."""

    organisation_id: int
    day: date
    measurement_ids: tuple[int, ...]


Listener = Callable[[DriftMeasured], None]
_listeners: list[Listener] = []


def drift_measured_subscribe(listener: Listener) -> None:
    """Call `listener` with every DriftMeasured from now on; subscribing the same function twice has no effect."""
    if listener not in _listeners:
        _listeners.append(listener)


def drift_measured_publish(event: DriftMeasured) -> None:
    if event.measurement_ids:
        for listener in _listeners:
            listener(event)
