"""Flowyard settings: one module, every value from the environment with a localhost default."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The fallback keys only serve local development and tests: `check --deploy` reports them (flowyard.E001/E002) and
# the web process refuses to start on them when DEBUG is off, unless FLOWYARD_ALLOW_DEV_KEYS says this is a dev box.
DEVELOPMENT_SECRET_KEY = "django-insecure-flowyard-local-development-key-change-me-0123456789"
DEVELOPMENT_FIELD_ENCRYPTION_KEY = "bG9jYWwtZGV2ZWxvcG1lbnQta2V5LWNoYW5nZS1tZSE="
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
# Fernet key (urlsafe base64, 32 bytes) for application secrets at rest.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY", DEVELOPMENT_FIELD_ENCRYPTION_KEY)
FLOWYARD_ALLOW_DEV_KEYS = env_bool("FLOWYARD_ALLOW_DEV_KEYS", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://localhost:8000,http://127.0.0.1:8000")
SITE_URL = env_str("SITE_URL", "http://localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_filters",
    "django_celery_beat",
    "channels",
    "admin_ui",
    "topology",
    "processes",
    "limiter",
    "trash",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before sessions and CSRF: an oversized API body is a JSON 413 before anything reads it.
    "admin_ui.body_limit.BodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "admin_ui.tenancy.TenantMiddleware",
]

ROOT_URLCONF = "admin_ui.urls"
ASGI_APPLICATION = "admin_ui.asgi.application"

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
                "admin_ui.context_processors.tenancy",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", False):
    # Under ASGI every request that is not on the event loop runs on a thread of its own, and Django's connections
    # are per thread: each such request opened a PostgreSQL connection. A pool per process lends them instead
    # (needs psycopg-pool; DATABASE_CONN_MAX_AGE must stay 0).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_SIZE", 10),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the recorder writes.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    DATABASES["default"]["OPTIONS"]["timeout"] = 20
    # Writers take the lock when their transaction begins, so a concurrent writer waits out `timeout` instead of
    # failing at once with "database is locked" when a read transaction tries to upgrade.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # A file (not :memory:) so engine and Daphne child processes see the test data.
    DATABASES["default"]["TEST"] = {"NAME": env_str("SQLITE_TEST_DB", str(BASE_DIR / ".test-db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static" / "dist"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Services
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# One node, or the nodes of a cluster comma-separated: every (re)connect tries them in turn (runtime/broker.py).
AMQP_URL = env_str("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNELS_PREFIX", "flowyard")},
    }
}

# Celery: JSON only, late acks, one message at a time, quorum queues on RabbitMQ.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", AMQP_URL.replace(",", ";"))  # kombu's failover list
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "flowyard.celery")
CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
CELERY_WORKER_DETECT_QUORUM_QUEUES = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Static schedules; django-celery-beat's scheduler copies them into its table at start.
CELERY_BEAT_SCHEDULE = {
    "trash-retention": {"task": "trash.tasks.trash_retention", "schedule": 24 * 3600.0},
}

# Runtime
FLOWYARD_EXCHANGE = env_str("FLOWYARD_EXCHANGE", "flowyard")
FLOWYARD_QUEUE_PREFIX = env_str("FLOWYARD_QUEUE_PREFIX", "flowyard")
FLOWYARD_MAX_PAYLOAD_BYTES = env_int("FLOWYARD_MAX_PAYLOAD_BYTES", 1024 * 1024)
FLOWYARD_MAX_BPMN_BYTES = env_int("FLOWYARD_MAX_BPMN_BYTES", 5 * 1024 * 1024)
FLOWYARD_MAX_NODES = env_int("FLOWYARD_MAX_NODES", 2000)  # per topology; bigger imports are refused
# Runtime engine: TTL delay tiers (ms, ascending), max event batch interval, Redis key prefix.
FLOWYARD_DELAY_TIERS_MS = [int(v) for v in env_list("FLOWYARD_DELAY_TIERS_MS", "1000,5000,30000,300000,3600000")]
FLOWYARD_EVENT_FLUSH_MS = env_int("FLOWYARD_EVENT_FLUSH_MS", 100)
FLOWYARD_REDIS_PREFIX = env_str("FLOWYARD_REDIS_PREFIX", "flowyard")
# Circuit breaker per remote host: open after this many consecutive failures (0 turns it off), probe after the pause.
FLOWYARD_BREAKER_FAILURES = env_int("FLOWYARD_BREAKER_FAILURES", 5)
FLOWYARD_BREAKER_COOLDOWN_MS = env_int("FLOWYARD_BREAKER_COOLDOWN_MS", 30000)
# A message redelivered this many times without ever being acknowledged (it kills the engine) goes to the trash.
FLOWYARD_DELIVERY_LIMIT = env_int("FLOWYARD_DELIVERY_LIMIT", 10)
# Live monitoring: the recorder's "changed" notices to websocket groups (off: pages only update on reload),
# how often at most each group hears one, and RabbitMQ's management API for in-flight counts (optional; queue
# depths fall back to passive declares without it).
FLOWYARD_LIVE_NOTICES = env_bool("FLOWYARD_LIVE_NOTICES", True)
FLOWYARD_LIVE_INTERVAL_MS = env_int("FLOWYARD_LIVE_INTERVAL_MS", 250)
RABBITMQ_MANAGEMENT_URL = env_str("RABBITMQ_MANAGEMENT_URL", "")
# Added to every limit window: covers jitter between the limiter admitting a call and the call reaching the remote.
FLOWYARD_LIMITER_MARGIN_MS = env_int("FLOWYARD_LIMITER_MARGIN_MS", 10)
# Keep every admission time per limited key for an hour (tests and benchmarks measure accuracy with it).
FLOWYARD_LIMITER_AUDIT = env_bool("FLOWYARD_LIMITER_AUDIT", False)
# Extra modules with @node classes the engine imports at start (comma-separated dotted paths).
FLOWYARD_NODE_MODULES = env_list("FLOWYARD_NODE_MODULES", "")
# Egress policy of the engine's outgoing calls: CIDRs and host names (".example.com" for sub-domains) that may be
# called although they are loopback, private, link-local or metadata addresses. Empty: public addresses only.
FLOWYARD_EGRESS_ALLOW = env_list("FLOWYARD_EGRESS_ALLOW", "")
# Resent and rejected trash messages are purged this many days after their last change (0 keeps them).
FLOWYARD_TRASH_RETENTION_DAYS = env_int("FLOWYARD_TRASH_RETENTION_DAYS", 30)
DATA_UPLOAD_MAX_MEMORY_SIZE = FLOWYARD_MAX_BPMN_BYTES * 2

# Throttling (Redis counters): failed logins, password resets and sign-ups per account and per IP within a window;
# requests per API token (DRF rate, e.g. "600/min").
FLOWYARD_THROTTLE_ACCOUNT = env_int("FLOWYARD_THROTTLE_ACCOUNT", 10)
FLOWYARD_THROTTLE_IP = env_int("FLOWYARD_THROTTLE_IP", 50)
FLOWYARD_THROTTLE_WINDOW_SECONDS = env_int("FLOWYARD_THROTTLE_WINDOW_SECONDS", 900)
FLOWYARD_THROTTLE_PREFIX = env_str("FLOWYARD_THROTTLE_PREFIX", f"{FLOWYARD_REDIS_PREFIX}:throttle")
FLOWYARD_API_TOKEN_RATE = env_str("FLOWYARD_API_TOKEN_RATE", "600/min")

# Email: console by default.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Flowyard <noreply@localhost>")
INVITE_MAX_AGE_SECONDS = env_int("INVITE_MAX_AGE_SECONDS", 7 * 24 * 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "admin_ui.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "admin_ui.api_schema.ApiSchema",
    "DEFAULT_PAGINATION_CLASS": "admin_ui.api_input.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "admin_ui.api_input.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "admin_ui.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["admin_ui.throttle.ApiTokenThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Flowyard API",
    "DESCRIPTION": "Integration orchestration: topologies, processes, trash, limits.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "processes.api.document_webhook_intake",  # a plain async view, outside DRF
    ],
    # Several models have a `status` field with different choices; name each enum explicitly.
    "ENUM_NAME_OVERRIDES": {
        "ProcessStatusEnum": "processes.models.Process.Status",
        "VersionStatusEnum": "topology.models.TopologyVersion.Status",
        "InvitationStatusEnum": "admin_ui.models.Invitation.Status",
        "TrashStatusEnum": "trash.models.TrashMessage.Status",
        "TrashBulkJobStatusEnum": "trash.models.TrashBulkJob.Status",
        "TrashEditActionEnum": "trash.models.TrashEdit.Action",
        "TrashBulkActionEnum": "trash.models.TrashBulkJob.Action",
    },
}

# Production hardening, switched on when DEBUG is off and HTTPS is declared.
SECURE_HTTPS = env_bool("SECURE_HTTPS", False)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS
SECURE_HSTS_SECONDS = 31536000 if SECURE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp): scripts only from our own bundles, never inline; styles may
# be inline because bpmn-js and the API docs set style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Webhook URLs carry their token: every line through the console handler has it redacted.
    "filters": {"redact_webhook_tokens": {"()": "admin_ui.logredact.RedactWebhookTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_webhook_tokens"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"pika": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
