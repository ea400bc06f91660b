"""CareDesk settings: one file, driven only by environment variables.

Development defaults are safe and need no server (SQLite in WAL mode, a filesystem Celery broker
under DATA_DIR). With DEBUG off the process refuses to start without SECRET_KEY and
FIELD_ENCRYPTION_KEY.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


TESTING = "pytest" in sys.modules or env_bool("CAREDESK_TESTING", False)
DEBUG = env_bool("DEBUG", False)
DATA_DIR = Path(env("DATA_DIR", str(BASE_DIR / "var"))).resolve()

# Development keys are fixed, public and only ever used with DEBUG or in tests.
_DEV_SECRET_KEY = "dev-insecure-caredesk-secret-key-do-not-use-in-production-0123456789"  # noqa: S105
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWNhcmVkZXNrLTMyYiE="  # base64 of 32 bytes, dev/test only

SECRET_KEY = env("SECRET_KEY")
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY")
if not DEBUG and not TESTING:
    missing = [n for n, v in (("SECRET_KEY", SECRET_KEY), ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY)) if not v]
    if missing:
        raise ImproperlyConfigured(
            f"Production mode (DEBUG off) needs {', '.join(missing)}; see README 'Configuration'."
        )
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEY or _DEV_FIELD_KEY

ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "caredesk.core",
    "caredesk.accounts",
    "caredesk.patients",
    "caredesk.intake",
    "caredesk.messaging",
    "caredesk.textmining",
    "caredesk.questionnaires",
    "caredesk.followups",
    "caredesk.complaints",
    "caredesk.surveys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "caredesk.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "caredesk.accounts.middleware.LoginSecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "caredesk.core.context_processors.navigation",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'caredesk.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work while one writer writes; the busy timeout waits instead of failing.
        # Temporary tables and statement journals in memory: on disk they cost as many writes as
        # the database itself during an import (the staging table, one journal per multi-row write).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": ""}  # in-memory test database
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts and login security ---------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 is deliberately slow; tests that do not test hashing use a fast hasher.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

# `asvs` (OWASP ASVS: length over composition) or `mlps3` (等保三级: complexity, rotation, lockout, TOTP).
SECURITY_PROFILE = env("SECURITY_PROFILE", "asvs").lower()
if SECURITY_PROFILE not in {"asvs", "mlps3"}:
    raise ImproperlyConfigured("SECURITY_PROFILE must be 'asvs' or 'mlps3'.")
SESSION_IDLE_TIMEOUT_SECONDS = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
PASSWORD_MAX_AGE_DAYS = 90
PASSWORD_HISTORY_COUNT = 5

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "caredesk.accounts.passwords.UserAttributeSimilarityValidator"},
    {"NAME": "caredesk.accounts.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "caredesk.accounts.passwords.CommonPasswordValidator"},
]
if SECURITY_PROFILE == "mlps3":
    AUTH_PASSWORD_VALIDATORS += [
        {"NAME": "caredesk.accounts.passwords.ComplexityValidator"},
        {"NAME": "caredesk.accounts.passwords.HistoryValidator"},
    ]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_LOCKOUT_PARAMETERS = ["username"]
# Lockout is per account, as 等保 asks. An IP-based lockout would lock a whole ward that reaches the
# server through one NAT address after a few typos, so axes' advice to add ip_address is declined.
# HSTS preload (security.W021) is a public-internet list; an intranet host name cannot be preloaded,
# and opting a hospital's public domain into it is the hospital's decision (SECURE_HSTS_PRELOAD).
SILENCED_SYSTEM_CHECKS = ["axes.W006", "security.W021"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "caredesk.accounts.views.locked_out"
if SECURITY_PROFILE == "mlps3":
    AXES_FAILURE_LIMIT = 5
    AXES_COOLOFF_TIME = 0.25  # hours: 15 minutes
else:
    AXES_FAILURE_LIMIT = 100  # throttle: at most 100 failures per hour per account
    AXES_COOLOFF_TIME = 1
OTP_TOTP_ISSUER = "CareDesk"

SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Security headers (production values unless DEBUG) -----------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and not TESTING)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG and not TESTING)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG or TESTING else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- I18N ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
# Each language is named in itself, so a reader of either can find their own.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "private"  # outside the web root; served only through permission-checked views
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- Celery ---------------------------------------------------------------------------------------
# Without a broker URL, Celery uses kombu's filesystem transport under DATA_DIR: no server needed.
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "out"),
        "data_folder_out": str(_queue_dir / "out"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),  # broadcast exchanges (the default is ./control)
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", TESTING)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- Working calendar (caredesk.core.workcalendar) ------------------------------------------------
# Business-day schedule for "working hours" deadlines and the windows in which patients are called;
# both are local times in WORK_TIMEZONE, on working days only (statutory calendar + 调休 + the
# hospital's own overrides). Edit here; they are deliberately not environment variables.
WORK_TIMEZONE = "Asia/Shanghai"
WORK_HOURS = [("08:00", "12:00"), ("13:30", "17:30")]
CALL_WINDOWS = [("09:00", "11:30"), ("14:30", "17:30")]
CALENDAR_CACHE_SECONDS = 60  # how long a process keeps the override table

# --- Messaging outbox (caredesk.messaging) --------------------------------------------------------
# Dotted path of the transport class. Default: a file transport writing DATA_DIR/outbox/*.jsonl
# (development); production: "caredesk.messaging.transports.sms_http.HttpSmsTransport".
MESSAGING_TRANSPORT = env("MESSAGING_TRANSPORT", "caredesk.messaging.transports.FileTransport")
MESSAGING_MAX_ATTEMPTS = env_int("MESSAGING_MAX_ATTEMPTS", 5)
MESSAGING_BACKOFF_SECONDS = env_int("MESSAGING_BACKOFF_SECONDS", 60)  # 60 s, 120 s, 240 s, … (capped at 6 h)
MESSAGING_CLAIM_TIMEOUT_SECONDS = env_int("MESSAGING_CLAIM_TIMEOUT", 300)  # a "sending" row older than this is reclaimed
MESSAGING_BATCH_SIZE = env_int("MESSAGING_BATCH_SIZE", 100)
SMS_GATEWAY_URL = env("SMS_GATEWAY_URL")
SMS_GATEWAY_ACCOUNT = env("SMS_GATEWAY_ACCOUNT")
SMS_GATEWAY_SECRET = env("SMS_GATEWAY_SECRET")
SMS_GATEWAY_SIGNATURE = env("SMS_GATEWAY_SIGNATURE")  # 短信签名, e.g. 某某医院
SMS_GATEWAY_TIMEOUT = float(env("SMS_GATEWAY_TIMEOUT", "10"))
# Our template code → the gateway's template id, as "code=id,code=id".
SMS_GATEWAY_TEMPLATES = dict(
    pair.split("=", 1) for pair in env("SMS_GATEWAY_TEMPLATES").split(",") if "=" in pair
)
CELERY_BEAT_SCHEDULE["messaging-sweep"] = {"task": "caredesk.messaging.tasks.sweep_outbox", "schedule": 60.0}
# Survey statistics (caredesk.surveys.aggregates): yesterday rebuilt at 01:30, today every 15 minutes.
CELERY_BEAT_SCHEDULE["surveys-stats-nightly"] = {
    "task": "caredesk.surveys.tasks.aggregate_yesterday", "schedule": crontab(hour=1, minute=30),
}
CELERY_BEAT_SCHEDULE["surveys-stats-today"] = {"task": "caredesk.surveys.tasks.aggregate_today", "schedule": 900.0}

# --- Satisfaction surveys (caredesk.surveys; every SURVEY_* default is in caredesk/surveys/conf.py) --
SURVEY_PUBLIC_BASE_URL = env("SURVEY_PUBLIC_BASE_URL")  # e.g. https://my.hospital.cn (the SMS link prefix)
CELERY_BEAT_SCHEDULE["surveys-daily"] = {"task": "caredesk.surveys.tasks.daily_invitations", "schedule": crontab(minute=5, hour=9)}
CELERY_BEAT_SCHEDULE["surveys-send"] = {"task": "caredesk.surveys.tasks.send_due_invitations", "schedule": 900.0}
CELERY_BEAT_SCHEDULE["surveys-overdue"] = {"task": "caredesk.surveys.tasks.mark_overdue_feedback", "schedule": 600.0}

# --- Cache (SMS verification codes, H5 rate limits, captcha counters) --------------------------
# Default: files under DATA_DIR/cache, shared by every process on the machine and kept across
# restarts; with several web machines set CACHE_URL=redis://host:6379/1. Tests use local memory.
CACHE_URL = env("CACHE_URL")
CACHES: dict[str, dict[str, object]]
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif TESTING:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(DATA_DIR / "cache"), "OPTIONS": {"MAX_ENTRIES": 100_000}}}

# --- Exports (caredesk.core.exports) --------------------------------------------------------------
# A TrueType font to embed in PDF exports; empty: reportlab's built-in Chinese CID font STSong-Light.
PDF_FONT_FILE = env("PDF_FONT_FILE")

# --- Complaints extras: rectification escalation (caredesk.complaints.rectification) ------------
# Rectification items past their due date escalate (owner and department head, then supervisors
# after RECTIFICATION_ESCALATE_DAYS more days); survey scores "after" come from the surveys module.
CELERY_IMPORTS = ["caredesk.complaints.tasks_extra"]
CELERY_BEAT_SCHEDULE["complaints-rectification-sweep"] = {
    "task": "caredesk.complaints.tasks_extra.escalate_rectification", "schedule": 900.0,
}
RECTIFICATION_ESCALATE_DAYS = 7
RECTIFICATION_SCORES_PROVIDER = "caredesk.surveys.stats.topic_scores"  # survey scores shown next to rectification items

# --- Follow-up centre (caredesk.followups) --------------------------------------------------------
FOLLOWUP_MAX_ATTEMPTS = env_int("FOLLOWUP_MAX_ATTEMPTS", 3)  # unreached calls before "unreachable"
FOLLOWUP_SWEEP_LOOKBACK_DAYS = env_int("FOLLOWUP_SWEEP_LOOKBACK_DAYS", 7)  # days the daily sweep re-checks
FOLLOWUP_BACKFILL_DAYS = env_int("FOLLOWUP_BACKFILL_DAYS", 30)  # calls due longer ago than this are not created
CELERY_BEAT_SCHEDULE["followups-sweep"] = {"task": "caredesk.followups.tasks.daily_sweep", "schedule": crontab(hour=6, minute=30)}
CELERY_BEAT_SCHEDULE["followups-assign"] = {"task": "caredesk.followups.tasks.assign_today", "schedule": crontab(hour=7, minute=30)}

# --- Audit and patient data ---------------------------------------------------------------------
AUDIT_RETENTION_DAYS = max(180, env_int("AUDIT_RETENTION_DAYS", 365))

# --- Logging: ids only, never patient data; a redacting filter is the last line of defence -----
LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_pii": {"()": "caredesk.core.logging.RedactPIIFilter"},
        "request_id": {"()": "caredesk.core.logging.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "redact_pii"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
    },
}

NINJA_PAGINATION_PER_PAGE = 50

# --- Complaints (caredesk.complaints) -------------------------------------------------------------
# The deadline sweep: reminders before a deadline, breach → escalation; every minute.
CELERY_BEAT_SCHEDULE["complaints-deadline-sweep"] = {"task": "caredesk.complaints.tasks.sweep_deadlines", "schedule": 60.0}
COMPLAINTS_ATTACHMENT_MAX_BYTES = env_int("COMPLAINTS_ATTACHMENT_MAX_MB", 10) * 1024 * 1024
