"""Settings shared by every environment. Values come from environment variables only (D13)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.utils.translation import gettext_lazy as _

from crm_platform.log_config import logging_config

# Generic Django classes (ModelAdmin[Tenant], QuerySet[Deal]) subscriptable at run time too.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = BASE_DIR / ".data"


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


SECRET_KEY = env("SECRET_KEY", "insecure-development-key-change-me-0123456789abcdef")
DEBUG = False

# Workspaces live at <slug>.<BASE_DOMAIN>; the public site and accounts at BASE_DOMAIN (D5).
BASE_DOMAIN = env("BASE_DOMAIN", "localhost") or "localhost"
SITE_SCHEME = env("SITE_SCHEME", "http") or "http"
# The port that browsers use to reach us, when it is not the scheme's default.
SITE_PORT = env("SITE_PORT", "")
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}"]

DATABASE_URL = env("DATABASE_URL")
REDIS_URL = env("REDIS_URL")

SHARED_APPS = [
    "django_tenants",
    "crm_platform",
    "tenants",
    "billing",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
]
# Every package under crm_modules/ with an apps.py is a CRM module: it joins the workspace
# schemas without an edit here (D16).
CRM_MODULES = sorted(
    f"crm_modules.{path.parent.name}" for path in (BASE_DIR / "crm_modules").glob("*/apps.py")
)
TENANT_APPS = [
    "django.contrib.contenttypes",
    "tenants.audit",
    *CRM_MODULES,
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "crm_platform.urls_public"
ROOT_URLCONF = "crm_platform.urls_tenant"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# D7: keep TENANT_LIMIT_SET_CALLS at its default (False).

MIDDLEWARE = [
    "crm_platform.health.HealthCheckMiddleware",
    "crm_platform.observability.MetricsMiddleware",
    "crm_platform.observability.RequestContextMiddleware",
    # Security headers before host resolution, so that the unknown-host 404 carries them too.
    "django.middleware.security.SecurityMiddleware",
    "crm_platform.security.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.WorkspaceHostMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tenants.middleware.UserLanguageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenants.middleware.MembershipMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "tenants.context_processors.workspace",
            ],
        },
    },
]

ASGI_APPLICATION = "crm_platform.asgi.application"


def database_config(url: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=0, conn_health_checks=True)
    )
    config["ENGINE"] = "crm_platform.postgresql_backend"
    return config


DATABASES = {"default": database_config(DATABASE_URL)} if DATABASE_URL else {}

AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Argon2id first (OWASP's first choice; memory-hard, and cheaper in CPU time per sign-in than
# PBKDF2 at a comparable strength). Older hashes still verify and are upgraded at sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions: host-only cookies, stored in the public schema with the user id so that signing out
# ends every session of the user on every host (D5).
SESSION_ENGINE = "tenants.sessions"
SESSION_COOKIE_NAME = "rapport_session"
SESSION_COOKIE_DOMAIN = None
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14
CSRF_COOKIE_DOMAIN = None
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "workspace_list"

# allauth: email + password, optional TOTP with recovery codes, rate limits on a real cache.
ACCOUNT_ADAPTER = "tenants.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Rapport] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = SITE_SCHEME
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Rapport"
# Accept the code of one period either side of now: phone clocks drift.
MFA_TOTP_TOLERANCE = 1


# Channels and Celery over Redis; without REDIS_URL the dev settings fall back to in-process.
def redis_services(url: str | None, *, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cache (keys prefixed by schema, D6) and the channel layer on one Redis."""
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }
    # redis-py 8's defaults do not suit the layer:
    # - reads time out after 5 s, as long as the layer's blocking pop, which ended that wait with
    #   an error and closed every idle socket: reads may take 30 s (a dead connection is still
    #   noticed);
    # - a pool holds at most 100 connections and refuses the next one, and every socket joining
    #   or leaving a group holds one while its command is in flight: hundreds of sockets of one
    #   process closing at once (a deploy, a network blip) failed;
    # - a connection must be made within 5 s, handshake included: when hundreds of sockets join
    #   at once on a busy machine, each new connection waits behind the others in the event loop,
    #   and 300 joins at once on two loaded cores (embedded Redis) missed it.
    host = {
        "address": url,
        "socket_timeout": 30,
        "socket_connect_timeout": 30,
        "max_connections": 2000,
    }
    # The live sender (tenants/live_sender.py) delivers a burst of events in one pipeline, faster
    # than a process's sockets read them: each process's queue holds up to 5,000 messages (the
    # layer's default of 100 dropped the tail of any burst of more).
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [host], "prefix": prefix, "capacity": 5000},
        }
    }
    return caches, layers


