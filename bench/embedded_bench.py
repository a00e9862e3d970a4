"""How fast the embedded servers start (core/embedded.py, docs/operations.md "Embedded services"): PostgreSQL's first
start (initdb included), its start on existing data, Valkey's and NATS's; each on a free port in a scratch folder,
stopped afterwards. Prints one line per service with the median of --runs.

    .venv/bin/python bench/embedded_bench.py --runs 3
"""

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import embedded  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(start) -> float:
    began = time.perf_counter()
    start()
    return time.perf_counter() - began


def one_run() -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="sentinel-embedded-bench-"))
    root.chmod(0o755)
    try:
        pg, redis_port, nats = free_port(), free_port(), free_port()
        pg_url = f"postgres://postgres@127.0.0.1:{pg}/bench"
        figures = {"postgres_first_s": timed(lambda: embedded.ensure_postgres(pg_url, root=root))}
        embedded.stop(root)
        figures["postgres_again_s"] = timed(lambda: embedded.ensure_postgres(pg_url, root=root))
        figures["valkey_s"] = timed(lambda: embedded.ensure_redis(f"redis://127.0.0.1:{redis_port}/0", root=root))
        figures["nats_s"] = timed(lambda: embedded.ensure_nats(f"nats://127.0.0.1:{nats}", root=root))
        return figures
    finally:
        embedded.stop(root)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    runs = [one_run() for _ in range(parser.parse_args().runs)]
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"{name}: median {statistics.median(values):.2f} s (runs: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
