"""Production mode as docs/operations.md gives it: `manage.py check --deploy` passes with no warning under the
documented settings, which turn on HTTPS, Secure cookies and the static files' root, and refuse embedded servers."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from core import embedded

ROOT = Path(settings.BASE_DIR)


def documented_settings() -> dict[str, str]:
    """The `sh` block under "## Production mode" in docs/operations.md, secrets shown as … made up here."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("\n## Production mode\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    pairs = re.findall(r"^([A-Z_]+)=(\S+)", block, re.MULTILINE)
    return {name: secrets.token_urlsafe(50) if value == "…" else value for name, value in pairs}


def production_env() -> dict[str, str]:
    """This machine's environment less the test run's own switches, plus the documented settings."""
    dropped = ("DEBUG", "PLAIN_HTTP", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "EMBEDDED_SERVICES")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith(("SECURE_", "SESSION_"))}
    return env | documented_settings() | {"DJANGO_SETTINGS_MODULE": "anomaly_site.settings"}


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def test_the_documented_settings_cover_what_a_deployment_sets():
    documented = documented_settings()

    assert documented["DEBUG"] == "0" and len(documented["SECRET_KEY"]) >= 50
    for name in ("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_PROXY_SSL_HEADER", "STATIC_ROOT", "METRICS_TOKEN"):
        assert documented[name], name
    assert "PLAIN_HTTP" not in documented and "EMBEDDED_SERVICES" not in documented


def test_check_deploy_passes_with_no_warning_under_the_documented_settings():
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout  # axes.W002, documented


def test_the_documented_settings_give_https_secure_cookies_and_the_static_root():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_PROXY_SSL_HEADER, s.STATIC_ROOT)"
    )
    result = run_python(["-c", code], production_env())

    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 6) == [
        *("False", "True", "31536000", "True", "True", "True"),
        "('HTTP_X_FORWARDED_PROTO', 'https') /srv/sentinel/static\n",
    ]


def test_the_documented_settings_refuse_embedded_servers_even_when_asked():
    assert embedded.refusal(documented_settings() | {"EMBEDDED_SERVICES": "1"}) == (
        "production settings (DEBUG and PLAIN_HTTP off) never start an embedded server"
    )
