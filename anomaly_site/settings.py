"""One settings module, driven by environment variables with safe development defaults.

Optional integrations switch on when their URL or key is set; nothing exists only in production.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY_MIN_LENGTH = 50  # what `check --deploy` asks for


def local_secret_key(path: Path) -> str:
    """The key kept in `path` (mode 600), created with a random one on first use: a single machine's runs keep
    their sessions across restarts without anyone choosing a key. Several machines must share SECRET_KEY."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(secrets.token_urlsafe(50))
    try:
        os.link(fresh, path)  # fails if another process created it first: then its key is the one
    except FileExistsError:
        pass
    finally:
        fresh.unlink()
    return path.read_text().strip()


# Off unless DEBUG=1 is set: a debug page shows paths, settings and source to whoever triggers an error.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "") or local_secret_key(
    Path(os.environ.get("SECRET_KEY_FILE", BASE_DIR / "var" / "secret_key"))
)
if not DEBUG and len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH:
    raise ImproperlyConfigured(
        f"SECRET_KEY is {len(SECRET_KEY)} characters; with DEBUG off it must be at least {SECRET_KEY_MIN_LENGTH}, "
        "random and secret. Make one with: python -c 'import secrets; print(secrets.token_urlsafe(50))' "
        "(or leave SECRET_KEY unset on one machine: var/secret_key is then created and kept)."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "channels",
    "axes",
    "csp",
    "anomaly_site",
    "core",
    "accounts",
    "transactions",
    "detection",
    "rules",
    "monitoring",
    "review",
    "alerts",
    "search",
    "streaming",
]

# Security and CSP come first so that every answer carries their headers, the error pages that the middleware
# below them puts in place included.
MIDDLEWARE = [
    "core.metrics.RequestMetricsMiddleware",  # first: counts and times every answer, redirects and 503s included
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.db_routing.ReplicaReadsMiddleware",
    "core.middleware.ServiceUnavailableMiddleware",
    "core.api_errors.ApiJsonErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.CurrentOrganisationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.LoginRequiredEverywhereMiddleware",
    "accounts.lockout.LoginLockoutMiddleware",
    "core.audit.AuditContextMiddleware",
]

ROOT_URLCONF = "anomaly_site.urls"
WSGI_APPLICATION = "anomaly_site.wsgi.application"
ASGI_APPLICATION = "anomaly_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.organisations",
            ],
        },
    },
]

# Persistent connections pay off under WSGI workers (gunicorn); under ASGI (daphne, uvicorn) every request may run
# on a new thread with its own connection, so the default closes them after each request (see DB_POOL below).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/anomaly"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
        conn_health_checks=True,
    )
}
# DB_POOL=1: a pool of open connections in each server process (psycopg's pool, Django 5.1+), for ASGI servers
# where a request's connection cannot persist on its thread; `make run`, `make web` and docker-compose turn it on.
# DB_POOL_MAX_SIZE bounds each process's connections (workers x it must stay under PostgreSQL's max_connections).
if env_bool("DB_POOL", False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django refuses both at once
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "8")),
        # Waiting longer than a connection attempt would: a PostgreSQL down is a 503 as soon (core.middleware).
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", os.environ.get("DB_CONNECT_TIMEOUT", "5"))),
    }
