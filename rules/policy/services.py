"""The rule life cycle: create (a draft, version 1), edit (a new draft version), publish (the version decides;
the one it replaces retires), disable. Every change is validated, audited with who and when, and, when it changes
what decides, announced to every scoring process (`rules_changed`) once it commits.

An expression is compiled when it is saved, against the catalogue of names (rules.fields) and the organisation's
lists: an invalid one is refused with its position and the reason, never discovered at scoring time.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record
from rules.fields import rule_schema
from rules.language import ExpressionError, compile_expression
from rules.lists.selectors import list_kinds
from rules.models import Action, Rule, RuleVersion, name_validator
from rules.policy.revision import rules_changed
from rules.policy.selectors import rule_active_version, rule_latest_version

__all__ = [
    "ExpressionError",
    "RuleRefused",
    "expression_compile",
    "rule_create",
    "rule_disable",
    "rule_edit",
    "rule_publish",
    "rules_changed",
]

PUBLISHABLE = (RuleVersion.Status.DRAFT, RuleVersion.Status.TESTED, RuleVersion.Status.DISABLED)


@dataclass
class RuleRefused(Exception):
    """A change the rules refuse: `field` names what is wrong (name, action, tag, expression or the version)."""

    field: str
    reason: str
    code: str = "invalid"

    def __str__(self) -> str:
        return self.reason


def expression_compile(*, organisation_id: int, expression: str):
    """The compiled expression against the catalogue and the organisation's lists; raises ExpressionError (with its
    position and reason) when it is not a valid rule."""
    return compile_expression(expression, rule_schema(list_kinds(organisation_id=organisation_id)))


def _check_version(*, organisation_id: int, expression: str, action: str, tag: str) -> None:
    if action not in Action.values:
        raise RuleRefused("action", f"Choose one of {', '.join(Action.values)}; {action!r} is not an action.")
    if tag and action != Action.TAG:
        raise RuleRefused("tag", "Only a tag rule carries a tag.")
    if len(tag) > 63:
        raise RuleRefused("tag", "A tag has at most 63 characters.")
    if not expression.strip():
        raise RuleRefused("expression", "Write the condition the rule matches.", code="required")
    expression_compile(organisation_id=organisation_id, expression=expression)


def _person(user):
    """The user to record as author (a partner token's principal is audited by name, but is no user row)."""
    return user if getattr(user, "pk", None) else None


def _version_values(version: RuleVersion) -> dict:
    return {
        "version": version.version,
        "expression": version.expression,
        "action": version.action,
        "tag": version.tag,
        "description": version.description,
        "status": version.status,
    }


def _audit(*, action: str, rule: Rule, user, before: dict | None = None, after: RuleVersion | None = None):
    audit_record(
        action=action,
        obj=rule,
        before=before,
        after=_version_values(after) if after is not None else None,
        actor=user,
        organisation_id=rule.organisation_id,
    )


@transaction.atomic
def rule_create(
    *, organisation_id: int, name: str, expression: str, action: str, description: str = "", tag: str = "", user=None
) -> RuleVersion:
    """A new rule and its first version, a draft: nothing decides until it is published."""
    try:
        name_validator(name)
    except ValidationError as exc:
        raise RuleRefused("name", exc.messages[0]) from exc
    if Rule.objects.filter(organisation_id=organisation_id, name=name).exists():
        raise RuleRefused("name", f"A rule named {name!r} exists already; edit it instead.", code="unique")
    _check_version(organisation_id=organisation_id, expression=expression, action=action, tag=tag)
    try:
        with transaction.atomic():
            rule = Rule.objects.create(organisation_id=organisation_id, name=name, created_by=_person(user))
    except IntegrityError as exc:  # created by someone else meanwhile
        raise RuleRefused("name", f"A rule named {name!r} exists already; edit it instead.", code="unique") from exc
    version = RuleVersion.objects.create(
        rule=rule,
        version=1,
        expression=expression,
        action=action,
        tag=tag,
        description=description,
        created_by=_person(user),
    )
    _audit(action="rule.create", rule=rule, user=user, after=version)
    return version


@transaction.atomic
def rule_edit(
    *, rule: Rule, expression: str, action: str, description: str = "", tag: str = "", user=None
) -> RuleVersion:
    """A new version, a draft. The active version (if any) keeps deciding until the draft is published; an older
    unpublished draft is replaced by it (retired)."""
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    _check_version(organisation_id=rule.organisation_id, expression=expression, action=action, tag=tag)
    latest = rule_latest_version(rule=rule)
    if latest.status in (RuleVersion.Status.DRAFT, RuleVersion.Status.TESTED):
        latest.status = RuleVersion.Status.RETIRED
        latest.save(update_fields=["status"])
    version = RuleVersion.objects.create(
        rule=rule,
        version=latest.version + 1,
        expression=expression,
        action=action,
        tag=tag,
        description=description,
        created_by=_person(user),
    )
    _audit(action="rule.edit", rule=rule, user=user, before=_version_values(latest), after=version)
    return version


@transaction.atomic
def rule_publish(*, rule: Rule, user=None, untested: bool = False) -> RuleVersion:
    """Put the rule's latest version in force; the version it replaces retires. An untested draft is published only
    when the caller says so (`untested`: the page's confirmation, or the API, whose callers test their policy in
    code). A disabled latest version is published again as it is."""
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    version = rule_latest_version(rule=rule)
    if version.status == RuleVersion.Status.ACTIVE:
        raise RuleRefused("version", f"Version {version.version} is already in force.", code="active")
    if version.status not in PUBLISHABLE:
        raise RuleRefused("version", f"Version {version.version} is {version.status}; it cannot be published.")
    if version.status == RuleVersion.Status.DRAFT and not untested:
        raise RuleRefused(
            "version",
            f"Version {version.version} has not been tested on history: test it, or confirm publishing it untested.",
            code="untested",
        )
    # The expression is compiled again: a list it reads may have gone since it was saved.
    _check_version(
        organisation_id=rule.organisation_id, expression=version.expression, action=version.action, tag=version.tag
    )
    replaced = rule_active_version(rule=rule)
    before = _version_values(replaced or version)
    if replaced is not None:
        replaced.status = RuleVersion.Status.RETIRED
        replaced.save(update_fields=["status"])
    version.status, version.published_at, version.published_by = (
        RuleVersion.Status.ACTIVE,
        timezone.now(),
        _person(user),
    )
    version.save(update_fields=["status", "published_at", "published_by"])
    _audit(action="rule.publish", rule=rule, user=user, before=before, after=version)
    transaction.on_commit(lambda: rules_changed(rule.organisation_id))
    return version


@transaction.atomic
def rule_disable(*, rule: Rule, user=None) -> RuleVersion:
    """Stop the rule deciding: its active version becomes disabled (publishing it again re-enables it)."""
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    version = rule_active_version(rule=rule)
    if version is None:
        raise RuleRefused("version", "The rule has no version in force; there is nothing to disable.", code="inactive")
    before = _version_values(version)
    version.status = RuleVersion.Status.DISABLED
    version.save(update_fields=["status"])
    _audit(action="rule.disable", rule=rule, user=user, before=before, after=version)
    transaction.on_commit(lambda: rules_changed(rule.organisation_id))
    return version


def rule_version_mark_tested(*, version: RuleVersion) -> None:
    """A test on history finished on this version: a draft becomes tested (later states stay as they are)."""
    RuleVersion.objects.filter(pk=version.pk, status=RuleVersion.Status.DRAFT).update(status=RuleVersion.Status.TESTED)
