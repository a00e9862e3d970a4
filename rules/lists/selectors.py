"""Reads of an organisation's lists and their entries. Every selector takes the organisation (or a list already
fetched through it): another organisation's list is never found."""

from django.db.models import Count, Q, QuerySet

from rules.models import ListEntry, RuleVersion, ValueList


def value_lists(*, organisation_id: int | None) -> QuerySet[ValueList]:
    """The organisation's lists by name, each with its number of entries (`entry_count`)."""
    return ValueList.objects.filter(organisation_id=organisation_id).annotate(entry_count=Count("entries"))


def value_list_get(*, organisation_id: int | None, name: str) -> ValueList:
    """The organisation's list of that name; ValueList.DoesNotExist for any other (another organisation's too)."""
    return ValueList.objects.get(organisation_id=organisation_id, name=name)


def list_kinds(*, organisation_id: int) -> dict[str, str]:
    """Each list's name → its kind, for the rule language's schema (`rules.fields.rule_schema`)."""
    return dict(ValueList.objects.filter(organisation_id=organisation_id).values_list("name", "kind"))


def list_entries(*, value_list: ValueList, search: str = "") -> QuerySet[ListEntry]:
    """The list's entries by value; `search` keeps those whose value or note contains it (any case)."""
    entries = ListEntry.objects.filter(value_list=value_list).select_related("created_by")
    search = search.strip()
    if search:
        entries = entries.filter(Q(value__icontains=search) | Q(note__icontains=search))
    return entries.order_by("value")


def list_readers(*, value_list: ValueList) -> list[str]:
    """Names of the organisation's rules whose active version's expression reads the list (`lists.<name>`).

    A text match on the expression, exact on the name (`lists.blocked` is not `lists.blocked_cards`): the word
    boundaries of PostgreSQL's regular expressions end a name where the language's names end.
    """
    pattern = rf"\mlists\s*\.\s*{value_list.name}\M"
    versions = RuleVersion.objects.filter(
        rule__organisation_id=value_list.organisation_id,
        status=RuleVersion.Status.ACTIVE,
        expression__regex=pattern,
    )
    return sorted(versions.values_list("rule__name", flat=True))