# A PostgreSQL that does not answer costs a request this many seconds, then a 503 (core.middleware).
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = int(os.environ.get("DB_CONNECT_TIMEOUT", "5"))
# DATABASE_REPLICA_URL: a read replica of that PostgreSQL (streaming replication). Pages' GETs read transactions,
# scores, queues, cases and rules from it; writes, the partner API, logins and roles stay on the primary
# (core/db_routing.py, docs/operations.md "Scaling out"). Same pool and timeouts as the primary.
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = {
        **dj_database_url.parse(
            os.environ["DATABASE_REPLICA_URL"],
            conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
            conn_health_checks=True,
        ),
        "OPTIONS": dict(DATABASES["default"]["OPTIONS"]),
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["core.db_routing.ReplicaRouter"]
# Seconds a 503 (PostgreSQL or the broker unreachable) asks the caller to wait before trying again (Retry-After).
UNAVAILABLE_RETRY_AFTER_SECONDS = int(os.environ.get("UNAVAILABLE_RETRY_AFTER_SECONDS", "30"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# Seconds to connect to Redis and to wait for an answer: a Redis that is down or unreachable costs a request this
# much at most, and the scoring API goes on without it (rate limits off, the active version read from PostgreSQL).
REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS", "1"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "anomaly"),
        "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # channels-redis waits for messages with a 5-second blocking pop; redis-py's default socket timeout
            # (also 5 s) would cut it and close every idle websocket, so its reads get longer than the pop.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}],
            "prefix": os.environ.get("CHANNELS_PREFIX", "asgi"),
        },
    }
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "anomaly")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    # A broker that is down or silent fails a publish within seconds (the job upload answers 503) instead of hanging;
    # the read timeout stays above the worker's 1-second blocking pop.
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_timeout": max(5.0, REDIS_TIMEOUT_SECONDS),
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Scheduled retraining (Celery beat; `make run` embeds beat in its worker): every RETRAIN_EVERY_HOURS hours
# (0 switches it off) on the newest RETRAIN_DAYS days, labels known so far included. It proves itself: the newest
# RETRAIN_EVALUATION_DAYS labelled days are held out of its training, and the new version becomes active on its own
# only if its RETRAIN_PROMOTE_METRIC (average_precision or roc_auc) there is at least the active version's plus
# RETRAIN_PROMOTE_MARGIN (or when none is active); otherwise it waits, ready, with the comparison saved for an admin.
# RETRAIN_AUTO_ACTIVATE=0 never activates on its own (the comparison is still saved).
RETRAIN_EVERY_HOURS = float(os.environ.get("RETRAIN_EVERY_HOURS", "24"))
RETRAIN_DAYS = int(os.environ.get("RETRAIN_DAYS", "30"))
RETRAIN_AUTO_ACTIVATE = env_bool("RETRAIN_AUTO_ACTIVATE", True)
RETRAIN_PROMOTE_METRIC = os.environ.get("RETRAIN_PROMOTE_METRIC", "average_precision")
RETRAIN_PROMOTE_MARGIN = float(os.environ.get("RETRAIN_PROMOTE_MARGIN", "0.01"))
RETRAIN_EVALUATION_DAYS = int(os.environ.get("RETRAIN_EVALUATION_DAYS", "7"))
# Minutes between two looks for scores whose alert evaluation could not be queued (the broker was down).
ALERTS_PENDING_EVERY_MINUTES = float(os.environ.get("ALERTS_PENDING_EVERY_MINUTES", "5"))
CELERY_BEAT_SCHEDULE = {
    "alerts-evaluate-pending": {"task": "alerts.evaluate_pending", "schedule": ALERTS_PENDING_EVERY_MINUTES * 60},
    **(
        {
            "retrain-detection-model": {
                "task": "detection.tasks.model_version_retrain_task",
                "schedule": RETRAIN_EVERY_HOURS * 3600,
            }
        }
        if RETRAIN_EVERY_HOURS > 0
        else {}
    ),
}
# Drift (monitoring/): every day at DRIFT_CHECK_HOUR:15 UTC (-1 switches it off) Celery beat measures the day before
# against each organisation's active version, on at most DRIFT_SAMPLE_ROWS of its transactions (none with fewer
# than DRIFT_MIN_ROWS); `manage.py drift_check` measures now.
DRIFT_CHECK_HOUR = int(os.environ.get("DRIFT_CHECK_HOUR", "0"))
DRIFT_SAMPLE_ROWS = int(os.environ.get("DRIFT_SAMPLE_ROWS", "5000"))
DRIFT_MIN_ROWS = int(os.environ.get("DRIFT_MIN_ROWS", "50"))
if DRIFT_CHECK_HOUR >= 0:
    CELERY_BEAT_SCHEDULE["monitoring-drift-check"] = {
        "task": "monitoring.drift_check",
        "schedule": crontab(minute=15, hour=DRIFT_CHECK_HOUR),
    }