CACHES, CHANNEL_LAYERS = redis_services(REDIS_URL, prefix="rapport")
# The live sender merges a group's record events into summaries once its backlog (queued plus
# unread by a receiving process) passes this many messages, well below the layer's capacity
# (ADR 0067).
LIVE_MERGE_BACKLOG = 1_000
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE = {
    "replenish-spare-workspaces": {
        "task": "tenants.tasks.replenish_spare_pool",
        "schedule": 60.0,
    },
    "clear-expired-sessions": {
        "task": "tenants.tasks.clear_expired_sessions",
        "schedule": 60.0 * 60 * 6,
    },
    # Raw MIME of failed or ignored mail past INBOUND_EMAIL_RAW_RETENTION_DAYS.
    "purge-inbound-raw": {
        "task": "crm_modules.service.tasks.purge_inbound_raw",
        "schedule": 60.0 * 60 * 6,
    },
    "purge-document-trash": {
        "task": "crm_modules.documents.tasks.purge_document_trash",
        "schedule": 60.0 * 60 * 6,
    },
    # Bytes of uploads never completed (the browser gave up, or its completion was refused).
    "sweep-abandoned-uploads": {
        "task": "crm_modules.documents.tasks.sweep_abandoned_uploads",
        "schedule": 60.0 * 60 * 6,
    },
    # Lead scores with time-based rules (engagement in the last N days, inactivity) move with
    # the calendar even when no record changes.
    "rescore-every-workspace": {
        "task": "crm_modules.scoring.tasks.rescore_every_workspace",
        "schedule": 60.0 * 60 * 24,
    },
    # Trial reminders and trial ends; each run is idempotent, so hourly keeps them timely.
    "billing-trial-sweep": {
        "task": "billing.tasks.trial_sweep",
        "schedule": 60.0 * 60,
    },
    # Past-due workspaces beyond the grace period become read-only.
    "billing-dunning-sweep": {
        "task": "billing.tasks.dunning_sweep",
        "schedule": 60.0 * 60,
    },
    # Canceled workspaces: deletion planned, warnings sent, schemas dropped when due.
    "billing-retention-sweep": {
        "task": "billing.tasks.retention_sweep",
        "schedule": 60.0 * 60,
    },
    # Every workspace's subscription compared with Stripe's, drift repaired.
    "billing-reconcile": {
        "task": "billing.tasks.reconcile_subscriptions",
        "schedule": 60.0 * 60 * 24,
    },
    "billing-stripe-events-sweep": {
        "task": "billing.tasks.stripe_events_sweep",
        "schedule": 60.0 * 5,
    },
    # Customer values (RFM, lifetime value): recency moves with the calendar (ADR 0025).
    "reporting-customer-values": {
        "task": "crm_modules.reporting.tasks.customer_values_every_workspace",
        "schedule": 60.0 * 60 * 24,
    },
    # Each month's forecast, kept by the first run in the workspace's month (time zones).
    "reporting-forecast-snapshot": {
        "task": "crm_modules.reporting.tasks.forecast_snapshot_every_workspace",
        "schedule": 60.0 * 60,
    },
    # Scheduled reports; the sweep enters only workspaces with a schedule due (alarms).
    "reporting-scheduled-reports": {
        "task": "crm_modules.reporting.tasks.send_scheduled_reports",
        "schedule": 60.0,
    },
    # Reminders of tasks due within 15 minutes; each task is reminded once.
    # Due steps of marketing sequences, in the workspaces whose sequence alarm is due.
    "marketing-sequences-sweep": {
        "task": "crm_modules.marketing.sequences.tasks.sequences_sweep",
        "schedule": 60.0,
    },
    "sales-task-reminders": {
        "task": "crm_modules.sales.tasks.send_task_reminders",
        "schedule": 60.0,
    },
    # Event triggers' delayed actions, in the workspaces whose trigger alarm is due (ADR 0042).
    "marketing-trigger-sweep": {
        "task": "crm_modules.marketing.triggers.tasks.trigger_sweep",
        "schedule": 60.0,
    },
    # Next best offers from the day's won deals (ADR 0042).
    "marketing-next-best-offers": {
        "task": "crm_modules.marketing.triggers.tasks.next_best_offers_every_workspace",
        "schedule": 60.0 * 60 * 24,
    },
    # SLA warnings before a breach and notices at the breach; each told once.
    "service-sla-alerts": {
        "task": "crm_modules.service.tasks.send_sla_alerts",
        "schedule": 60.0,
    },
}

