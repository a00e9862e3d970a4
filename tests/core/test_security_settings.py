"""Headers and settings: check --deploy clean with the documented production settings, DEBUG off by default, HTTPS,
HSTS and Secure cookies when DEBUG is off, short secret keys refused, a kept local key, a Content-Security-Policy
without inline script, and no inline script or handler left in any template."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from anomaly_site.settings import local_secret_key

ROOT = Path(settings.BASE_DIR)
PRODUCTION = {  # docs/security.md, "Production settings"
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "-Zq8rT2vX9wLmN4pB7sD1fG6hJ3kY5cV0aE",
    "ALLOWED_HOSTS": "sentinel.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://sentinel.example.com",
    "SITE_URL": "https://sentinel.example.com",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}


def production_env(**changes: str) -> dict[str, str]:
    """This machine's environment without the test run's own switches, plus the production settings."""
    ours = ("DEBUG", "PLAIN_HTTP", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "SESSION_", "CSRF_")) and k not in ours}
    return env | PRODUCTION | {"DJANGO_SETTINGS_MODULE": "anomaly_site.settings"} | changes


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def settings_in(env: dict[str, str], *names: str) -> list[str]:
    code = "import django; django.setup(); from django.conf import settings as s; "
    code += f"print(' '.join(str(getattr(s, n)) for n in {names!r}))"
    result = run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_check_deploy_is_clean_with_the_documented_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_production_start_refuses_a_short_secret_key():
    result = run(["manage.py", "check"], production_env(SECRET_KEY="abc"))

    assert result.returncode != 0
    assert "SECRET_KEY is 3 characters; with DEBUG off it must be at least 50" in result.stderr


def test_debug_is_off_unless_set_and_https_is_enforced_when_it_is_off():
    env = production_env()
    del env["DEBUG"]

    values = settings_in(
        env,
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    )

    assert values == ["False", "True", "31536000", "True", "True", "True"]


def test_plain_http_opts_out_of_the_redirect_hsts_and_secure_cookies():
    values = settings_in(
        production_env(PLAIN_HTTP="1"), "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE"
    )

    assert values == ["False", "0", "False"]


def test_without_a_secret_key_a_random_one_is_created_once_with_mode_600(tmp_path):
    path = tmp_path / "var" / "secret_key"

    first = local_secret_key(path)

    assert len(first) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_secret_key(path) == first
    assert local_secret_key(tmp_path / "other") != first


def test_a_local_run_without_secret_key_uses_the_kept_one(tmp_path):
    env = production_env(PLAIN_HTTP="1", SECRET_KEY_FILE=str(tmp_path / "key"))
    del env["SECRET_KEY"]

    (key,) = settings_in(env, "SECRET_KEY")

    assert key == (tmp_path / "key").read_text().strip() and len(key) >= 50


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_but_not_the_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/accounts/login/")

    assert response.status_code == 301 and response["Location"] == "https://testserver/accounts/login/"
    assert client.get("/healthz").status_code in (200, 503)


@pytest.mark.django_db
def test_https_answers_carry_hsts_and_the_security_headers(client, settings):
    settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SECURE_HSTS_PRELOAD = 31536000, 1, 1

    response = client.get("/accounts/login/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert (response["X-Frame-Options"], response["X-Content-Type-Options"]) == ("DENY", "nosniff")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/no/such/page/", "/api/v1/jobs/1"])
def test_every_answer_has_a_csp_without_inline_or_eval_script(client, path):
    policy = dict(part.strip().split(" ", 1) for part in client.get(path)["Content-Security-Policy"].split(";"))

    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'self'"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler (on...=)"),
    (re.compile(r"\shx-on[:=-]", re.I), "hx-on, which htmx runs with eval"),
    (re.compile(r"hx-(?:trigger|vals|vars)=\"[^\"]*(?:\[|js:)", re.I), "an htmx filter or js: value, which needs eval"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def template_files() -> list[Path]:
    roots = [
        ROOT / "templates",
        *(ROOT / app / "templates" for app in ("accounts", "detection", "review", "alerts", "rules", "search")),
    ]
    return [path for root in roots if root.is_dir() for path in sorted(root.rglob("*.html"))]


def test_no_template_has_inline_script_or_handlers():
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in template_files()
        for pattern, what in INLINE
        if pattern.search(path.read_text())
    ]

    assert template_files() and not found, found
