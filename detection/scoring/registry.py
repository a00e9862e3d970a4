"""Each organisation's active model and challenger, loaded once per process and reloaded when either changes.

Every change of an organisation's active version or challenger (activation, promotion, a challenger made or
withdrawn) writes a new stamp to the cache after it commits. A process reads the stamp (one Redis GET) at most every
CHECK_INTERVAL_SECONDS per organisation and, when it differs from the one it loaded under, asks PostgreSQL which
versions are in force: every web and worker process sees a change within that interval. The stamp is read before
the database, so a change committed in between is seen at the next look (its new stamp differs), never missed. While
Redis does not answer, PostgreSQL is asked at every look.
"""

import gc
import logging
import threading
import time
import uuid
from dataclasses import dataclass

from django.core.cache import cache
from redis.exceptions import RedisError

from core.logging import warn_now_and_then
from detection.engine.detector import ArtifactError, Detector
from detection.models import ModelVersion

logger = logging.getLogger(__name__)

STAMP_KEY = "detection:models-stamp:{organisation_id}"
EVERY_STAMP_KEY = "detection:models-stamp:all"  # bumped when every organisation's models are to be looked at again
CHECK_INTERVAL_SECONDS = 0.25
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
    """One organisation's loaded models, the stamp they were looked up under and when it was last read."""

    loaded: LoadedModel | None = None
    challenger: LoadedModel | None = None
    active_id: int | None = None
    stamp: tuple | None = None
    checked_at: float = 0.0  # 0: look now
    unloadable: tuple[int, int, str] | None = None  # (version id, version, reason): not read again while active


_lock = threading.RLock()  # re-entered: loading a challenger goes through version_detector
_slots: dict[int, _Slot] = {}


def _stamp(organisation_id: int) -> tuple | None:
    """The organisation's current stamp (with the every-organisation one); None when Redis does not answer."""
    keys = [STAMP_KEY.format(organisation_id=organisation_id), EVERY_STAMP_KEY]
    try:
        found = cache.get_many(keys)
        for key in keys:
            if key not in found:  # never written, or Redis lost it: a fresh one, which no process loaded under
                cache.add(key, uuid.uuid4().hex, timeout=None)
                found[key] = cache.get(key)
    except RedisError as exc:  # Redis down or unreachable: PostgreSQL has the answer
        warn_now_and_then(logger, "active-version", "the active model version is read from PostgreSQL: %s", exc)
        return None
    return tuple(found[key] for key in keys)


def _versions_in_force(organisation_id: int) -> tuple[int | None, int | None]:
    """(active version id, challenger id) of the organisation, in one query."""
    rows = ModelVersion.objects.filter(organisation_id=organisation_id)
    rows = rows.filter(status=ModelVersion.Status.ACTIVE) | rows.filter(challenger=True)
    active = challenger = None
    for pk, status, is_challenger in rows.values_list("id", "status", "challenger"):
        if status == ModelVersion.Status.ACTIVE:
            active = pk
        if is_challenger:
            challenger = pk
    return active, challenger


def _slot(organisation_id: int) -> _Slot:
    """The organisation's slot, looked at again when CHECK_INTERVAL_SECONDS have passed since the last look."""
    slot = _slots.get(organisation_id) or _slots.setdefault(organisation_id, _Slot())
    now = time.monotonic()
    if slot.checked_at and now - slot.checked_at < CHECK_INTERVAL_SECONDS:
        return slot
    stamp = _stamp(organisation_id)
    if stamp is not None and stamp == slot.stamp:
        slot.checked_at = now
        return slot
    active_id, challenger_id = _versions_in_force(organisation_id)
    with _lock:
        slot.checked_at, slot.stamp, slot.active_id = now, stamp, active_id
        previous_challenger = slot.challenger
        _load_challenger(slot, challenger_id)
        _load_active(slot, active_id, previous_challenger)
    return slot


def _load_active(slot: _Slot, version_id: int | None, previous_challenger: LoadedModel | None) -> None:
    if version_id is None:
        slot.loaded = None
        return
    if slot.loaded is not None and slot.loaded.version.pk == version_id:
        return
    slot.loaded = None
    if slot.unloadable is not None and slot.unloadable[0] == version_id:
        return
    version = ModelVersion.objects.get(pk=version_id)
    if previous_challenger is not None and previous_challenger.version.pk == version_id:
        slot.loaded = LoadedModel(version=version, detector=previous_challenger.detector)  # promoted: loaded already
        return
    try:
        detector = Detector.from_bytes(bytes(version.artifact), version.artifact_format)
    except ArtifactError as exc:
        slot.unloadable = (version_id, version.version, str(exc))
        logger.error("active model version %s cannot be loaded: %s", version.version, exc)
        return
    slot.loaded, slot.unloadable = LoadedModel(version=version, detector=detector), None
    _freeze_long_lived()


def _load_challenger(slot: _Slot, version_id: int | None) -> None:
    """The challenger, kept loaded while it stays one; one that cannot be loaded here scores nothing (logged): the
    active version's scoring never stops for it."""
    if version_id is None:
        slot.challenger = None
        return
    if slot.challenger is not None and slot.challenger.version.pk == version_id:
        return
    version = ModelVersion.objects.get(pk=version_id)
    try:
        slot.challenger = LoadedModel(version=version, detector=version_detector(version))
    except ValueError as exc:
        slot.challenger = None
        warn_now_and_then(logger, f"challenger-{version_id}", "the challenger scores nothing: %s", exc)


def active_model(*, organisation_id: int) -> LoadedModel:
    """The detector of the organisation's active version; raises NoActiveModel when there is none, ModelUnloadable
    (one) when its artifact cannot be read: scoring then stops with that error rather than going on with another
    version."""
    slot = _slot(organisation_id)
    if slot.loaded is not None:
        return slot.loaded
    if slot.unloadable is not None and slot.unloadable[0] == slot.active_id:
        raise ModelUnloadable(*slot.unloadable[1:])
    raise NoActiveModel("No model version is active.")


def models_in_force(*, organisation_id: int) -> tuple[LoadedModel, LoadedModel | None]:
    """The active version (as `active_model`) and the challenger scoring beside it in shadow, if any."""
    loaded = active_model(organisation_id=organisation_id)
    return loaded, _slots[organisation_id].challenger


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
    """Tell every process to look again at the organisation's active version and challenger (every organisation's,
    given None): called after an activation, a promotion or a challenger's change commits."""
    for slot_id, slot in list(_slots.items()):
        if organisation_id is None or slot_id == organisation_id:
            slot.stamp, slot.checked_at = None, 0.0
    key = EVERY_STAMP_KEY if organisation_id is None else STAMP_KEY.format(organisation_id=organisation_id)
    try:
        cache.set(key, uuid.uuid4().hex, timeout=None)
    except RedisError as exc:  # processes read PostgreSQL at every look while Redis does not answer
        logger.warning("could not tell other processes of the change of models through Redis: %s", exc)


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