# Emails are queued as a task after commit, then delivered by EMAIL_DELIVERY_BACKEND.
EMAIL_BACKEND = "crm_platform.mail.TaskEmailBackend"
EMAIL_DELIVERY_BACKEND = env(
    "EMAIL_DELIVERY_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25") or 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Rapport <no-reply@rapport.localhost>")

# Inbound email (ADR 0036): each workspace receives at any address of its own domain,
# ``support@<slug>.<INBOUND_EMAIL_DOMAIN>``; the webhook of each workspace is signed with a key
# derived from INBOUND_EMAIL_SECRET; a message larger than INBOUND_EMAIL_MAX_BYTES is refused
# with a bounce (SMTP 552) or a 413, never dropped.
INBOUND_EMAIL_DOMAIN = env("INBOUND_EMAIL_DOMAIN", f"in.{BASE_DOMAIN}") or f"in.{BASE_DOMAIN}"
INBOUND_EMAIL_SECRET = env("INBOUND_EMAIL_SECRET", "") or f"inbound:{SECRET_KEY}"
INBOUND_EMAIL_MAX_BYTES = int(env("INBOUND_EMAIL_MAX_BYTES", str(25 * 1024 * 1024)) or 0)
INBOUND_SMTP_HOST = env("INBOUND_SMTP_HOST", "127.0.0.1") or "127.0.0.1"
INBOUND_SMTP_PORT = int(env("INBOUND_SMTP_PORT", "2525") or 2525)
# SNS-shaped webhook posts (ADR 0045): the signing certificate (and a SubscribeURL) must start
# with this prefix, formatted with the region of the message's topic; older messages are refused.
INBOUND_SNS_CERT_URL_PREFIX = (
    env("INBOUND_SNS_CERT_URL_PREFIX", "https://sns.{region}.amazonaws.com/")
    or "https://sns.{region}.amazonaws.com/"
)
INBOUND_SNS_MAX_AGE_SECONDS = int(env("INBOUND_SNS_MAX_AGE_SECONDS", "3600") or 3600)
# Spoofed senders (ADR 0068): the authserv-ids of our own receiving hosts, comma-separated
# (``mx.rapport.example``, ``amazonses.com``); only their Authentication-Results header is
# read. Empty: no header is trusted (the SES webhook's own verdicts still are).
INBOUND_AUTHSERV_IDS = [
    s.strip().casefold() for s in (env("INBOUND_AUTHSERV_IDS", "") or "").split(",") if s.strip()
]
# Raw MIME of mail kept for the admins (failed, ignored, a refused attachment) is purged after
# this many days by a beat task; the ticket, its messages and documents stay.
INBOUND_EMAIL_RAW_RETENTION_DAYS = int(env("INBOUND_EMAIL_RAW_RETENTION_DAYS", "30") or 30)
# A satisfaction survey held while the plan left service out is sent once the plan includes it
# again only within this many days of the ticket's solution; later it is marked expired, not
# sent (ADR 0081).
SERVICE_CSAT_SEND_WITHIN_DAYS = int(env("SERVICE_CSAT_SEND_WITHIN_DAYS", "7") or 7)

