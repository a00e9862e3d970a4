import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from anomaly_site.servers import default_workers, web_command, web_environment


class Command(BaseCommand):
    help = (
        "Run the web server (gunicorn managing uvicorn workers: pages, API and websockets) and a Celery worker "
        "together until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")
        parser.add_argument(
            "--web-workers", type=int, default=None, help="Web worker processes (default: one per core)."
        )
        # Streaming (issue 26): one NATS consumer when NATS answers.
        parser.add_argument("--nats", default=settings.NATS_URL, help="NATS for the consumer ('' for none).")

    def handle(self, *args, host, port, concurrency, web_workers, nats, **options):
        bin_dir = Path(sys.executable).parent
        commands = {
            "web": web_command(host=host, port=port, workers=web_workers or default_workers()),
            # -B embeds the beat scheduler (retraining, the jobs' sweep, pending alerts); one beat per deployment.
            "worker": [
                *(str(bin_dir / "celery"), "-A", "anomaly_site", "worker", "-B", "-l", "info"),
                *("-c", str(concurrency)),
            ],
        }
        commands |= self._stream_consumer(bin_dir, nats)
        Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).parent.mkdir(parents=True, exist_ok=True)
        environments = {"web": web_environment(workers=web_workers or default_workers())}
        processes = {
            name: subprocess.Popen(cmd, env=environments.get(name, os.environ.copy())) for name, cmd in commands.items()
        }
        if settings.PLAIN_HTTP:
            self.stdout.write(
                f"Plain HTTP on http://{host}:{port}/ (PLAIN_HTTP=1): no HTTPS redirect, HSTS or Secure cookies; "
                "for this machine only."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Serving on http://{host}:{port}/ ({web_workers or default_workers()} web workers) with a Celery "
                "worker. Ctrl-C stops both."
            )
        )
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            self._stop(processes)

    def _stream_consumer(self, bin_dir: Path, url: str) -> dict[str, list[str]]:
        """Streaming (issue 26): `manage.py consume` on NATS's default subjects when NATS answers; else say so."""
        if not url:
            return {}
        if not nats_answers(url):
            self.stdout.write(
                f"NATS does not answer at {url}: no streaming consumer (start nats-server -js to have one)."
            )
            return {}
        from streaming.services import OrganisationUnclear, stream_organisation

        try:
            stream_organisation(None)  # a consumer that could not start would stop the whole stack with it
        except OrganisationUnclear as unclear:
            self.stdout.write(f"No streaming consumer: {unclear} Run manage.py consume yourself.")
            return {}
        self.stdout.write(
            f"NATS answers at {url}: a consumer reads transactions.in and publishes to transactions.decisions."
        )
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        return {"consumer": [sys.executable, manage, "consume", "--broker", url]}

    @staticmethod
    def _stop(processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


def nats_answers(url: str, timeout: float = 1.0) -> bool:
    """NATS greets a new connection with an INFO line."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=timeout) as sock:
            return sock.recv(4).startswith(b"INFO")
    except OSError:
        return False