# The transactions table's month partitions (transactions/partitions.py): this month's and the next three, daily.
CELERY_BEAT_SCHEDULE["transactions-partitions-ahead"] = {
    "task": "transactions.partitions_ahead",
    "schedule": crontab(minute=5, hour=0),
}
# Where `manage.py archive` writes the months it takes out of the store: <table>/<YYYY-MM>.parquet.
ARCHIVE_DIR = Path(os.environ.get("ARCHIVE_DIR", str(BASE_DIR / "var" / "archive")))
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get("CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / "var" / "celerybeat"))

# Logins (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one username, or from one address, logins for
# it are refused for LOGIN_COOLOFF_MINUTES after the last failure (or until an admin unlocks them), even with the
# right password. Each lockout and unlock is audited (accounts/lockout.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
LOGIN_COOLOFF_MINUTES = float(os.environ.get("LOGIN_COOLOFF_MINUTES", "15"))
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # tries while locked out neither count nor extend it
# axes' middleware runs as accounts.lockout.LoginLockoutMiddleware (synchronous), which its check does not recognise.
SILENCED_SYSTEM_CHECKS = ["axes.W002"]
AXES_VERBOSE = False  # no start-up banner in every command's output
# Behind N reverse proxies the client's address is the Nth from the right of X-Forwarded-For (0: REMOTE_ADDR).
LOGIN_PROXY_COUNT = int(os.environ.get("LOGIN_PROXY_COUNT", "0"))
if LOGIN_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = LOGIN_PROXY_COUNT
    AXES_IPWARE_PROXY_ORDER = "right-most"
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# HTTPS: with DEBUG off, plain HTTP is redirected to HTTPS, HSTS is sent and the cookies are Secure. PLAIN_HTTP=1 is
# for a process reached over plain HTTP on its own machine (`make run` sets it, and says so): none of the three.
# Behind a proxy that ends TLS, set SECURE_PROXY_SSL_HEADER ("HTTP_X_FORWARDED_PROTO,https"), or SECURE_SSL_REDIRECT=0
# when the proxy redirects to HTTPS itself (docs/security.md).
PLAIN_HTTP = env_bool("PLAIN_HTTP", False)
HTTPS_ONLY = not DEBUG and not PLAIN_HTTP
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS_ONLY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes and scrapers call the process directly
SECURE_PROXY_SSL_HEADER = tuple(env_list("SECURE_PROXY_SSL_HEADER", "")) or None
if SECURE_PROXY_SSL_HEADER is not None and len(SECURE_PROXY_SSL_HEADER) != 2:
    raise ImproperlyConfigured('SECURE_PROXY_SSL_HEADER is "HEADER,value", e.g. "HTTP_X_FORWARDED_PROTO,https"')
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS_ONLY else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS_ONLY)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS_ONLY)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS_ONLY)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS_ONLY)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_FAILURE_VIEW = "core.api_errors.csrf_failure"  # the site's 403 page, not Django's bare one

# Content-Security-Policy (django-csp): scripts only from this site's own files, never inline or eval'd (pages keep
# their scripts in static/js/, htmx runs with allowEval off). Styles may be inline (style attributes, htmx's
# indicator): CSS cannot run script. CSP_REPORT_URI, when set, receives the browsers' violation reports.
SELF, NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        **({"report-uri": [os.environ["CSP_REPORT_URI"]]} if os.environ.get("CSP_REPORT_URI") else {}),
    }
}

# Transactions
DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY", "EUR")
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(5 * 1024 * 1024)))
FILE_UPLOAD_MAX_BYTES = int(os.environ.get("FILE_UPLOAD_MAX_BYTES", str(512 * 1024 * 1024)))
# Ingest bounds (transactions/validation.py): timestamps from TIMESTAMP_MIN (ISO date, UTC) to TIMESTAMP_MAX_AHEAD
# seconds after now; `attributes` at most this deep, with this many keys in all and this many bytes of JSON.
TIMESTAMP_MIN = os.environ.get("TIMESTAMP_MIN", "1970-01-01")
TIMESTAMP_MAX_AHEAD = int(os.environ.get("TIMESTAMP_MAX_AHEAD", str(24 * 3600)))
ATTRIBUTES_MAX_DEPTH = int(os.environ.get("ATTRIBUTES_MAX_DEPTH", "5"))
ATTRIBUTES_MAX_KEYS = int(os.environ.get("ATTRIBUTES_MAX_KEYS", "100"))
ATTRIBUTES_MAX_BYTES = int(os.environ.get("ATTRIBUTES_MAX_BYTES", str(16 * 1024)))

