"""Consumers report to Redis; /healthz and /metrics show each consumer's lag, rate and errors from those reports."""

import time

import pytest

from streaming.heartbeat import (
    FORGET_SECONDS,
    consumers_key,
    heartbeat_remove,
    heartbeat_write,
    heartbeats_read,
    redis_client,
)
from tests.streaming.conftest import NATS_URL, publish_nats, read_stream, transaction_body, wait_for

REPORT = {
    "broker": "nats",
    "subject": "transactions.in",
    "organisation": "test-org",
    "source": "transactions.in",
    "state": "running",
    "lag": 12,
    "rate_per_s": 850.5,
    "messages": 4000,
    "decisions": 3990,
    "dead_letters": 10,
    "errors": 2,
    "last_error": "scoring failed: OperationalError: …",
    "interval_seconds": 5,
}


@pytest.fixture
def reports():
    client = redis_client()
    client.delete(consumers_key())
    yield client
    client.delete(consumers_key())


def test_a_consumers_report_is_read_back_with_its_age(reports):
    heartbeat_write(reports, name="host-1", report=REPORT)

    read = heartbeats_read(reports)

    assert read["host-1"]["lag"] == 12 and read["host-1"]["stale"] is False
    assert read["host-1"]["age_seconds"] < 5


def test_a_report_older_than_three_intervals_is_stale_and_an_old_one_is_forgotten(reports):
    heartbeat_write(reports, name="quiet", report=REPORT)
    heartbeat_write(reports, name="gone", report=REPORT)
    reports.hset(consumers_key(), "gone", reports.hget(consumers_key(), "gone").replace(b'"reported_at": ', b'"x": '))

    read = heartbeats_read(reports, now=time.time() + 16)
    assert read["quiet"]["stale"] is True and "gone" not in read
    assert heartbeats_read(reports, now=time.time() + FORGET_SECONDS + 1) == {}
    assert reports.hgetall(consumers_key()) == {}


def test_a_consumer_that_stops_takes_its_report_away(reports):
    heartbeat_write(reports, name="host-1", report=REPORT)
    heartbeat_remove(reports, name="host-1")

    assert heartbeats_read(reports) == {}


@pytest.mark.django_db
def test_healthz_shows_each_consumers_lag_rate_and_errors_but_not_its_organisation(client, reports):
    heartbeat_write(reports, name="host-1", report=REPORT)

    streaming = client.get("/healthz").json()["checks"]["streaming"]

    assert streaming["ok"] is True
    consumer = streaming["consumers"]["host-1"]
    assert (consumer["lag"], consumer["rate_per_s"], consumer["errors"]) == (12, 850.5, 2)
    assert "organisation" not in consumer and "source" not in consumer


@pytest.mark.django_db
def test_healthz_is_degraded_while_a_consumer_reconnects(client, reports):
    heartbeat_write(reports, name="host-1", report=REPORT | {"state": "reconnecting"})

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["streaming"]["ok"] is False


@pytest.mark.django_db
def test_healthz_is_fine_without_any_consumer(client, reports):
    assert client.get("/healthz").json()["checks"]["streaming"] == {"ok": True, "consumers": {}}


@pytest.mark.django_db
def test_metrics_show_each_consumers_lag_rate_errors_and_whether_it_is_up(client, reports):
    heartbeat_write(reports, name="host-1", report=REPORT)

    body = client.get("/metrics").content.decode()

    labels = 'broker="nats",consumer="host-1",organisation="test-org",subject="transactions.in"'
    assert f"anomaly_stream_consumer_lag{{{labels}}} 12.0" in body
    assert f"anomaly_stream_consumer_rate{{{labels}}} 850.5" in body
    assert f"anomaly_stream_consumer_errors_total{{{labels}}} 2.0" in body
    assert f"anomaly_stream_consumer_up{{{labels}}} 1.0" in body


@pytest.mark.django_db(transaction=True)
def test_a_running_consumer_reports_what_it_handled_and_its_lag(names, active_model, consumer_thread, reports):
    consumer = consumer_thread(NATS_URL, names.topology())
    publish_nats(names.subject, [transaction_body(n) for n in range(30)] + [b"bad"])
    read_stream(names.decisions, expect=30)

    report = wait_for(
        lambda: (
            heartbeats_read(reports).get(consumer.broker.name, {}).get("messages") == 31
            and heartbeats_read(reports)[consumer.broker.name]
        ),
        timeout=20,
    )

    assert (report["decisions"], report["dead_letters"], report["lag"], report["state"]) == (30, 1, 0, "running")
    consumer.stop()
    assert consumer.broker.name not in heartbeats_read(reports)
