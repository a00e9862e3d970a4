import asyncio
import logging
import os
import socket

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from streaming.brokers import Topology, durable_name
from streaming.consumer import Consumer, broker_for
from streaming.services import OrganisationUnclear, messages_score, stream_organisation, stream_source


class Command(BaseCommand):
    help = (
        "Consume transactions from NATS JetStream or RabbitMQ, store and score them in micro-batches, and publish "
        "each decision (invalid messages go to the dead letters). Run as many as you like: they share the work."
    )

    def add_arguments(self, parser):
        parser.add_argument("--broker", required=True, help="nats://host:4222 or amqp://user:password@host:5672/")
        parser.add_argument("--subject", default="transactions.in", help="The input subject (RabbitMQ: routing key).")
        parser.add_argument("--decisions", default="transactions.decisions", help="Where decisions are published.")
        parser.add_argument("--dead-letter", default="", help="Where invalid messages go (default: SUBJECT.dead).")
        parser.add_argument("--queue", default="", help="RabbitMQ: the shared input queue (default: SUBJECT).")
        parser.add_argument("--exchange", default="sentinel", help="RabbitMQ: the topic exchange.")
        parser.add_argument("--stream", default="", help="NATS: the stream over SUBJECT, made when missing.")
        parser.add_argument("--durable", default="", help="NATS: the durable consumer (default: sentinel-SUBJECT).")
        parser.add_argument("--organisation", default="", help="Default: the only organisation there is.")
        parser.add_argument("--source", default="", help="The source the transactions belong to (default: SUBJECT).")
        parser.add_argument("--batch-size", type=int, default=1000, help="Messages stored and scored at once, at most.")
        parser.add_argument("--name", default="", help="This consumer's name in /healthz and /metrics (host-pid).")
        parser.add_argument("--report-every", type=float, default=5.0, help="Seconds between reports to Redis.")

    def handle(self, *args, **options):
        subject = options["subject"]
        topology = Topology(
            subject=subject,
            decisions=options["decisions"],
            dead_letter=options["dead_letter"] or f"{subject}.dead",
            stream=options["stream"],
            durable=options["durable"] or durable_name(subject),
            queue=options["queue"] or subject,
            exchange=options["exchange"],
        )
        try:
            organisation = stream_organisation(options["organisation"] or None)
        except OrganisationUnclear as unclear:
            raise CommandError(str(unclear))
        source = stream_source(organisation=organisation, name=options["source"] or subject)
        connection.close()  # the consumer's database work runs on a thread of its own, with its own connection
        name = options["name"] or f"{socket.gethostname()}-{os.getpid()}"
        try:
            broker = broker_for(options["broker"], topology=topology, name=name, log=logging.getLogger("streaming"))
        except ValueError as bad:
            raise CommandError(str(bad))
        labels = {"broker": broker.kind, "subject": subject, "organisation": organisation.name, "source": source.name}
        if os.environ.get("METRICS_PORT"):  # this process's scoring counters, for Prometheus (deploy/prometheus/)
            from core.metrics import metrics_server_start

            metrics_server_start(int(os.environ["METRICS_PORT"]))
        consumer = Consumer(
            broker=broker,
            score=lambda bodies: messages_score(source=source, bodies=bodies),
            name=name,
            labels=labels,
            batch_size=options["batch_size"],
            report_every=options["report_every"],
        )
        self.stdout.write(
            f"Consuming {subject} from {broker.kind} for {organisation.name} (source {source.name}); decisions to "
            f"{topology.decisions}, dead letters to {topology.dead_letter}. Ctrl-C stops."
        )
        asyncio.run(consumer.run())
        self.stdout.write(f"Stopped after {consumer.counts.messages} messages.")
