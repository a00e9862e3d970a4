"""/metrics' decisions by action, hits by rule and the score distribution, counted from scoring's news of stored
scores once they commit."""

import time
from collections import Counter
from functools import partial

from django.db import transaction

from accounts.models import Organisation
from core import metrics
from detection.scoring.events import ScoresStored

NAME_TTL_SECONDS = 60.0  # an organisation renamed is labelled by its new name within a minute
_names: dict[int, tuple[str, float]] = {}


def decisions_count_stored(event: ScoresStored) -> None:
    """Count the event's decisions and rule hits (rules matched, not those a row lacked a value for) after the
    scores commit: a rolled-back request counts nothing."""
    if not event.decisions:
        return
    decisions = Counter(event.decisions)
    hits = Counter(rule["name"] for matched in event.rules for rule in matched if not rule.get("missing"))
    organisation = _organisation_name(event.organisation_id)
    transaction.on_commit(
        partial(metrics.decisions_recorded, organisation=organisation, decisions=decisions, rule_hits=hits)
    )


def scores_distribution_stored(event: ScoresStored) -> None:
    """Observe the event's scores in the organisation's score histogram after they commit."""
    organisation = _organisation_name(event.organisation_id)
    transaction.on_commit(partial(metrics.scores_distribution_recorded, organisation=organisation, scores=event.scores))


def _organisation_name(organisation_id: int) -> str:
    cached = _names.get(organisation_id)
    now = time.monotonic()
    if cached is None or now - cached[1] > NAME_TTL_SECONDS:
        name = Organisation.objects.filter(pk=organisation_id).values_list("name", flat=True).first() or ""
        cached = _names[organisation_id] = (name, now)
    return cached[0]
