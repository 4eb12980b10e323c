"""Integration Hub settings: every knob comes from the environment, read here and nowhere else.

Each variable is documented in `.env.example`. A malformed value stops start-up with
ImproperlyConfigured naming the variable (all bad variables are reported at once); the
entry points (manage.py, wsgi, asgi, celery) turn that into a one-line exit message.
Defaults are the embedded ones: SQLite for the data and for the Celery broker, under `var/`.
"""

import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config.keys import decode_key, new_key

BASE_DIR = Path(__file__).resolve().parent.parent

# FileAwareEnv: every variable may also be given as <NAME>_FILE (a path whose content is the
# value), which is how container secrets are usually mounted.
env = environ.FileAwareEnv()
if (BASE_DIR / ".env").is_file():
    # Never overrides a variable that is already set in the real environment.
    env.read_env(BASE_DIR / ".env")

_errors: list[str] = []


def _fail(name: str, problem: str) -> None:
    _errors.append(f"{name}: {problem}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, default: bool) -> bool:
    # django-environ reads any unknown word ("ture", "maybe") as False; a typo in a security
    # switch must not silently flip it, so only the usual spellings are accepted.
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    _fail(name, f"expected true or false, got {raw!r}")
    return default


def _int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.str(name, default=str(default)).strip()
    try:
        value = int(raw)
    except ValueError:
        _fail(name, f"expected a whole number, got {raw!r}")
        return default
    if value < minimum:
        _fail(name, f"must be at least {minimum}, got {value}")
        return default
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.str(name, default=default).strip().lower()
    if value not in choices:
        _fail(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return default
    return value


def _list(name: str, default: list[str] | None = None) -> list[str]:
    return [item.strip() for item in env.list(name, default=default or []) if item.strip()]


def _path(name: str, default: str) -> Path:
    path = Path(env.str(name, default=default))
    return path if path.is_absolute() else BASE_DIR / path


# --- Files the hub owns -------------------------------------------------------------------
VAR_DIR = _path("VAR_DIR", "var")
if _test_worker := os.environ.get("PYTEST_XDIST_WORKER"):
    # Parallel test processes (pytest-xdist, `make test`) each keep their database, broker and
    # keys in a folder of their own.
    VAR_DIR = VAR_DIR / _test_worker
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = _bool("DEBUG", False)


def _secret_key() -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        if len(key) < 32:
            _fail("SECRET_KEY", "must be at least 32 characters long")
        return key
    # Unset: generate once and keep it in var/ (git-ignored) so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()


def _field_encryption_keys() -> list[str]:
    # AES-256-GCM keys for tokens and client secrets (integrations/connections/encryption.py):
    # the first encrypts, all decrypt. Unset: one key is generated once into var/, like SECRET_KEY.
    keys = _list("FIELD_ENCRYPTION_KEYS")
    if not keys:
        key_file = VAR_DIR / "field_encryption_key"
        if not key_file.exists():
            key_file.touch(mode=0o600)
            key_file.write_text(new_key())
        keys = [key_file.read_text().strip()]
    for position, key in enumerate(keys, start=1):
        try:
            decode_key(key)
        except ValueError as exc:
            _fail(
                "FIELD_ENCRYPTION_KEYS", f"key {position} {exc}; expected 32 random bytes in base64"
            )
    return keys


FIELD_ENCRYPTION_KEYS = _field_encryption_keys()

# --- Hosts and transport security -----------------------------------------------------------
ALLOWED_HOSTS = _list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = _list("CSRF_TRUSTED_ORIGINS")
TRUST_PROXY_HEADERS = _bool("TRUST_PROXY_HEADERS", False)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# An empty ALLOWED_HOSTS without DEBUG is only wrong for serving HTTP: management commands
# (check, changepassword, setup_periodic_tasks...) run without it, and the serving entry
# points refuse with a clear line (config/startup.py: require_serving_settings).
ALLOWED_HOSTS_PROBLEM = (
    "ALLOWED_HOSTS: must list the host names this site answers to when DEBUG is false"
    if not DEBUG and not ALLOWED_HOSTS
    else ""
)
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- Applications -----------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "integrations",
    "projects",
    "timetracker",
    "migration",
    "crm",
    "destinations",
]

MIDDLEWARE = [
    "integrations.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "integrations.middleware.AdminActionAuditMiddleware",
    "integrations.error_responses.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "integrations.views.hub",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_DB_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}


def _database() -> dict:
    url = env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    config = environ.Env.db_url_config(url) if "://" in url else {}
    engine = config.get("ENGINE")
    if engine not in _DB_ENGINES:
        _fail("DATABASE_URL", "expected sqlite:///path or postgres://user@host:port/name")
        config = environ.Env.db_url_config(f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    elif not config.get("NAME"):
        _fail("DATABASE_URL", "names no database")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = Path(config["NAME"])
        config["NAME"] = str(name if name.is_absolute() else BASE_DIR / name)
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # Web, worker and beat share one file: WAL lets readers run beside a writer, and
        # IMMEDIATE transactions take the write lock up front instead of failing mid-way.
        # Tests get a file too: an in-memory SQLite database is shared-cache, where concurrent
        # writers fail at once ("table is locked") instead of waiting their turn.
        config["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        config["CONN_MAX_AGE"] = _int("DATABASE_CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (API throttling, allauth rate limits) ----------------------------------------------
try:
    CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
except ImproperlyConfigured:
    _fail("CACHE_URL", "expected locmemcache://, filecache:///path or redis://host:port/db")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Users and login (django-allauth) ---------------------------------------------------------
AUTH_USER_MODEL = "integrations.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_ALLOW_SIGNUP = _bool("ACCOUNT_ALLOW_SIGNUP", False)
ACCOUNT_ADAPTER = "integrations.accounts.auth.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = _choice(
    "ACCOUNT_EMAIL_VERIFICATION", "optional", ("none", "optional", "mandatory")
)
ACCOUNT_LOGOUT_ON_GET = False
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

try:
    globals().update(env.email_url("EMAIL_URL", default="consolemail://"))
except (ImproperlyConfigured, KeyError):
    _fail("EMAIL_URL", "expected consolemail:// or smtp+tls://user:password@host:587")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="hub@localhost")

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
WHITENOISE_USE_FINDERS = DEBUG

# --- API (DRF) ------------------------------------------------------------------------------
_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def _rate(name: str, default: str) -> str:
    value = env.str(name, default=default).strip()
    if not _RATE.match(value):
        _fail(name, f"expected a rate like 100/minute, got {value!r}")
        return default
    return value


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated API call gets 401 with WWW-Authenticate.
        "integrations.accounts.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _rate("API_THROTTLE_ANON", "60/minute"),
        "user": _rate("API_THROTTLE_USER", "1000/minute"),
    },
    "DEFAULT_PAGINATION_CLASS": "integrations.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "integrations.error_responses.api_exception_handler",
    # JSON only (the timeline also takes multipart, for files): a form encoding cannot carry
    # the nested objects and lists the schema describes.
    "DEFAULT_PARSER_CLASSES": ["integrations.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
if TRUST_PROXY_HEADERS:
    # DRF throttles per client IP; behind one proxy hop the client is the last X-Forwarded-For.
    REST_FRAMEWORK["NUM_PROXIES"] = _int("NUM_PROXIES", 1, minimum=1)

SPECTACULAR_SETTINGS = {
    "TITLE": "Integration Hub API",
    "DESCRIPTION": "Workspaces, connections, syncs and their runs. Errors are "
    '`{"error": {"code", "message", "details"}}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets are served from our own static files: no CDN is needed (or reachable).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The errors every operation may answer, in the one error shape (integrations/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.schema.add_error_responses",
    ],
    # Several models have a `status` or `source`: name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "ConnectionStatusEnum": "integrations.connections.models.Connection.Status",
        "SyncRunStatusEnum": "integrations.runs.SyncRun.Status",
        "OutboundChangeStatusEnum": "integrations.approvals.models.OutboundChange.Status",
        "ProjectStatusEnum": "projects.models.Project.Status",
        "ProjectSyncRunDirectionEnum": "projects.models.ProjectSyncRun.Direction",
        "FieldMappingDirectionEnum": "integrations.mapping.models.FieldMapping.Direction",
        "JobStatusEnum": "timetracker.models.Job.Status",
        "JobSourceEnum": "timetracker.models.Job.Source",
        "JobSyncRunSourceEnum": "timetracker.models.JobSyncRun.Source",
        "CrmProviderEnum": "crm.models.CrmConfig.Provider",
        "CrmSyncDirectionEnum": "crm.models.CrmConfig.Direction",
        "CrmFieldDirectionEnum": "crm.serializers.SEED_DIRECTIONS",
        "CrmEntityEnum": "crm.models.Entity",
    },
}

