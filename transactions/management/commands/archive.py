"""`manage.py archive --before YYYY-MM [--execute]`: the months before YYYY-MM to Parquet, then out of the store."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.partitions import parse_month
from transactions.archive import ArchiveMismatch, archive_months, transactions_archive


class Command(BaseCommand):
    help = (
        "Write the transactions of every month before --before to ARCHIVE_DIR/<table>/<YYYY-MM>.parquet, read the "
        "files back, then detach and drop the months' partitions. A dry run (what it would do) unless --execute."
    )

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, metavar="YYYY-MM", help="Archive the months before this one.")
        parser.add_argument("--execute", action="store_true", help="Write and drop (without it: only say what).")
        parser.add_argument("--directory", help="Where the files go (default: the ARCHIVE_DIR setting).")

    def handle(self, *args, before, execute, directory, **options):
        try:
            month = parse_month(before)
        except ValueError as error:
            raise CommandError(f"--before: {error}") from error
        target = Path(settings.ARCHIVE_DIR if directory is None else directory)
        if not execute:
            plans = archive_months(before=month, directory=target)
            for plan in plans:
                self.stdout.write(plan.describe(execute=False))
            self.stdout.write(
                f"{len(plans)} month(s) before {before}; dry run: nothing written or dropped (--execute)."
            )
            return
        try:
            plans = transactions_archive(
                before=month, directory=target, on_month=lambda plan: self.stdout.write(plan.describe(execute=True))
            )
        except ArchiveMismatch as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{len(plans)} month(s) before {before} archived to {target}.")
