"""Test settings: the real PostgreSQL and Redis, a fast password hasher, mail kept in memory."""

import os

os.environ.setdefault("CACHE_KEY_PREFIX", "anomaly-test")
os.environ.setdefault("CHANNELS_PREFIX", "asgi-test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("CELERY_QUEUE", "anomaly-test")
# The test client, live servers and browsers speak plain HTTP to 127.0.0.1 (tests of the HTTPS settings set them).
os.environ.setdefault("PLAIN_HTTP", "1")

# Under pytest-xdist (`make test` runs the suite over several processes) each worker process keeps to its own Redis
# database, key prefixes and Celery queue, as two developers would; pytest-django gives it its own test database
# (test_<name>_gw<K>). The environment is changed, not only the settings, so that the servers, workers and
# consumers the tests start inherit it.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and not os.environ.get("_SENTINEL_XDIST_APPLIED"):
    _index = int(_worker[2:])
    _base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    os.environ["REDIS_URL"] = f"{_base}/{(int(_db or 0) + 1 + _index) % 16}"
    for _name in ("CACHE_KEY_PREFIX", "CHANNELS_PREFIX", "CELERY_QUEUE"):
        os.environ[_name] = f"{os.environ[_name]}-{_worker}"
    os.environ["_SENTINEL_XDIST_APPLIED"] = "1"

from anomaly_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
MEDIA_ROOT = BASE_DIR / "var" / ("test-media" + (f"-{_worker}" if _worker else ""))  # noqa: F405

# Each developer or helper running the suite at once sets TEST_DB_NAME, or a DATABASE_URL of their own (the test
# database is then test_<its name>), and REDIS_URL's db, to stay apart.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.environ.get("TEST_DB_NAME") or f"test_{DATABASES['default']['NAME']}"  # noqa: F405
}


class ContentTypeCacheCleared:
    """The browser tests' server outlives the test database's flushes between transactional tests, which make the
    content types again under new ids: a process's cached ids (the admin's log entries, permissions) would point at
    rows that are gone. Test servers forget them at every request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
        return self.get_response(request)


MIDDLEWARE = ["anomaly_site.test_settings.ContentTypeCacheCleared", *MIDDLEWARE]  # noqa: F405

# A `replica` alias mirroring the test database, as DATABASE_REPLICA_URL would add one: tests/core/test_db_routing.py
# installs the router over it; every other test reads and writes the primary only.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
DATABASE_ROUTERS = []