CORS_ALLOWED_ORIGINS = _list("CORS_ALLOWED_ORIGINS")
for _origin in CORS_ALLOWED_ORIGINS:
    if not re.match(r"^https?://[^/\s]+$", _origin):
        _fail("CORS_ALLOWED_ORIGINS", f"{_origin!r} is not an origin like https://app.example.com")
CORS_URLS_REGEX = r"^/api/.*$"

# --- Background work (Celery + django-celery-beat) ------------------------------------------------
_BROKER_SCHEMES = ("sqlite", "redis", "rediss", "amqp", "amqps", "pyamqp", "memory")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="sqlite://")
_scheme = urlsplit(CELERY_BROKER_URL).scheme if "://" in CELERY_BROKER_URL else ""
if _scheme == "filesystem":
    _fail(
        "CELERY_BROKER_URL",
        "filesystem:// can hand a worker a half-written message (it crashes the worker); "
        "use sqlite:// for the embedded broker",
    )
    _scheme = "sqlite"
    CELERY_BROKER_URL = "sqlite://"
elif _scheme not in _BROKER_SCHEMES:
    _fail(
        "CELERY_BROKER_URL",
        f"unsupported scheme {_scheme or CELERY_BROKER_URL!r}; use redis://, amqp:// or sqlite://",
    )
    _scheme = "sqlite"
    CELERY_BROKER_URL = "sqlite://"
