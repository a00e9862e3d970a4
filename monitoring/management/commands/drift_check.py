from datetime import UTC, date, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organisation
from monitoring.services import drift_check


class Command(BaseCommand):
    help = (
        "Measure drift now: each feature's and the score's distribution over a day against the active model "
        "version's training sample (population stability index), stored for the drift page, /metrics and the drift "
        "alert rules. By default today (UTC) so far; Celery beat measures yesterday every day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--day", help="The UTC day to measure, YYYY-MM-DD (default: today).")
        parser.add_argument("--days", type=int, default=1, help="Measure this many days, ending with --day.")
        parser.add_argument("--organisation", help="Only this organisation (its name); default: every one.")

    def handle(self, *args, **options):
        try:
            last = date.fromisoformat(options["day"]) if options["day"] else datetime.now(UTC).date()
        except ValueError:
            raise CommandError(f"--day: not a date (YYYY-MM-DD): {options['day']!r}") from None
        if options["days"] < 1:
            raise CommandError("--days: at least 1.")
        organisation_ids = None
        if options["organisation"]:
            organisation = Organisation.objects.filter(name=options["organisation"]).first()
            if organisation is None:
                raise CommandError(f"--organisation: no organisation named {options['organisation']!r}.")
            organisation_ids = [organisation.pk]
        names = dict(Organisation.objects.values_list("pk", "name"))
        for offset in range(options["days"] - 1, -1, -1):
            day = last - timedelta(days=offset)
            for organisation_id, count in drift_check(day=day, organisation_ids=organisation_ids).items():
                what = f"{count} features measured" if count else "nothing measured (no active version or too few rows)"
                self.stdout.write(f"{day} {names[organisation_id]}: {what}")