# E-mail: SMTP when EMAIL_HOST is set, the console otherwise.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "alerts@anomaly.local")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.PartnerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "core.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Transaction anomaly detection API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Review queue: an item older than these many minutes is shown amber, then red (its SLA).
REVIEW_SLA_AMBER_MINUTES = int(os.environ.get("REVIEW_SLA_AMBER_MINUTES", "60"))
REVIEW_SLA_RED_MINUTES = int(os.environ.get("REVIEW_SLA_RED_MINUTES", "240"))
# The queue policy (detection/engine/offering.py): how many items a day the analysts review, the share of them spent
# on exploration, the share a confirmed fraud's investigation may take (its card's and merchant's other transactions
# of the last REVIEW_INVESTIGATE_DAYS days), defaults chosen by the handbook backtest (docs/benchmarks.md).
REVIEW_BUDGET_PER_DAY = int(os.environ.get("REVIEW_BUDGET_PER_DAY", "100"))
REVIEW_EXPLORE_SHARE = float(os.environ.get("REVIEW_EXPLORE_SHARE", "0.1"))
REVIEW_INVESTIGATE_SHARE = float(os.environ.get("REVIEW_INVESTIGATE_SHARE", "0.5"))
REVIEW_INVESTIGATE_DAYS = int(os.environ.get("REVIEW_INVESTIGATE_DAYS", "7"))
# Which investigations a confirmed fraud opens, in the order they fill their share ("merchant", "card"; empty: none).
REVIEW_INVESTIGATE = os.environ.get("REVIEW_INVESTIGATE", "merchant,card")
# The policy runs when items arrive and when a fraud is confirmed, and every this many minutes (a new day's budget).
REVIEW_OFFER_EVERY_MINUTES = int(os.environ.get("REVIEW_OFFER_EVERY_MINUTES", "10"))
CELERY_BEAT_SCHEDULE["review-queue-offer"] = {
    "task": "review.queue_offer_all",
    "schedule": REVIEW_OFFER_EVERY_MINUTES * 60,
}
# Review cases: the largest file kept with a case (bytes).
CASE_ATTACHMENT_MAX_BYTES = int(os.environ.get("CASE_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
# The performance page shows ROC AUC, average precision, precision at the threshold and curves from this many labels.
PERFORMANCE_MIN_LABELS = int(os.environ.get("PERFORMANCE_MIN_LABELS", "30"))

# Alerts: webhook/e-mail delivery timeouts and retries; SITE_URL makes links in alerts absolute.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
ALERTS_DELIVERY_TIMEOUT = float(os.environ.get("ALERTS_DELIVERY_TIMEOUT", "5"))
ALERTS_MAX_ATTEMPTS = int(os.environ.get("ALERTS_MAX_ATTEMPTS", "6"))
ALERTS_RETRY_BACKOFF = float(os.environ.get("ALERTS_RETRY_BACKOFF", "10"))
ALERTS_RETRY_BACKOFF_MAX = float(os.environ.get("ALERTS_RETRY_BACKOFF_MAX", "3600"))
# The on-call and SMS channels (issue 28): the services' base URLs (overridable for a regional account or a test's
# fake receiver), and the key of the channel secrets stored encrypted (derived from SECRET_KEY when not set;
# several, comma-separated, newest first, to rotate it). Secrets may instead be read from environment variables whose
# names begin with ALERTS_SECRET_ENV_PREFIX.
ALERTS_PAGERDUTY_BASE_URL = os.environ.get("ALERTS_PAGERDUTY_BASE_URL", "https://events.pagerduty.com")
ALERTS_OPSGENIE_BASE_URL = os.environ.get("ALERTS_OPSGENIE_BASE_URL", "https://api.opsgenie.com")
ALERTS_TWILIO_BASE_URL = os.environ.get("ALERTS_TWILIO_BASE_URL", "https://api.twilio.com")
ALERTS_ENCRYPTION_KEY = os.environ.get("ALERTS_ENCRYPTION_KEY", "")
ALERTS_SECRET_ENV_PREFIX = "ALERTS_SECRET_"

# MLflow tracking of training runs (issue 28), when MLFLOW_TRACKING_URI is set and requirements/mlflow.txt installed:
# one experiment per organisation, named "<prefix>/<organisation>"; MLFLOW_UI_URL is where the versions' links
# point (the tracking URI when it is an http(s) server and this is unset).
MLFLOW_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI", "")
MLFLOW_EXPERIMENT_PREFIX = os.environ.get("MLFLOW_EXPERIMENT_PREFIX", "sentinel")
MLFLOW_UI_URL = os.environ.get("MLFLOW_UI_URL", "")

# Partner API (issue 4): error shape, per-token rate limits (count/period, period s, min, h or d), batch and jobs.
REST_FRAMEWORK["EXCEPTION_HANDLER"] = "core.api_errors.api_exception_handler"
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["core.throttling.TokenRateThrottle"]
API_RATES = {
    "score": os.environ.get("API_RATE_SCORE", "6000/min"),
    "label": os.environ.get("API_RATE_LABEL", "1200/min"),
    "read": os.environ.get("API_RATE_READ", "1200/min"),
    "jobs": os.environ.get("API_RATE_JOBS", "60/hour"),
    "lists": os.environ.get("API_RATE_LISTS", "1200/min"),
}
# The benchmarks' floor endpoints (/api/v1/bench/floor/...: detection/scoring/floor.py), routed only when set; only
# bench/ sets it. Never in production.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)
API_BATCH_MAX_ITEMS = int(os.environ.get("API_BATCH_MAX_ITEMS", "1000"))
JOB_CHUNK_ROWS = int(os.environ.get("JOB_CHUNK_ROWS", "50000"))
# Batches and job chunks read their history from a per-process copy of recent transactions
# (detection/scoring/history.py) kept in step with PostgreSQL; above this many rows in the lookback window they read
# it from PostgreSQL instead.
HISTORY_CACHE = env_bool("HISTORY_CACHE", True)
HISTORY_CACHE_MAX_ROWS = int(os.environ.get("HISTORY_CACHE_MAX_ROWS", "3000000"))
# Comparing a version with the active one before activating it scores the newest COMPARE_MAX_ROWS transactions of the
# last COMPARE_DAYS days with both (detection/versions/); fewer than COMPARE_MIN_LABELS labels among them (or one
# kind only) and the page says "not enough labels" instead of metrics.
COMPARE_MAX_ROWS = int(os.environ.get("COMPARE_MAX_ROWS", "20000"))
COMPARE_DAYS = int(os.environ.get("COMPARE_DAYS", "14"))
COMPARE_MIN_LABELS = int(os.environ.get("COMPARE_MIN_LABELS", "30"))
# An upload's or job's analysis page reads at most JOB_ANALYSIS_MAX_ROWS of its rows (detection/jobs/analysis.py), and
# warns when the file's features lie far from the active model's training sample: when at least
# JOB_DRIFT_MIN_FEATURES features' population stability index, over at most JOB_DRIFT_SAMPLE_ROWS of its rows, reaches
# JOB_DRIFT_PSI_THRESHOLD, naming them (not below JOB_DRIFT_MIN_ROWS rows: too few to tell).
JOB_ANALYSIS_MAX_ROWS = int(os.environ.get("JOB_ANALYSIS_MAX_ROWS", "200000"))
JOB_DRIFT_SAMPLE_ROWS = int(os.environ.get("JOB_DRIFT_SAMPLE_ROWS", "5000"))
JOB_DRIFT_MIN_ROWS = int(os.environ.get("JOB_DRIFT_MIN_ROWS", "100"))
JOB_DRIFT_PSI_THRESHOLD = float(os.environ.get("JOB_DRIFT_PSI_THRESHOLD", "0.25"))
JOB_DRIFT_MIN_FEATURES = int(os.environ.get("JOB_DRIFT_MIN_FEATURES", "3"))
# A chunk's claim is held by the row lock of the transaction doing its work, which PostgreSQL drops as soon as the
# worker's connection dies; a claimed chunk whose row nobody locks for JOB_CHUNK_LEASE_SECONDS belongs to a dead
# worker. Every JOB_SWEEP_EVERY_SECONDS the beat queues such chunks (and a dead worker's unfinished split) again, so
# a killed worker's work is taken over within about the sum of the two (detection/jobs/chunks.py).
JOB_CHUNK_LEASE_SECONDS = int(os.environ.get("JOB_CHUNK_LEASE_SECONDS", "60"))
JOB_SWEEP_EVERY_SECONDS = float(os.environ.get("JOB_SWEEP_EVERY_SECONDS", "30"))
CELERY_BEAT_SCHEDULE["detection-jobs-sweep"] = {
    "task": "detection.job_tasks.scoring_jobs_sweep",
    "schedule": JOB_SWEEP_EVERY_SECONDS,
}
JOB_QUEUE = os.environ.get("JOB_QUEUE", CELERY_TASK_DEFAULT_QUEUE)
# /metrics answers 127.0.0.1 and ::1, and anyone sending `Authorization: Bearer $METRICS_TOKEN` when it is set.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOW_LOCAL = env_bool("METRICS_ALLOW_LOCAL", True)

# Streaming (issue 26): the NATS that `make run` (runstack) starts a consumer on when it answers ('' for none).
NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