# The longest a task may run. A minute before it, the task is told (SoftTimeLimitExceeded) and a
# run closes itself as failed; at the limit its process is stopped. Below RabbitMQ's default
# consumer_timeout (30 minutes), past which RabbitMQ closes the channel of an unacknowledged
# (acks_late) task and hands the task to another worker.
CELERY_TASK_TIME_LIMIT = _int("CELERY_TASK_TIME_LIMIT", 1500, minimum=120)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
if _scheme == "sqlite":
    # The embedded broker (config/broker.py): one SQLite file, `sqlite:///path` to choose it.
    import config.broker  # noqa: E402, F401 - registers the sqlite:// transport with kombu

    # As in DATABASE_URL: sqlite:///relative/to/the/project, sqlite:////absolute/path.
    _broker_file = Path(urlsplit(CELERY_BROKER_URL).path[1:] or VAR_DIR / "broker.sqlite3")
    CELERY_BROKER_URL = "sqlite://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "path": str(_broker_file if _broker_file.is_absolute() else BASE_DIR / _broker_file),
        # A task a dead worker held is handed out again this many seconds later.
        "visibility_timeout": _int("CELERY_BROKER_VISIBILITY_TIMEOUT", 30, minimum=5),
        "polling_interval": 0.25,
    }
elif _scheme in ("redis", "rediss"):
    # Redis gives an unacknowledged task to another worker this long after handing it out,
    # whether or not the first still runs it (there is no lease to renew): just above the
    # longest task, so a slow task is never run twice at once. A killed worker's run is closed
    # (and a scheduled one queued again) by the stale-run sweep long before; its late task
    # then finds the run closed and does nothing.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # runs record their outcome in their own rows
