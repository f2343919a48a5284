"""Django settings for datastorage.

Every setting that differs between machines comes from the environment, read here and
nowhere else; the README's Configuration table lists every variable with its default
(tests/docs/test_configuration.py keeps it complete). With no DATABASE_URL the service
runs on an embedded SQLite file under var/, so `make run` needs no set-up; production runs
on PostgreSQL with Django's native connection pool.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 0 or 1, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# An insecure key is tolerated only without a real deployment behind it: DEBUG, or the
# embedded SQLite default. A PostgreSQL deployment must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "core",
    "audit",
    "access",
    "factory",
    "storage",
    "ingest",
]

MIDDLEWARE = [
    "core.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before the middleware that may refuse a request (CommonMiddleware: a bad Host), so that
    # the refusal carries X-Frame-Options too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Serves /static/ (admin, API docs) from the app server itself: no separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Innermost: its refusals (413, a NUL in the path) get every header above.
    "core.middleware.RequestChecksMiddleware",
]

ROOT_URLCONF = "datastorage.urls"
WSGI_APPLICATION = "datastorage.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
DB_POOL_MIN = env_int("DB_POOL_MIN", 2)
DB_POOL_MAX = env_int("DB_POOL_MAX", 10)
# How long a request may wait for a pooled connection before it is answered 503.
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 5)
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5)
# How long the pool retries a lost connection in the background before leaving the next
# attempt to the next request that needs one.
DB_POOL_RECONNECT_TIMEOUT = env_int("DB_POOL_RECONNECT_TIMEOUT", 5)
DB_PREPARE_THRESHOLD = env_int("DB_PREPARE_THRESHOLD", 5)
# Statement timeout for API requests, in milliseconds (0 disables it).
DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 30_000)

if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL)
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db.setdefault("OPTIONS", {})
        _db["OPTIONS"]["pool"] = {
            "min_size": DB_POOL_MIN,
            "max_size": DB_POOL_MAX,
            "timeout": DB_POOL_TIMEOUT,
            # psycopg's pool retries a lost connection in the background with a doubling
            # delay, for 5 minutes by default, and meanwhile no request starts an attempt
            # of its own: after an outage it came back up to minutes late. Giving up early
            # lets the next request that needs a connection try again at once.
            "reconnect_timeout": DB_POOL_RECONNECT_TIMEOUT,
        }
        # The pool checks a connection before handing it out (one empty round trip), so
        # that connections killed by a database restart are replaced, not served.
        _db["CONN_HEALTH_CHECKS"] = True
        _db["OPTIONS"]["connect_timeout"] = DB_CONNECT_TIMEOUT
        # Parameters bound by the server, and statements prepared once per pooled
        # connection after DB_PREPARE_THRESHOLD uses: the records API runs the same few
        # statements all day, and client-side binding plus parsing and planning each time
        # was a measurable share of a record read (docs/performance.md). Behind a
        # transaction-mode PgBouncer, set DB_PREPARE_THRESHOLD=0 to turn preparing off.
        _db["OPTIONS"]["server_side_binding"] = True
        if DB_PREPARE_THRESHOLD:
            _db["OPTIONS"]["prepare_threshold"] = DB_PREPARE_THRESHOLD
        if DB_STATEMENT_TIMEOUT_MS:
            _db["OPTIONS"]["options"] = f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}"
        # Django's pool hands out connections per request; persistent connections would
        # defeat it (Django refuses the combination).
        _db["CONN_MAX_AGE"] = 0
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "datastorage.sqlite3",
        "OPTIONS": {
            # WAL lets readers go on while one writer writes; IMMEDIATE takes the write
            # lock at BEGIN so concurrent writers wait (busy timeout) instead of failing.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
_db["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if not SECRET_KEY:
    if DATABASE_URL and not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set")
    SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"

# --- Background tasks (storage migrations) ---------------------------------------------
# The database backend needs nothing but the database; `manage.py run_worker` serves it.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}
# A worker not heard from for this long (it beats every 5 s) counts as gone: ready_status
# of a version waiting on it says so.
WORKER_LATE_SECONDS = env_int("WORKER_LATE_SECONDS", 30)
# Audit entries older than this are deleted by the worker (audit.services.audit_prune).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365)
# Storages with a retention rule: the worker removes their expired records at least this
# often, RETENTION_BATCH_ITEMS per transaction (factory.services.retention).
RETENTION_INTERVAL_S = env_int("RETENTION_INTERVAL_S", 600)
RETENTION_BATCH_ITEMS = env_int("RETENTION_BATCH_ITEMS", 5_000)
# Partitioned storages: partitions are kept from the current interval through this many
# intervals ahead, made at creation and by the worker at each retention run
# (factory.services.partitions), so that a write never waits for one.
PARTITIONS_AHEAD = env_int("PARTITIONS_AHEAD", 3)

# --- Change feed (GET /api/v1/storage/{name}/changes/, storage/changes.py) ---------------
# Tombstones (deleted records) are kept this long, then pruned by the worker; a consumer
# whose cursor is older answers 410 cursor-expired and starts again from a snapshot.
FEED_TOMBSTONE_DAYS = env_int("FEED_TOMBSTONE_DAYS", 7)
# The longest `?wait=` a long-poll may ask for, in seconds.
FEED_MAX_WAIT_S = env_int("FEED_MAX_WAIT_S", 30)
# Long-polls waiting at once in one server process; more answer 503 with Retry-After. A
# waiting request holds one of granian's blocking threads (GRANIAN_BLOCKING_THREADS, 4)
# but no database connection: raise both together to serve more waiting consumers.
FEED_MAX_WAITERS = env_int("FEED_MAX_WAITERS", 2)

# --- Metrics (GET /api/v1/metrics, core/metrics.py) ----------------------------------------
# Off, requests count nothing and the endpoint answers an empty scrape (make bench compares).
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
# A secret that opens the metrics endpoint (and nothing else) to a Prometheus server; admin
# tokens may always scrape. Empty: admin tokens only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Label records written with their storage's name; 0 sums every storage under "_all"
# (deployments with thousands of storages keep the number of series bounded so).
METRICS_PER_STORAGE = env_bool("METRICS_PER_STORAGE", True)

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security (TLS usually ends at a proxy: switched on through the environment) ---------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
X_FRAME_OPTIONS = "DENY"

# --- Limits -----------------------------------------------------------------------------
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 32 * 1024 * 1024)
# Django's own cap answers 400; ours (core.middleware) answers 413 first.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
MAX_BULK_ITEMS = env_int("MAX_BULK_ITEMS", 10_000)
# Records one transaction of a delete or update by filter job changes (storage.by_filter).
JOB_BATCH_ITEMS = env_int("JOB_BATCH_ITEMS", 10_000)
# Streamed exports a server process sends at once (core/slow_clients.py): by default one
# less than its threads, so that clients that stop reading never hold every thread.
EXPORT_CONCURRENCY = env_int(
    "EXPORT_CONCURRENCY", max(1, env_int("GRANIAN_BLOCKING_THREADS", 4) - 1)
)
# Ingest: events per request, bytes per NDJSON line, bytes of an NDJSON body (streamed, so
# not held to MAX_REQUEST_BYTES), and the records held before a batch is written.
MAX_INGEST_EVENTS = env_int("MAX_INGEST_EVENTS", 100_000)
MAX_EVENT_BYTES = env_int("MAX_EVENT_BYTES", 1024 * 1024)
MAX_INGEST_BYTES = env_int("MAX_INGEST_BYTES", 256 * 1024 * 1024)
INGEST_BATCH_BYTES = env_int("INGEST_BATCH_BYTES", 8 * 1024 * 1024)
MAX_FIELDS_PER_STORAGE = env_int("MAX_FIELDS_PER_STORAGE", 500)
MAX_JSON_DEPTH = env_int("MAX_JSON_DEPTH", 32)
PAGE_SIZE_DEFAULT = env_int("PAGE_SIZE_DEFAULT", 100)
PAGE_SIZE_MAX = env_int("PAGE_SIZE_MAX", 1000)
# Per-token request rate for client tokens, e.g. "50/s" or "1000/min" (off when empty).
THROTTLE_RATE = os.environ.get("THROTTLE_RATE", "")
# Dynamic model classes kept per process (least recently used are dropped).
MODEL_CACHE_SIZE = env_int("MODEL_CACHE_SIZE", 512)
# The records API answers its everyday requests in front of Django's request cycle
# (storage/frontdoor.py); 0 closes that door: the DRF viewset answers all (same answers).
RECORDS_FAST_PATH = env_bool("RECORDS_FAST_PATH", True)

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "core.renderers.JSONRenderer",
        "core.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    # Tokens for machines; a staff user's admin session for a person with a browser (the
    # browsable API, Swagger UI). The first one's challenge is every 401's WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.BearerTokenAuthentication",
        "access.authentication.AdminSessionAuthentication",
    ],
    # Closed by default: views open themselves to client tokens explicitly.
    "DEFAULT_PERMISSION_CLASSES": ["access.permissions.IsAdminToken"],
    "DEFAULT_THROTTLE_CLASSES": ["access.throttling.TokenRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "core.exception_handler.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.page_numbers.PageNumberPagination",
    "PAGE_SIZE": PAGE_SIZE_DEFAULT,
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "datastorage API",
    "DESCRIPTION": (
        "Typed storages over PostgreSQL, declared over the API: each storage is a real table, "
        "with a generic records API under `/api/v1/storage/{name}/`.\n\n"
        "**Authentication:** `Authorization: Bearer <token>` (`make run` saves the first admin "
        "token in `var/admin.token`). **Errors:** always RFC 9457 problem details "
        "(`application/problem+json`, schema `Problem`). **Records:** here a record is any "
        "object; each storage's exact contract (fields, types, filters) is an OpenAPI document "
        "of its own at `GET /api/v1/factory/storage/{name}/schema/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The document describes how machines authenticate (tokens); a staff user's admin
    # session (the browsable API, Swagger UI's "Try it out") is for people, not listed.
    "AUTHENTICATION_WHITELIST": [
        "access.authentication.BearerTokenAuthentication",
        "access.metrics.MetricsTokenAuthentication",
    ],
    # Tags and operation ids from the path after it: `storage`, `factory`, `auth`, ...
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # Problem details on every operation, by what it declares (one place, not per view).
        "core.openapi.problem_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The API description is public (it holds no data); everything it describes is not.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.logging.JSONFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
        # A logger without any handler falls back to logging.lastResort (plain text on
        # stderr, every 5xx): silencing needs a handler that drops records.
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces Django's: one line per request, not two.
        "django.request": {"handlers": ["null"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["null"], "level": "ERROR", "propagate": False},
    },
}
