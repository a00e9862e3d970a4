"""`manage.py consume` refuses what it cannot work with, naming it, before it connects to anything."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Organisation
from tests.factories import default_organisation


@pytest.mark.django_db
def test_a_broker_that_is_neither_nats_nor_amqp_is_refused():
    default_organisation()

    with pytest.raises(CommandError, match="neither nats:// nor amqp://"):
        call_command("consume", "--broker", "kafka://127.0.0.1:9092")


@pytest.mark.django_db
def test_with_several_organisations_the_command_asks_for_one():
    default_organisation()
    Organisation.objects.create(name="second")

    with pytest.raises(CommandError, match="--organisation"):
        call_command("consume", "--broker", "nats://127.0.0.1:4222")


@pytest.mark.django_db
def test_an_unknown_organisation_is_named():
    with pytest.raises(CommandError, match="nowhere"):
        call_command("consume", "--broker", "nats://127.0.0.1:4222", "--organisation", "nowhere")
