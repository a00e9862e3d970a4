from datetime import UTC, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.selectors import NoOrganisation, organisation_by_name
from detection.training.services import model_version_activate, model_version_create
from detection.training.tasks import model_version_train_task
from transactions.models import Transaction


class Command(BaseCommand):
    help = (
        "Train a model version of an organisation on its stored transactions (here, or on a Celery worker with "
        "--async)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--organisation", help="The organisation whose transactions it learns (default: the only one, if one)."
        )
        parser.add_argument(
            "--since", help="Start of the training window (ISO 8601). Default: --days before the newest."
        )
        parser.add_argument("--until", help="End of the training window, exclusive (ISO 8601).")
        parser.add_argument("--days", type=int, default=None, help="Train on the last N days of stored data.")
        parser.add_argument("--max-rows", type=int, default=None, help="Use at most the newest N transactions.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--activate", action="store_true", help="Make the new version the active one.")
        parser.add_argument("--async", dest="run_async", action="store_true", help="Queue it for a Celery worker.")

    def handle(self, *args, organisation, since, until, days, max_rows, seed, activate, run_async, **options):
        try:
            organisation = organisation_by_name(organisation)
        except NoOrganisation as exc:
            raise CommandError(str(exc)) from exc
        since_dt = self._parse(since, "--since")
        until_dt = self._parse(until, "--until")
        if days is not None and since_dt is None:
            stored = Transaction.objects.filter(source__organisation=organisation)
            newest = stored.order_by("-timestamp").values_list("timestamp", flat=True).first()
            if newest is None:
                raise CommandError(f"{organisation} has no stored transactions to train on.")
            since_dt = newest - timedelta(days=days)
        version = model_version_create(organisation=organisation)
        window = [moment.isoformat() if moment else None for moment in (since_dt, until_dt)]
        if run_async:
            model_version_train_task.delay(version.pk, *window, max_rows, seed, activate)
            self.stdout.write(f"Queued training of {organisation}'s v{version.version}.")
            return
        started = timezone.now()
        try:  # the worker's task body, run here; activated below, once the training's figures are written
            model_version_train_task(version.pk, *window, max_rows, seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        seconds = (timezone.now() - started).total_seconds()
        version.refresh_from_db()
        self.stdout.write(
            f"Trained {organisation}'s v{version.version} on {version.training_rows} transactions "
            f"({version.labelled_rows} labelled) in {seconds:.1f} s: {', '.join(version.algorithms)}."
        )
        if activate:
            model_version_activate(version=version)
            self.stdout.write(f"v{version.version} is now active.")

    @staticmethod
    def _parse(value, flag):
        if value is None:
            return None
        parsed = parse_datetime(value) or parse_datetime(f"{value}T00:00:00+00:00")
        if parsed is None:
            raise CommandError(f"{flag}: cannot read {value!r} as a date or time (use ISO 8601).")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