CELERY_RESULT_EXPIRES = None  # no result backend, so beat needs no daily backend_cleanup entry
CELERY_TASK_ACKS_LATE = True  # a killed worker's task is redelivered, not lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = _int("CELERY_WORKER_CONCURRENCY", 2, minimum=1)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep LOGGING below (and its redaction) in workers
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "integrations.beat:HubScheduler"

# --- Integrations: providers, OAuth clients, the HTTP layer, sandboxes ---------------------------
from config import endpoints  # noqa: E402 - plain constants, no Django needed

INTEGRATIONS_MODE = _choice("INTEGRATIONS_MODE", "sandbox", ("sandbox", "live"))
_SANDBOX = INTEGRATIONS_MODE == "sandbox"
HUB_BASE_URL = env.str("HUB_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not re.match(r"^https?://[^/\s]+$", HUB_BASE_URL):
    _fail("HUB_BASE_URL", f"{HUB_BASE_URL!r} is not a base URL like https://hub.example.com")

SANDBOX_HOST = env.str("SANDBOX_HOST", default="127.0.0.1")
SANDBOX_BASE_PORT = _int("SANDBOX_BASE_PORT", 9100, minimum=1024)
SANDBOX_PORTS = {
    name: SANDBOX_BASE_PORT + offset for name, offset in endpoints.SANDBOX_PORT_OFFSETS.items()
}
# Where each provider answers (config/endpoints.py): the emulators in sandbox mode, else the
# live services, each overridable for another region or cloud (SMARTSHEET_API_URL=
# https://api.smartsheet.eu/2.0, AZURE_LOGIN_URL=https://login.microsoftonline.us, ...).
_url_overrides = {}
for _variable, _key in endpoints.OVERRIDABLE.items():
    _url_overrides[_key] = env.str(_variable, default="").rstrip("/")
    if _url_overrides[_key] and not re.match(r"^https://[^/\s]+(/\S*)?$", _url_overrides[_key]):
        _fail(_variable, f"{_url_overrides[_key]!r} is not an https URL")
PROVIDER_URLS = (
    endpoints.sandbox_urls(SANDBOX_HOST, SANDBOX_PORTS)
    if _SANDBOX
    else endpoints.live_urls(_url_overrides)
)
SANDBOX_DIR = VAR_DIR / "sandbox"
SANDBOX_CA_BUNDLE = SANDBOX_DIR / "bundle.pem"


def _oauth_client(provider: str) -> tuple[str, str]:
    # Sandbox mode: the emulators know these built-in demo credentials. Live: from the
    # environment; a provider without them is shown as "not configured" (see checks.py).
    prefix = provider.upper()
    client_id = env.str(
        f"{prefix}_CLIENT_ID", default=f"hub-{provider}-sandbox" if _SANDBOX else ""
    )
    secret = env.str(
        f"{prefix}_CLIENT_SECRET", default=f"sandbox-secret-{provider}" if _SANDBOX else ""
    )
    return client_id, secret


SMARTSHEET_CLIENT_ID, SMARTSHEET_CLIENT_SECRET = _oauth_client("smartsheet")
SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET = _oauth_client("salesforce")
HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET = _oauth_client("hubspot")
SALESFORCE_API_VERSION = env.str("SALESFORCE_API_VERSION", default="62.0")
if not re.match(r"^\d{2}\.0$", SALESFORCE_API_VERSION):
    _fail("SALESFORCE_API_VERSION", f"expected a version like 62.0, got {SALESFORCE_API_VERSION!r}")


def _rate_limit(provider: str, default: str) -> tuple[int, float]:
    name = f"{provider.upper().replace('-', '_')}_RATE_LIMIT"
    raw = env.str(name, default=default).strip()
    match = re.match(r"^(\d+)/(\d+(?:\.\d+)?)s?$", raw)
    if not match or int(match[1]) < 1 or float(match[2]) <= 0:
        _fail(name, f"expected requests/seconds like 300/60, got {raw!r}")
        match = re.match(r"^(\d+)/(\d+)", default)
    return int(match[1]), float(match[2])


# Each provider's published limit; the HTTP layer paces every connection just under it.
PROVIDER_RATE_LIMITS = {
    "smartsheet": _rate_limit("smartsheet", "300/60"),  # per access token
    "salesforce": _rate_limit("salesforce", "15000/86400"),  # per org (daily API quota)
    "hubspot": _rate_limit("hubspot", "100/10"),  # per account
    # Search has its own budget, outside the ten-secondly one (providers/hubspot.md "Search").
    "hubspot-search": _rate_limit("hubspot-search", "5/1"),  # per account
    "dataverse": _rate_limit("dataverse", "6000/300"),  # per user, service protection
    # Supabase publishes no request limit for the Data API (a project is bounded by its
    # compute): the hub paces each destination at this, which an operator may change.
    "supabase": _rate_limit("supabase", "1000/1"),  # per destination
}
RATE_LIMIT_URL = env.str("RATE_LIMIT_URL", default="memory://")
if urlsplit(RATE_LIMIT_URL).scheme not in ("memory", "redis", "rediss"):
    _fail("RATE_LIMIT_URL", "expected memory:// or redis://host:6379/2")
# How long the Connect page asks the server about a popup that closed without reporting.
OAUTH_STATUS_POLL_SECONDS = _int("OAUTH_STATUS_POLL_SECONDS", 10, minimum=1)
HTTP_CONNECT_TIMEOUT = _int("HTTP_CONNECT_TIMEOUT", 10, minimum=1)
HTTP_READ_TIMEOUT = _int("HTTP_READ_TIMEOUT", 60, minimum=1)
HTTP_MAX_ATTEMPTS = _int("HTTP_MAX_ATTEMPTS", 6, minimum=1)
HTTP_MAX_RETRY_WAIT = _int("HTTP_MAX_RETRY_WAIT", 120, minimum=1)
# A run whose worker has written nothing (progress, a retry note) for this many seconds, or
# that no worker took up within it, is closed as failed by the stale-run sweep (a beat task,
# every minute); a scheduled one is queued again. A live run writes as it goes and before each
# retry wait: its longest silence is about one call and one wait, and a window no longer than
# that would close runs that are still going.
RUN_STALE_AFTER = _int("RUN_STALE_AFTER", 300, minimum=1)
_LONGEST_SILENCE = HTTP_CONNECT_TIMEOUT + HTTP_READ_TIMEOUT + HTTP_MAX_RETRY_WAIT
if RUN_STALE_AFTER <= _LONGEST_SILENCE:
    _fail(
        "RUN_STALE_AFTER",
        f"must be longer than a live run's longest silence, HTTP_CONNECT_TIMEOUT + "
        f"HTTP_READ_TIMEOUT + HTTP_MAX_RETRY_WAIT = {_LONGEST_SILENCE} s; got {RUN_STALE_AFTER}",
    )
try:
    # Attempt n waits a random time in [0, min(60, base * 2**(n-1))] seconds (full jitter).
    HTTP_BACKOFF_BASE = float(env.str("HTTP_BACKOFF_BASE", default="1.0"))
    if not 0 < HTTP_BACKOFF_BASE <= 60:
        raise ValueError
except ValueError:
    _fail("HTTP_BACKOFF_BASE", "expected seconds between 0 and 60, like 1.0")
    HTTP_BACKOFF_BASE = 1.0

# --- Uploads (timeline attachments) ---------------------------------------------------------
# Refused with a clear message, before anything is stored: larger files, and any type not on
# the allow-list (office documents, PDF, images, CAD, archives; never .exe, .html or .svg).
UPLOAD_MAX_MB = _int("UPLOAD_MAX_MB", 25, minimum=1)
_UPLOAD_TYPES = (
    "pdf doc docx xls xlsx xlsm ppt pptx odt ods odp rtf txt csv mpp msg eml "  # documents
    "jpg jpeg png gif webp heic tif tiff bmp "  # images
    "dwg dxf dwf rvt ifc skp step stp "  # drawings and models
    "zip 7z"  # archives
)
UPLOAD_ALLOWED_EXTENSIONS = tuple(
    extension.lower().lstrip(".")
    for extension in _list("UPLOAD_ALLOWED_EXTENSIONS", default=_UPLOAD_TYPES.split())
)
for _extension in UPLOAD_ALLOWED_EXTENSIONS:
    if not re.match(r"^[a-z0-9]{1,10}$", _extension):
        _fail("UPLOAD_ALLOWED_EXTENSIONS", f"{_extension!r} is not a file extension like pdf")

# --- TimeTracker: where approved jobs come from -------------------------------------------------
# true: Microsoft Dataverse (the workspace's Dataverse connection). false: the rollback path,
# a Smartsheet sheet read by column id (seed "Rollback Plan"); a restart switches.
USE_DATAVERSE = _bool("USE_DATAVERSE", True)
TIMETRACKER_SMARTSHEET_SHEET_ID = _int(
    "TIMETRACKER_SMARTSHEET_SHEET_ID", endpoints.TIMETRACKER_JOBS_SHEET_ID if _SANDBOX else 0
)
TIMETRACKER_SMARTSHEET_COLUMNS = {
    field: _int(f"TIMETRACKER_{field.upper()}_COLUMN_ID", column if _SANDBOX else 0)
    for field, column in endpoints.TIMETRACKER_JOBS_COLUMNS.items()
}
# The Smartsheet picklist value that means "approved" in that sheet.
TIMETRACKER_SMARTSHEET_APPROVED = env.str("TIMETRACKER_SMARTSHEET_APPROVED", default="Approved")
# However many people sign in, a login starts at most one job sync per this many minutes.
TIMETRACKER_LOGIN_SYNC_MINUTES = _int("TIMETRACKER_LOGIN_SYNC_MINUTES", 10, minimum=1)

# --- Project migration (Project Online -> Smartsheet): the transform's settings --------------
# Working hours in a day when a project has no calendar of its own (seed: 8).
_raw_hours = env.str("MIGRATION_HOURS_PER_DAY", default="8").strip()
try:
    MIGRATION_HOURS_PER_DAY = float(_raw_hours)
except ValueError:
    MIGRATION_HOURS_PER_DAY = -1.0
if not 0 < MIGRATION_HOURS_PER_DAY <= 24:
    _fail(
        "MIGRATION_HOURS_PER_DAY", f"expected hours more than 0 and at most 24, got {_raw_hours!r}"
    )
    MIGRATION_HOURS_PER_DAY = 8.0
# The optional Project Summary sheet (seed section 1.B).
MIGRATION_SUMMARY_SHEET = _bool("MIGRATION_SUMMARY_SHEET", True)
# Custom fields (seed section 5 "Configuration Options", the seed's own names).
CUSTOM_FIELDS_ENABLED = _bool("CUSTOM_FIELDS_ENABLED", True)
CUSTOM_FIELDS_FILTER_EMPTY = _bool("CUSTOM_FIELDS_FILTER_EMPTY", True)
CUSTOM_FIELDS_PREFIX = env.str("CUSTOM_FIELDS_PREFIX", default="Custom - ")
CUSTOM_FIELDS_INCLUDE_PATTERN = env.str("CUSTOM_FIELDS_INCLUDE_PATTERN", default="").strip()
CUSTOM_FIELDS_EXCLUDE_PATTERN = env.str("CUSTOM_FIELDS_EXCLUDE_PATTERN", default="").strip()
for _name in ("CUSTOM_FIELDS_INCLUDE_PATTERN", "CUSTOM_FIELDS_EXCLUDE_PATTERN"):
    try:
        re.compile(globals()[_name])
    except re.error as _exc:
        _fail(_name, f"is not a regular expression ({_exc})")
CUSTOM_FIELDS_MAX_PER_SHEET = _int("CUSTOM_FIELDS_MAX_PER_SHEET", 50, minimum=1)
CUSTOM_FIELDS_PICKLIST_MAX_OPTIONS = _int("CUSTOM_FIELDS_PICKLIST_MAX_OPTIONS", 25, minimum=1)

# Project migration runs: at most this many projects per run (each is read, planned and kept
# in memory at once), and a dry run's plan may be run for real for this many hours after it was
# made (then the projects are read again by a new dry run).
MIGRATION_MAX_PROJECTS = _int("MIGRATION_MAX_PROJECTS", 50, minimum=1)
MIGRATION_PLAN_MAX_AGE_HOURS = _int("MIGRATION_PLAN_MAX_AGE_HOURS", 24, minimum=1)
# MS Project files uploaded for migration (admin, API, migrate_project_file): the largest one
# taken, in MB (each is kept in the database until the worker reads it).
MIGRATION_MAX_UPLOAD_MB = _int("MIGRATION_MAX_UPLOAD_MB", 50, minimum=1)

# --- Project migration (Project Online -> Smartsheet) -------------------------------------------
# The project-sheet template (dependencies enabled) every Tasks sheet is created from: the API
# can neither enable dependencies nor make DURATION / PREDECESSOR columns. Sandbox mode
# defaults to the emulator's "Project Sheet Template".
MIGRATION_TASKS_TEMPLATE_ID = _int(
    "MIGRATION_TASKS_TEMPLATE_ID", endpoints.MIGRATION_TASKS_TEMPLATE_ID if _SANDBOX else 0
)
# The Smartsheet workspace holding the PMO Standards reference sheets (created if missing).
MIGRATION_PMO_WORKSPACE = env.str("MIGRATION_PMO_WORKSPACE", default="PMO Standards")

HEALTH_TIMEOUT = _int("HEALTH_TIMEOUT", 2, minimum=1)
HEALTH_BEAT_MAX_AGE = _int("HEALTH_BEAT_MAX_AGE", 120, minimum=10)

# --- Logging: structured lines, secrets redacted whatever logger they come from ----------------
LOG_LEVEL = _choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOG_FORMAT = _choice("LOG_FORMAT", "json", ("json", "text"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "integrations.logs.ContextFilter"},
        "redact": {"()": "integrations.logs.RedactingFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{asctime}{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s%(task_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            # Handler-level filters see every record that reaches the handler, from any logger.
            "filters": ["context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own defaults give "django" and "django.server" (runserver's access log)
        # handlers of their own, without our filters: a callback's ?code=&state= or a stray
        # ?access_token= went out verbatim. Emptied here, they propagate to the root's handler.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        # The Smartsheet SDK logs each request at INFO; integrations/connections/http.py already
        # does (DEBUG).
        "smartsheet": {"level": "WARNING"},
        # postgrest-py's httpx logs each request's whole URL at INFO, filter values (a
        # client's email) included; the hub's HTTP layer logs method and path (DEBUG).
        "httpx": {"level": "WARNING"},
        # urllib3 logs each request line, query string included, at DEBUG: the Supabase
        # destination's lookups filter by a client's email there (PII).
        "urllib3": {"level": "INFO"},
    },
}

if _errors:
    raise ImproperlyConfigured(
        "invalid configuration — " + "; ".join(_errors) + " (see .env.example)"
    )
