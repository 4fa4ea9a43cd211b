"""Development: `make run`. Embedded PostgreSQL without DATABASE_URL; in-process Celery,
channel layer and cache without REDIS_URL (D14)."""

from crm_platform.embedded import embedded_postgres_url

from .base import *  # noqa: F403
from .base import DATA_DIR, DATABASE_URL, REDIS_URL, database_config, env

DEBUG = True
ALLOWED_HOSTS = ["localhost", ".localhost", "127.0.0.1"]

if not DATABASE_URL:
    DATABASES = {"default": database_config(embedded_postgres_url(DATA_DIR))}

if not REDIS_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_BROKER_URL = "memory://"

EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Absolute links (hand-over, invitations, CSP form-action) use the port actually served:
# scripts/run.py serves on PORT. SITE_PORT names a different public port (a proxy in front).
SITE_PORT = env("SITE_PORT") or env("PORT") or "8000"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
