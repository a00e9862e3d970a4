import os

from django.core.management.base import BaseCommand

from anomaly_site.servers import default_workers, web_command, web_environment


class Command(BaseCommand):
    help = "Serve pages, the API and websockets: gunicorn managing uvicorn workers (anomaly_site/servers.py)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers", type=int, default=None, help="Worker processes (default: WEB_WORKERS or one per core)."
        )

    def handle(self, *args, host, port, workers, **options):
        workers = workers or default_workers()
        command = web_command(host=host, port=port, workers=workers)
        self.stdout.write(f"Serving on http://{host}:{port}/ with {workers} workers.")
        self.stdout.flush()
        os.execve(command[0], command, web_environment(workers=workers))  # noqa: S606 - our own server, by its full path
