"""The organisation's rule set revision in Redis: changed after every change of what decides, so each scoring
process reloads its rule set (rules.deciding compares it at most once a second, as detection.scoring.registry does
for models). The revision is the change's time in nanoseconds: never the same twice, even after Redis lost the key.
"""

import logging
import time

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RULES_REVISION_KEY = "rules:revision:{organisation_id}"


def rules_changed(organisation_id: int) -> None:
    """Tell every process that the organisation's rules in force changed: called after the change commits."""
    try:
        cache.set(RULES_REVISION_KEY.format(organisation_id=organisation_id), time.time_ns(), timeout=None)
    except RedisError as exc:
        logger.warning("could not tell other processes of the rule change through Redis: %s", exc)


def rules_revision(*, organisation_id: int) -> int | None:
    """The organisation's current revision: 0 before any change, None when Redis does not answer (then read the
    rules from PostgreSQL)."""
    try:
        return int(cache.get(RULES_REVISION_KEY.format(organisation_id=organisation_id)) or 0)
    except RedisError:
        return None
