"""The active model, loaded once per process and reloaded when the active version changes.

Which version is active is read from the cache (one Redis GET) at most once a second; activation bumps it. The
cached answer lives a minute at most, and while Redis does not answer PostgreSQL is asked instead: an activation
whose bump Redis missed is still seen within the minute.
"""

import gc
import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache
from redis.exceptions import RedisError

from core.logging import warn_now_and_then
from detection.engine.detector import ArtifactError, Detector
from detection.models import ModelVersion

logger = logging.getLogger(__name__)

ACTIVE_KEY = "detection:active-model-version"
ACTIVE_KEY_SECONDS = 60
CHECK_INTERVAL_SECONDS = 1.0
YOUNG_COLLECTION_AFTER = 50_000  # new container objects between two collections of the youngest generation (see below)


class NoActiveModel(Exception):
    """No model version is active: train one (`manage.py train --activate`) or activate one in admin."""


class ModelUnloadable(NoActiveModel):
    """A version is active but its artifact cannot be read by this release: nothing can be scored with it."""

    def __init__(self, version: int, reason: str):
        super().__init__(
            f"Model version {version} is active but cannot be loaded ({reason}): activate another version or train a "
            "new one."
        )


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    detector: Detector


_lock = threading.Lock()
_loaded: LoadedModel | None = None
_checked_at = 0.0
_unloadable: tuple[int, int, str] | None = None  # (version id, version, reason): not read again while it is active


def _active_version_id() -> int | None:
    try:
        version_id = cache.get(ACTIVE_KEY)
        if version_id is None:
            version_id = _active_version_in_database()
            cache.set(ACTIVE_KEY, version_id or 0, timeout=ACTIVE_KEY_SECONDS)
    except RedisError as exc:  # Redis down or unreachable: PostgreSQL has the answer
        warn_now_and_then(logger, "active-version", "the active model version is read from PostgreSQL: %s", exc)
        version_id = _active_version_in_database()
    return version_id or None


def _active_version_in_database() -> int | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list("id", flat=True).first()


def active_model() -> LoadedModel:
    """The detector of the active version; raises NoActiveModel when there is none, ModelUnloadable (one) when its
    artifact cannot be read: scoring then stops with that error rather than going on with another version."""
    global _loaded, _checked_at, _unloadable
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
            _loaded = None
            if _unloadable is not None and _unloadable[0] == version_id:
                raise ModelUnloadable(*_unloadable[1:])
            version = ModelVersion.objects.get(pk=version_id)
            try:
                detector = Detector.from_bytes(bytes(version.artifact), version.artifact_format)
            except ArtifactError as exc:
                _unloadable = (version_id, version.version, str(exc))
                logger.error("active model version %s cannot be loaded: %s", version.version, exc)
                raise ModelUnloadable(version.version, str(exc)) from exc
            _loaded, _unloadable = LoadedModel(version=version, detector=detector), None
            _freeze_long_lived()
        return _loaded


def _freeze_long_lived() -> None:
    """Put what lives as long as the process (Django, numpy, torch, the model just loaded) out of the garbage
    collector's sight, and collect the youngest generation less often.

    A full collection walks every tracked object, hundreds of thousands in a scoring process, and each request's
    short-lived objects bring the next one closer, so requests would pay for it in their tail latency; frozen objects
    are not walked again. Once per loaded model: unfreeze, collect (the previous model's cycles), freeze. A batch
    holds thousands of objects alive at once, far past Python's young threshold of 700, which would walk them again
    many times a batch: hence YOUNG_COLLECTION_AFTER.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, *gc.get_threshold()[1:])


def active_model_changed() -> None:
    """Tell every process to look again: called after an activation commits."""
    global _checked_at
    _checked_at = 0.0
    try:
        cache.delete(ACTIVE_KEY)
    except RedisError as exc:  # the cached answer expires within ACTIVE_KEY_SECONDS anyway
        logger.warning("could not tell other processes of the activation through Redis: %s", exc)
