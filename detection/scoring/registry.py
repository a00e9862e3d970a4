"""Each organisation's active model, loaded once per process and reloaded when its active version changes.

Which version is active is read from the cache (one Redis GET) at most once a second per organisation; activation
bumps it. The cached answer lives a minute at most, and while Redis does not answer PostgreSQL is asked instead: an
activation whose bump Redis missed is still seen within the minute.
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

ACTIVE_KEY = "detection:active-model-version:{organisation_id}"
ACTIVE_KEY_SECONDS = 60
CHECK_INTERVAL_SECONDS = 1.0
YOUNG_COLLECTION_AFTER = 50_000  # new container objects between two collections of the youngest generation (see below)


class NoActiveModel(Exception):
    """No model version of the organisation is active: train one (`manage.py train --activate`), activate one in
    admin, or copy another organisation's (`manage.py create_organisation NAME --copy-model-from ORG`)."""


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


@dataclass
class _Slot:
    """One organisation's loaded model and when its active version was last looked up."""

    loaded: LoadedModel | None = None
    checked_at: float = 0.0
    unloadable: tuple[int, int, str] | None = None  # (version id, version, reason): not read again while active


_lock = threading.Lock()
_slots: dict[int, _Slot] = {}


def _active_version_id(organisation_id: int) -> int | None:
    key = ACTIVE_KEY.format(organisation_id=organisation_id)
    try:
        version_id = cache.get(key)
        if version_id is None:
            version_id = _active_version_in_database(organisation_id)
            cache.set(key, version_id or 0, timeout=ACTIVE_KEY_SECONDS)
    except RedisError as exc:  # Redis down or unreachable: PostgreSQL has the answer
        warn_now_and_then(logger, "active-version", "the active model version is read from PostgreSQL: %s", exc)
        version_id = _active_version_in_database(organisation_id)
    return version_id or None


def _active_version_in_database(organisation_id: int) -> int | None:
    active = ModelVersion.objects.filter(organisation_id=organisation_id, status=ModelVersion.Status.ACTIVE)
    return active.values_list("id", flat=True).first()


def active_model(*, organisation_id: int) -> LoadedModel:
    """The detector of the organisation's active version; raises NoActiveModel when there is none, ModelUnloadable
    (one) when its artifact cannot be read: scoring then stops with that error rather than going on with another
    version."""
    slot = _slots.get(organisation_id) or _slots.setdefault(organisation_id, _Slot())
    now = time.monotonic()
    if slot.loaded is not None and now - slot.checked_at < CHECK_INTERVAL_SECONDS:
        return slot.loaded
    version_id = _active_version_id(organisation_id)
    with _lock:
        slot.checked_at = now
        if version_id is None:
            slot.loaded = None
            raise NoActiveModel("No model version is active.")
        if slot.loaded is None or slot.loaded.version.pk != version_id:
            slot.loaded = None
            if slot.unloadable is not None and slot.unloadable[0] == version_id:
                raise ModelUnloadable(*slot.unloadable[1:])
            version = ModelVersion.objects.get(pk=version_id)
            try:
                detector = Detector.from_bytes(bytes(version.artifact), version.artifact_format)
            except ArtifactError as exc:
                slot.unloadable = (version_id, version.version, str(exc))
                logger.error("active model version %s cannot be loaded: %s", version.version, exc)
                raise ModelUnloadable(version.version, str(exc)) from exc
            slot.loaded, slot.unloadable = LoadedModel(version=version, detector=detector), None
            _freeze_long_lived()
        return slot.loaded


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


def active_model_changed(organisation_id: int | None = None) -> None:
    """Tell every process to look again at the organisation's active version (every organisation's, given None):
    called after an activation commits."""
    ids = list(_slots) if organisation_id is None else [organisation_id]
    for slot_id in ids:
        if slot_id in _slots:
            _slots[slot_id].checked_at = 0.0
    try:
        cache.delete_many([ACTIVE_KEY.format(organisation_id=slot_id) for slot_id in ids])
    except RedisError as exc:  # the cached answer expires within ACTIVE_KEY_SECONDS anyway
        logger.warning("could not tell other processes of the activation through Redis: %s", exc)


_versions_loaded: dict[int, Detector] = {}
VERSIONS_KEPT = 4


def version_detector(version: ModelVersion) -> Detector:
    """The detector of any trained version of an organisation (the try page's second model, a comparison's
    candidate), kept for a few versions per process: the active one is served by active_model. ValueError, saying
    why, when its artifact cannot be read here."""
    detector = _versions_loaded.get(version.pk)
    if detector is not None:
        return detector
    if not version.artifact:
        raise ValueError(f"Version v{version.version} has no trained model.")
    try:
        detector = Detector.from_bytes(bytes(version.artifact), version.artifact_format)
    except ArtifactError as exc:
        raise ValueError(f"Version v{version.version} cannot be loaded: {exc}.") from exc
    with _lock:
        while len(_versions_loaded) >= VERSIONS_KEPT:
            _versions_loaded.pop(next(iter(_versions_loaded)))
        _versions_loaded[version.pk] = detector
    return detector
