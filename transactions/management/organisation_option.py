"""The --organisation option of the transactions app's commands: the organisation whose sources the rows go to.

The transactions app sits below accounts and may not import it: the Organisation model is reached through the
foreign key every source has (the rule is that of accounts.selectors.organisation_by_name).
"""

from django.core.management.base import CommandError

from transactions.models import Source

HELP = "The organisation the rows belong to (default: the only one, when there is exactly one)."


def add_organisation_argument(parser) -> None:
    parser.add_argument("--organisation", help=HELP)


def organisation_from_option(name: str | None):
    """The named organisation, or the only one when none is named; a CommandError listing the names otherwise."""
    organisations = Source._meta.get_field("organisation").related_model.objects.order_by("name")
    if name:
        organisation = organisations.filter(name=name).first()
        if organisation is None:
            raise CommandError(f"no organisation named {name!r}; there are: {_names(organisations)}")
        return organisation
    only = list(organisations[:2])
    if len(only) == 1:
        return only[0]
    if not only:
        raise CommandError("there is no organisation yet: create one with `manage.py create_organisation NAME`")
    raise CommandError(f"name the organisation with --organisation (one of: {_names(organisations)})")


def _names(organisations) -> str:
    return ", ".join(organisations.values_list("name", flat=True)) or "none"