# Spare pre-migrated workspaces kept ready so that signup does not wait for migrations.
SPARE_WORKSPACE_POOL_SIZE = int(env("SPARE_WORKSPACE_POOL_SIZE", "5") or 5)
TRIAL_DAYS = 14
# Stripe (billing/stripe_api.py). The webhook secret signs the events sent to /stripe/webhook/.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", "")
# Another API host than Stripe's: the local stand-in (scripts/localstripe_server.py).
STRIPE_API_BASE = env("STRIPE_API_BASE", "")
STRIPE_TIMEOUT_SECONDS = 10
# Stripe Tax on Checkout and subscriptions (needs Stripe Tax set up in the account).
STRIPE_AUTOMATIC_TAX = env_bool("STRIPE_AUTOMATIC_TAX")
# Seat changes are billed this long after the first one, so a burst makes one quantity update
# (Stripe limits quantity updates per subscription per hour).
BILLING_SEATS_DELAY_SECONDS = 60
# Days a past-due workspace keeps working before it becomes read-only.
BILLING_GRACE_DAYS = int(env("BILLING_GRACE_DAYS", "7") or 7)
# Days a canceled workspace is kept (read-only) before it is deleted; warnings go out 30, 7
# and 1 days before.
BILLING_RETENTION_DAYS = int(env("BILLING_RETENTION_DAYS", "60") or 60)
TRIAL_SEAT_LIMIT = 10
INVITATION_MAX_AGE_DAYS = 7
# Emails to an address the actor typed (invitations, signup notices): (count, seconds) per
# sending person, per workspace and per recipient address (crm_platform/ratelimits.py).
TYPED_ADDRESS_MAIL_LIMITS = {
    "actor": (30, 60 * 60),
    "workspace": (100, 60 * 60 * 24),
    "recipient": (5, 60 * 60 * 24),
}
HANDOVER_MAX_AGE_SECONDS = 60

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("ru", _("Russian")),
    ("it", _("Italian")),
    ("th", _("Thai")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.min.js from the plotly package (crm_platform/staticfinders.py)
    "crm_platform.staticfinders.PackageAssetFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The API (D9, crm_platform/api/): workspace hosts only, the one permission question, one
# error shape, keyset pagination.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm_platform.api.authentication.WorkspaceSessionAuthentication",
        "crm_platform.api.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "crm_platform.api.permissions.Allows",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm_platform.api.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "crm_platform.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Set by the module that owns API keys: "(request, raw_key) -> Membership | None".
API_KEY_RESOLVER = "crm_modules.integrations.api.resolve_api_key"
SPECTACULAR_SETTINGS = {
    "TITLE": "Rapport API",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Two "entity" choice sets: merged records (contact, company), scored ones (contact, lead).
    "ENUM_NAME_OVERRIDES": {
        "MergedEntityEnum": "crm_modules.sales.models.MergeRecord.Entity",
        "ScoredEntityEnum": "crm_modules.scoring.models.Entity",
        "RecordTypeEnum": "crm_modules.dataio.models.Entity",
        "TicketStatusEnum": "crm_modules.service.models.Status",
        "TicketPriorityEnum": "crm_modules.service.models.Priority",
        "TicketTypeEnum": "crm_modules.service.models.TicketType",
        "TicketMessageKindEnum": "crm_modules.service.models.TicketMessage.Kind",
        "SegmentKindEnum": "crm_modules.marketing.models.Segment.Kind",
        "CampaignStatusEnum": "crm_modules.marketing.models.Campaign.Status",
        "SequenceStatusEnum": "crm_modules.marketing.models_sequences.Sequence.Status",
        "CampaignVariantModeEnum": "crm_modules.marketing.models.CampaignVariant.Mode",
        "TaskPriorityEnum": "crm_modules.sales.models.Task.Priority",
        "StageKindEnum": "crm_modules.sales.models.Stage.Kind",
        "ScoringRuleKindEnum": "crm_modules.scoring.models.ScoringRule.Kind",
    },
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.IsAuthenticated",
        "crm_platform.api.permissions.Allows",
    ],
    "SERVE_AUTHENTICATION": [
        "crm_platform.api.authentication.WorkspaceSessionAuthentication",
        "crm_platform.api.authentication.ApiKeyAuthentication",
    ],
}

