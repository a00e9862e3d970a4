"""The active model, loaded once per process and reloaded when the active version changes.

Which version is active is read from the cache (one Redis GET) at most once a second; activation bumps it.
"""

import threading
import time
from dataclasses import dataclass

from django.core.cache import cache

from detection.engine.detector import Detector
from detection.models import ModelVersion

ACTIVE_KEY = "detection:active-model-version"
CHECK_INTERVAL_SECONDS = 1.0


class NoActiveModel(Exception):
    """No model version is active: train one (`manage.py train --activate`) or activate one in admin."""


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    detector: Detector


_lock = threading.Lock()
_loaded: LoadedModel | None = None
_checked_at = 0.0


def _active_version_id() -> int | None:
    version_id = cache.get(ACTIVE_KEY)
    if version_id is None:
        version_id = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list("id", flat=True).first()
        cache.set(ACTIVE_KEY, version_id or 0, timeout=None)
    return version_id or None


def active_model() -> LoadedModel:
    """The detector of the active version; raises NoActiveModel when there is none."""
    global _loaded, _checked_at
    now = time.monotonic()
    if _loaded is not None and now - _checked_at < CHECK_INTERVAL_SECONDS:
        return _loaded
    version_id = _active_version_id()
    with _lock:
        _checked_at = now
        if version_id is None:
            _loaded = None
            raise NoActiveModel("No model version is active.")
        if _loaded is None or _loaded.version.pk != version_id:
            version = ModelVersion.objects.get(pk=version_id)
            _loaded = LoadedModel(version=version, detector=Detector.from_bytes(bytes(version.artifact)))
        return _loaded


def active_model_changed() -> None:
    """Tell every process to look again: called after an activation commits."""
    global _checked_at
    cache.delete(ACTIVE_KEY)
    _checked_at = 0.0
