"""Test settings: the real PostgreSQL and Redis, a fast password hasher, mail kept in memory."""

import os

os.environ.setdefault("CACHE_KEY_PREFIX", "anomaly-test")
os.environ.setdefault("CHANNELS_PREFIX", "asgi-test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("CELERY_QUEUE", "anomaly-test")
# The test client, live servers and browsers speak plain HTTP to 127.0.0.1 (tests of the HTTPS settings set them).
os.environ.setdefault("PLAIN_HTTP", "1")

from anomaly_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405

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