# Structured logs (crm_platform/log_config.py): LOG_FORMAT=json in production.
LOGGING = logging_config(
    json_format=env("LOG_FORMAT", "console") == "json", level=env("LOG_LEVEL", "INFO") or "INFO"
)
# Observability (crm_platform/observability.py): /metrics needs this bearer token (no token, no
# endpoint); queries slower than SLOW_QUERY_MS are logged with their workspace.
METRICS_TOKEN = env("METRICS_TOKEN", "") or ""
SLOW_QUERY_MS = float(env("SLOW_QUERY_MS", "500") or 500)
# Celery workers serve their task timings on this port (0: not at all).
WORKER_METRICS_PORT = int(env("WORKER_METRICS_PORT", "0") or 0)

# Documents bucket (crm_platform/s3.py); credentials come from the environment or the pod's role.
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", "")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", "")
# Encryption at rest requested on every upload: "AES256" (SSE-S3) or "aws:kms" (SSE-KMS).
AWS_S3_SERVER_SIDE_ENCRYPTION = env("AWS_S3_SERVER_SIDE_ENCRYPTION", "")
# With "aws:kms": the KMS key to encrypt with (empty: the bucket's default key).
AWS_S3_SSE_KMS_KEY_ID = env("AWS_S3_SSE_KMS_KEY_ID", "")
# Browsers PUT uploads straight to the bucket and load previews from it: the origin of the URLs
# crm_platform/s3.py presigns joins the CSP's connect-src and img-src by itself. One more origin
# to allow there (a proxy in front of the bucket), if any.
DOCUMENTS_UPLOAD_ORIGIN = env("DOCUMENTS_UPLOAD_ORIGIN", "")
# The largest single document and the storage quota are the plan's (billing.plans, read by
# crm_modules/documents/quota.py).
# Larger files go to S3 in parts (S3 multipart: every part but the last at least 5 MiB), so a
# dropped connection loses one part, not the file.
DOCUMENTS_MULTIPART_THRESHOLD_BYTES = 16 * 1024**2
DOCUMENTS_MULTIPART_PART_BYTES = 8 * 1024**2
# How long a presigned PUT (an upload or one of its parts) and a presigned GET (a download, a
# preview, a thumbnail) stay valid, in seconds.
DOCUMENTS_UPLOAD_URL_SECONDS = 15 * 60
DOCUMENTS_DOWNLOAD_URL_SECONDS = 60
# An upload's bytes that no committed row took after this long are swept from the bucket
# (crm_modules/documents/sweeper.py); never less than an upload ticket's life plus an hour.
DOCUMENTS_ABANDONED_UPLOAD_HOURS = int(env("DOCUMENTS_ABANDONED_UPLOAD_HOURS", "24") or "24")

