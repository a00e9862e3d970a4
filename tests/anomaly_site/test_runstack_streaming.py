"""`make run` (runstack) starts one NATS consumer when NATS answers and says so when it does not; docker-compose
has NATS and a consumer service."""

import io
import socket
import sys
from pathlib import Path

import pytest
import yaml

from accounts.models import Organisation
from anomaly_site.management.commands.runstack import Command, nats_answers
from tests.factories import default_organisation

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_nats_answers_on_its_port_and_not_on_a_closed_one():
    assert nats_answers("nats://127.0.0.1:4222")
    assert not nats_answers(f"nats://127.0.0.1:{closed_port()}")


@pytest.mark.django_db
def test_runstack_adds_a_consumer_when_nats_answers():
    default_organisation()
    command = Command(stdout=io.StringIO())

    commands = command._stream_consumer(Path(sys.executable).parent, "nats://127.0.0.1:4222")

    assert commands["consumer"][-3:] == ["consume", "--broker", "nats://127.0.0.1:4222"]
    assert "a consumer reads transactions.in" in command.stdout._out.getvalue()


def test_runstack_says_so_and_runs_no_consumer_when_nats_does_not_answer():
    command = Command(stdout=io.StringIO())
    url = f"nats://127.0.0.1:{closed_port()}"

    assert command._stream_consumer(Path(sys.executable).parent, url) == {}
    assert f"NATS does not answer at {url}: no streaming consumer" in command.stdout._out.getvalue()


@pytest.mark.django_db
def test_runstack_runs_no_consumer_when_the_organisation_is_unclear():
    default_organisation()
    Organisation.objects.create(name="second")
    command = Command(stdout=io.StringIO())

    assert command._stream_consumer(Path(sys.executable).parent, "nats://127.0.0.1:4222") == {}
    assert "No streaming consumer: There are several" in command.stdout._out.getvalue()


def test_docker_compose_runs_nats_with_jetstream_and_a_consumer():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]

    assert "-js" in services["nats"]["command"]
    consumer = services["consumer"]["command"].split()
    assert consumer[:4] == ["python", "manage.py", "consume", "--broker"] and consumer[4] == "nats://nats:4222"
