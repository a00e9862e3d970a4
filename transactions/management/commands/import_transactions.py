import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from transactions.files import MappingError, file_columns, same_name_mapping
from transactions.management.organisation_option import add_organisation_argument, organisation_from_option
from transactions.models import Source
from transactions.services import (
    ImportSummary,
    SourceKindMismatch,
    source_get_or_create,
    transactions_import_file,
)
from transactions.validation import CANONICAL_FIELDS


def comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    help = (
        "Import a CSV or Parquet file of transactions, mapping file columns onto the canonical fields. "
        "Idempotent: rows the source already has are counted as duplicates. Bad rows are reported, good ones stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--map",
            nargs="+",
            metavar="FIELD=COLUMN",
            help=(
                "Canonical field = file column, e.g. account_id=user_id amount=TX_AMOUNT. Without it, the columns "
                "named as canonical fields are read as those (a file in the canonical shape, such as an archived "
                "month), and a column named 'label' as the label unless --label names another."
            ),
        )
        parser.add_argument(
            "--attributes", type=comma_list, default=[], help="Columns kept verbatim as attributes; '*' = all others."
        )
        parser.add_argument("--label", dest="label_column", help="Column holding the ground-truth label (0/1).")
        parser.add_argument("--source", help="Source name the rows are stored under (default: the file's name).")
        add_organisation_argument(parser)
        parser.add_argument("--exclude", type=comma_list, default=[], help="Columns never read (e.g. label leaks).")
        parser.add_argument("--chunk-rows", type=int, default=100_000)
        parser.add_argument("--workers", type=int, default=2, help="Chunks written at once (database connections).")
        parser.add_argument("--show-errors", type=int, default=20, help="How many rejected rows to list.")

    def handle(self, *args, file, map, label_column, source, exclude, chunk_rows, workers, show_errors, **options):
        if not file.exists():
            raise CommandError(f"{file} does not exist")
        if map:
            mapping = self._mapping(map)
        else:
            fields = [name for name in CANONICAL_FIELDS if name != "label"]
            mapping = same_name_mapping(file, fields)
            if label_column is None and "label" in file_columns(file):
                label_column = "label"
        organisation = organisation_from_option(options["organisation"])
        try:
            store = source_get_or_create(organisation=organisation, name=source or file.stem, kind=Source.Kind.IMPORT)
        except SourceKindMismatch as exc:
            raise CommandError(f"--source: {exc}") from exc
        started = time.monotonic()
        try:
            summary = transactions_import_file(
                source=store,
                path=file,
                mapping=mapping,
                attributes=options["attributes"],
                label_column=label_column,
                exclude=exclude,
                chunk_rows=chunk_rows,
                workers=workers,
                on_progress=lambda progress: self._progress(progress, started),
            )
        except MappingError as exc:
            raise CommandError(str(exc)) from exc
        self._summary(summary, store, time.monotonic() - started, show_errors)

    def _mapping(self, pairs: list[str]) -> dict[str, str]:
        mapping = {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise CommandError(f"--map takes FIELD=COLUMN, got {pair!r}")
            mapping[name.strip()] = column.strip()
        return mapping

    def _progress(self, summary: ImportSummary, started: float) -> None:
        rate = summary.rows / max(time.monotonic() - started, 1e-9)
        self.stdout.write(
            f"  {summary.rows:,} rows read: {summary.stored:,} stored, {summary.duplicates:,} duplicates, "
            f"{summary.rejected:,} rejected ({rate:,.0f} rows/s)"
        )

    def _summary(self, summary: ImportSummary, source: Source, seconds: float, show_errors: int) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {summary.rows:,} rows into source '{source.name}' of {source.organisation} in "
                f"{seconds:.1f} s: "
                f"stored {summary.stored:,}, duplicates {summary.duplicates:,}, rejected {summary.rejected:,}."
            )
        )
        if not summary.rejected:
            return
        self.stdout.write("Rejected rows by field and reason:")
        for (field, reason), count in summary.reasons.most_common():
            self.stdout.write(f"  {field}: {reason}: {count:,}")
        self.stdout.write(f"First {min(show_errors, len(summary.errors))} of {summary.error_count:,} errors:")
        for error in summary.errors[:show_errors]:
            self.stdout.write(f"  row {error.row}: {error.field}: {error.reason}")
