"""Each organisation's lists held in memory, per process, for rules to look values up in at microseconds a value.

A process loads an organisation's lists on first use and keeps them. At most once a second it reads the
organisation's lists revision from Redis (one GET), which every change of a list sets after it commits
(`lists_changed`); when it moved, PostgreSQL says which lists' revisions changed and only those are read again.
While Redis does not answer, PostgreSQL's revisions are read instead (at most once a second), as
detection/scoring/registry.py does for models. Expiry is decided at the moment of each lookup, not at loading.
"""

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError

from core.logging import warn_now_and_then
from rules.models import ListEntry, ValueList

logger = logging.getLogger(__name__)

LISTS_REVISION_KEY = "rules:lists-revision:{organisation_id}"
CHECK_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class Membership:
    """One list's values: those without an expiry in a set, those with one beside their expiry (epoch seconds).

    `contains` answers for a whole column at once, by one set lookup a value: each stored value is also kept in the
    other spellings a column may hold it in (a number for digits, lower case for a country code), so no value is
    converted at lookup. A value that is not text or a number (None: the row lacks it) is no member.
    """

    kind: str
    permanent: frozenset
    expiring: dict = field(default_factory=dict)

    def contains(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=object).ravel()
        if self.kind == ValueList.Kind.IP:
            values = np.fromiter(map(_ip_probe, values), dtype=object, count=len(values))
        try:
            return self._contains(values)
        except TypeError:  # an unhashable value (a JSON list or object of the attributes) is no member
            return self._contains(np.fromiter(map(_hashable, values), dtype=object, count=len(values)))

    def contains_one(self, value) -> bool:
        """`contains` of one value, without an array (a single score's path)."""
        if self.kind == ValueList.Kind.IP:
            value = _ip_probe(value)
        try:
            if value in self.permanent:
                return True
            return bool(self.expiring) and self.expiring.get(value, 0.0) > time.time()
        except TypeError:  # unhashable: no member
            return False

    def _contains(self, values: np.ndarray) -> np.ndarray:
        found = np.fromiter(map(self.permanent.__contains__, values), dtype=bool, count=len(values))
        if self.expiring:
            until = np.fromiter(map(self.expiring.get, values, repeat(0.0)), dtype=float, count=len(values))
            found |= until > time.time()
        return found


def _hashable(value):
    return value if isinstance(value, (str, int, float, type(None))) else None


def _ip_probe(value):
    """IPv4 text is already as the list stores it; IPv6 may be written many ways, so it is read first."""
    if type(value) is not str or ":" not in value:
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def _spellings(kind: str, value: str) -> tuple:
    """The value as the list stores it, and as a column may hold it: digits also as the number, a country code also
    in lower and title case."""
    if kind == ValueList.Kind.COUNTRY:
        return value, value.lower(), value.title()
    if value.isascii() and value.isdigit() and str(int(value)) == value:
        return value, int(value)
    return (value,)


@dataclass
class _Slot:
    """One organisation's lists as loaded: by name, with each list's (id, revision) and the Redis revision seen."""

    memberships: dict[str, Membership] = field(default_factory=dict)
    revisions: dict[str, tuple[int, int]] = field(default_factory=dict)
    seen: int | None = -1  # the Redis revision the lists were checked against; -1: never checked
    checked_at: float = 0.0


_lock = threading.Lock()
_slots: dict[int, _Slot] = {}


def list_memberships(*, organisation_id: int) -> dict[str, Membership]:
    """Every list of the organisation by name, as loaded in this process and refreshed when a list changed."""
    slot = _slots.get(organisation_id) or _slots.setdefault(organisation_id, _Slot())
    now = time.monotonic()
    if now - slot.checked_at < CHECK_INTERVAL_SECONDS:
        return slot.memberships
    with _lock:
        if now - slot.checked_at >= CHECK_INTERVAL_SECONDS:
            seen = _redis_revision(organisation_id)
            if seen is None or seen != slot.seen:
                _refresh(slot, organisation_id)
                slot.seen = seen
            slot.checked_at = time.monotonic()
        return slot.memberships


def _redis_revision(organisation_id: int) -> int | None:
    """The organisation's lists revision in Redis (0 before any change); None while Redis does not answer."""
    try:
        return int(cache.get(LISTS_REVISION_KEY.format(organisation_id=organisation_id)) or 0)
    except RedisError as exc:
        warn_now_and_then(logger, "lists-revision", "lists' revisions are read from PostgreSQL: %s", exc)
        return None


def _refresh(slot: _Slot, organisation_id: int) -> None:
    """Read again the lists whose revision moved (and new ones); forget the deleted ones."""
    stored = {
        name: (pk, revision, kind)
        for pk, name, revision, kind in ValueList.objects.filter(organisation_id=organisation_id).values_list(
            "pk", "name", "revision", "kind"
        )
    }
    memberships = {}
    for name, (pk, revision, kind) in stored.items():
        if slot.revisions.get(name) == (pk, revision) and name in slot.memberships:
            memberships[name] = slot.memberships[name]
        else:
            memberships[name] = _load(pk, kind)
    slot.memberships = memberships
    slot.revisions = {name: (pk, revision) for name, (pk, revision, _) in stored.items()}


def _load(value_list_id: int, kind: str) -> Membership:
    """A list's entries as a Membership, without those already expired."""
    now = timezone.now()
    rows = ListEntry.objects.filter(value_list_id=value_list_id).values_list("value", "expires_at")
    permanent, expiring = set(), {}
    for value, expires_at in rows.iterator(chunk_size=50_000):
        if expires_at is None:
            permanent.update(_spellings(kind, value))
        elif expires_at > now:
            expiring.update(dict.fromkeys(_spellings(kind, value), expires_at.timestamp()))
    return Membership(kind=kind, permanent=frozenset(permanent), expiring=expiring)


def lists_changed(organisation_id: int) -> None:
    """Tell every process that a list of the organisation changed: called after the change commits. The revision
    is the time in nanoseconds, never the same twice even after Redis lost the key."""
    slot = _slots.get(organisation_id)
    if slot is not None:
        slot.checked_at = 0.0
    try:
        cache.set(LISTS_REVISION_KEY.format(organisation_id=organisation_id), time.time_ns(), timeout=None)
    except RedisError as exc:  # other processes read PostgreSQL's revisions while Redis does not answer
        logger.warning("could not tell other processes of the list change through Redis: %s", exc)


def memberships_forget() -> None:
    """Drop every organisation's loaded lists in this process (tests: rows rolled back under a cached copy)."""
    with _lock:
        _slots.clear()
