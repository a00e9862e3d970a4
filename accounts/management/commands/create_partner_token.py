from django.core.management.base import BaseCommand, CommandError

from accounts.models import Scope
from accounts.selectors import NoOrganisation, organisation_by_name
from accounts.services import partner_token_create


class Command(BaseCommand):
    help = "Create an API token for a partner system of an organisation and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Partner name; also the source its transactions are stored under.")
        parser.add_argument(
            "--organisation", help="The organisation it sends for (default: the only one, when there is one)."
        )
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=[Scope.SCORE, Scope.READ],
            help=f"One or more of: {', '.join(Scope.values)} (comma or space separated). Default: score read.",
        )

    def handle(self, *args, name, scopes, organisation, **options):
        flat = [s.strip() for item in scopes for s in item.split(",") if s.strip()]
        try:
            token, secret = partner_token_create(
                name=name, scopes=flat, organisation=organisation_by_name(organisation)
            )
        except (ValueError, NoOrganisation) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Token for {token.name} in {token.organisation} (scopes: {', '.join(token.scopes)}). "
            "Shown once; store it now:"
        )
        self.stdout.write(secret)