# Two queues, each with its own workers (infra/k8s/): people wait on "interactive" (mail,
# notifications); "bulk" (migrating spare schemas, exports, clean-ups) may take minutes.
CELERY_TASK_DEFAULT_QUEUE = "interactive"
CELERY_TASK_ROUTES = {
    "tenants.tasks.replenish_spare_pool": {"queue": "bulk"},
    "tenants.tasks.clear_expired_sessions": {"queue": "bulk"},
    "tenants.tasks.purge_workspace_objects": {"queue": "bulk"},
    "crm_modules.documents.tasks.sweep_abandoned_uploads": {"queue": "bulk"},
    "billing.tasks.trial_sweep": {"queue": "bulk"},
    "billing.tasks.dunning_sweep": {"queue": "bulk"},
    "billing.tasks.stripe_events_sweep": {"queue": "bulk"},
    "crm_modules.dataio.tasks.import_run": {"queue": "bulk"},
    "crm_modules.dataio.tasks.import_undo_run": {"queue": "bulk"},
    "crm_modules.dataio.tasks.export_run": {"queue": "bulk"},
    "crm_modules.service.tasks.reapply_sla_policies": {"queue": "bulk"},
}

# Email campaigns (ADR 0034). The backend campaigns send through (empty: EMAIL_DELIVERY_BACKEND);
# each worker holds one SMTP connection per batch, so the provider's connection limit must be at
# least MARKETING_SEND_CONCURRENCY times the number of bulk workers.
MARKETING_EMAIL_BACKEND = env("MARKETING_EMAIL_BACKEND", "") or ""
MARKETING_SEND_CONCURRENCY = int(env("MARKETING_SEND_CONCURRENCY", "4") or 4)
MARKETING_SEND_BATCH = int(env("MARKETING_SEND_BATCH", "200") or 200)
# Messages per second one sending task allows itself (the throttle).
MARKETING_SEND_RATE_PER_WORKER = float(env("MARKETING_SEND_RATE_PER_WORKER", "200") or 200)
# A sending task hands over to a fresh one after this long.
MARKETING_SEND_SLICE_SECONDS = int(env("MARKETING_SEND_SLICE_SECONDS", "60") or 60)
# A claimed row not recorded as sent within this long is taken as interrupted.
MARKETING_SEND_LEASE_SECONDS = int(env("MARKETING_SEND_LEASE_SECONDS", "300") or 300)
# Clicks sooner than this after delivery are taken as a mail gateway's link scanner.
MARKETING_SCANNER_SECONDS = int(env("MARKETING_SCANNER_SECONDS", "10") or 10)
MARKETING_MESSAGE_ID_DOMAIN = env("MARKETING_MESSAGE_ID_DOMAIN", "") or ""

# Deliverability (ADR 0043). DNS servers the sender-domain check asks (comma-separated; empty:
# the system's resolver), their port and the time allowed for each lookup.
MARKETING_DNS_NAMESERVERS = [
    s.strip() for s in (env("MARKETING_DNS_NAMESERVERS", "") or "").split(",") if s.strip()
]
MARKETING_DNS_PORT = int(env("MARKETING_DNS_PORT", "53") or 53)
MARKETING_DNS_TIMEOUT = float(env("MARKETING_DNS_TIMEOUT", "3") or 3)
# The SPF include that names the sending service's servers (e.g. amazonses.com).
MARKETING_SPF_INCLUDE = env("MARKETING_SPF_INCLUDE", "") or ""
# Where SNS signing certificates (and subscription confirmations) may be fetched from.
MARKETING_SNS_CERT_URL_PATTERN = (
    env("MARKETING_SNS_CERT_URL_PATTERN", "") or r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
)
# Bulk sending pauses when complaints pass 0.1 % or bounces 5 % of the campaign messages sent
# in this many days, once at least this many were sent.
MARKETING_PAUSE_WINDOW_DAYS = int(env("MARKETING_PAUSE_WINDOW_DAYS", "7") or 7)
MARKETING_PAUSE_MIN_SENT = int(env("MARKETING_PAUSE_MIN_SENT", "1000") or 1000)
