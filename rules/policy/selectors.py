"""Reads of rules: an organisation's rules with their latest and active versions, the versions in force, one rule
for a person or a token (404 outside its organisation), and each rule's hits from the stored scores."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from core.models import AuditEvent
from rules.models import Rule, RuleVersion

PUBLISH_PERM = "rules.publish"
EDIT_PERM = "rules.add_ruleversion"
TEST_PERM = "rules.add_ruletest"
VIEW_PERM = "rules.view_rule"


def may_publish(user) -> bool:
    """Admins, and whoever holds `rules.publish`, publish (activate) and disable rules."""
    return user.has_perm(PUBLISH_PERM)


def may_edit(user) -> bool:
    return user.has_perm(EDIT_PERM)


def may_test(user) -> bool:
    return user.has_perm(TEST_PERM)


def rules_of(*, organisation_id: int) -> QuerySet[Rule]:
    """The organisation's rules by name, each with its versions (newest first) at hand: `rule.versions.all()`."""
    versions = RuleVersion.objects.order_by("-version")
    return Rule.objects.filter(organisation_id=organisation_id).prefetch_related(Prefetch("versions", versions))


def rule_get(*, organisation_id: int | None, rule_id: int) -> Rule:
    """The rule if it is the organisation's; Http404 otherwise, whether it exists or not."""
    rule = Rule.objects.filter(pk=rule_id, organisation_id=organisation_id).first() if organisation_id else None
    if rule is None:
        raise Http404("No such rule.")
    return rule


def rule_get_by_name(*, organisation_id: int, name: str) -> Rule:
    rule = Rule.objects.filter(organisation_id=organisation_id, name=name).first()
    if rule is None:
        raise Rule.DoesNotExist(f"The organisation has no rule named {name!r}.")
    return rule


def rule_latest_version(*, rule: Rule) -> RuleVersion:
    """The rule's newest version: the one an edit, a test or the API's activate works on."""
    return rule.versions.order_by("-version").first()


def rule_active_version(*, rule: Rule) -> RuleVersion | None:
    return rule.versions.filter(status=RuleVersion.Status.ACTIVE).first()


def rule_version_get(*, rule: Rule, version: int) -> RuleVersion:
    found = rule.versions.filter(version=version).first()
    if found is None:
        raise Http404("No such version.")
    return found


def active_rule_versions(*, organisation_id: int) -> QuerySet[RuleVersion]:
    """The versions in force: one active version per rule at most, with its rule, by the rule's name."""
    active = RuleVersion.objects.filter(rule__organisation_id=organisation_id, status=RuleVersion.Status.ACTIVE)
    return active.select_related("rule").order_by("rule__name")


def rule_audit(*, rule: Rule) -> QuerySet[AuditEvent]:
    """The audit trail of the rule and its versions, newest first."""
    events = AuditEvent.objects.filter(organisation_id=rule.organisation_id, object_type="rules.rule")
    return events.filter(object_id=str(rule.pk)).select_related("actor").order_by("-created_at", "-id")


@dataclass(frozen=True)
class RuleHits:
    """A rule's matches in the stored scores, counted in transactions: in the last 24 hours and 7 days, the labelled
    among the last 7 days' (labels from partners and from review), and the rows that lacked a value it reads."""

    day: int = 0
    week: int = 0
    fraud: int = 0
    legitimate: int = 0
    missing: int = 0

    @property
    def precision(self) -> float | None:
        labelled = self.fraud + self.legitimate
        return self.fraud / labelled if labelled else None


# One pass over the organisation's last 7 days of scores that name a rule. An entry with "missing": true records a
# row that lacked a value the rule reads (it did not match). Transactions are counted, not scores: one scored by two
# model versions is one hit.
_HITS_SQL = """
SELECT (r->>'id')::bigint AS rule_id,
       count(DISTINCT s.transaction_id) FILTER (WHERE NOT missing AND s.created_at >= %(day)s),
       count(DISTINCT s.transaction_id) FILTER (WHERE NOT missing),
       count(DISTINCT s.transaction_id) FILTER (WHERE NOT missing AND t.label = 1),
       count(DISTINCT s.transaction_id) FILTER (WHERE NOT missing AND t.label = 0),
       count(DISTINCT s.transaction_id) FILTER (WHERE missing)
FROM detection_score s
JOIN transactions_transaction t ON t.id = s.transaction_id AND t.timestamp = s.transaction_time
CROSS JOIN LATERAL jsonb_array_elements(s.rules) AS r
CROSS JOIN LATERAL (SELECT coalesce((r->>'missing')::boolean, false) AS missing) AS m
WHERE s.created_at >= %(week)s AND s.rules <> '[]'::jsonb
  AND t.source_id IN (SELECT id FROM transactions_source WHERE organisation_id = %(organisation_id)s)
GROUP BY 1
"""


def rule_hits(*, organisation_id: int) -> dict[int, RuleHits]:
    """Each rule's hits (by rule id): the organisation's transactions whose scores of the last 7 days name it, each
    transaction once however many model versions scored it; one query."""
    now = timezone.now()
    params = {"organisation_id": organisation_id, "day": now - timedelta(days=1), "week": now - timedelta(days=7)}
    with connection.cursor() as cursor:
        cursor.execute(_HITS_SQL, params)
        return {row[0]: RuleHits(*row[1:]) for row in cursor.fetchall()}


@dataclass(frozen=True)
class RuleSummary:
    """What a list shows of a rule, from its prefetched versions: the latest (what an edit made), the one in force,
    and the rule's status (active while a version decides, else the latest's)."""

    rule: Rule
    latest: RuleVersion
    active: RuleVersion | None

    @property
    def status(self) -> str:
        return RuleVersion.Status.ACTIVE if self.active is not None else self.latest.status

    @property
    def pending(self) -> RuleVersion | None:
        """A newer version waiting to replace the one in force."""
        return self.latest if self.active is not None and self.latest.pk != self.active.pk else None

    @property
    def shown(self) -> RuleVersion:
        """The version whose action and expression describe the rule: the one in force, else the latest."""
        return self.active or self.latest


def rule_summary(rule: Rule) -> RuleSummary:
    versions = list(rule.versions.all())  # newest first (rules_of prefetches them so)
    versions.sort(key=lambda v: v.version, reverse=True)
    active = next((v for v in versions if v.status == RuleVersion.Status.ACTIVE), None)
    return RuleSummary(rule=rule, latest=versions[0], active=active)
