"""Create an organisation; with --copy-model-from, it scores from its first transaction with another's model.

Here rather than in accounts because the copy is a model version (accounts sits below detection).
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.selectors import NoOrganisation, organisation_by_name
from accounts.services import organisation_create
from detection.models import ModelVersion
from detection.training.services import model_version_activate, model_version_copy


class Command(BaseCommand):
    help = (
        "Create an organisation. With --copy-model-from ORG, ORG's active model version is copied into it and "
        "activated, so it scores from its first transaction until it trains its own."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="Short name (letters, digits, - and _), used in commands and URLs.")
        parser.add_argument("--copy-model-from", metavar="ORG", help="An organisation whose active version to copy.")

    def handle(self, *args, name, copy_model_from, **options):
        with transaction.atomic():  # no organisation is left behind without the model it was asked to have
            try:
                model_from = organisation_by_name(copy_model_from) if copy_model_from else None
                organisation = organisation_create(name=name)
            except (NoOrganisation, ValidationError) as exc:
                raise CommandError(_message(exc)) from exc
            version = self._copy_active(model_from, organisation) if model_from else None
        self.stdout.write(f"Created organisation {organisation}.")
        if version is not None:
            origin = version.parameters["copied_from"]
            self.stdout.write(
                f"v{version.version} (a copy of {origin['organisation']}'s v{origin['version']}) is its active model; "
                "train its own with `manage.py train --organisation "
                f"{organisation} --activate` once it has traffic."
            )
        else:
            self.stdout.write(
                "It has no model yet: train one once it has traffic, or create it with --copy-model-from ORG."
            )

    def _copy_active(self, model_from, organisation) -> ModelVersion:
        active = ModelVersion.objects.filter(organisation=model_from, status=ModelVersion.Status.ACTIVE).first()
        if active is None:
            raise CommandError(f"{model_from} has no active model version to copy.")
        try:
            return model_version_activate(version=model_version_copy(version=active, organisation=organisation))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
    return str(exc)
