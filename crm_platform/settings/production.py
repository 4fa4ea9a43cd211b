"""Production: refuses to start without its secrets (D13)."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import database_config, env, env_bool

for required in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "BASE_DOMAIN"):
    if not os.environ.get(required):
        raise ImproperlyConfigured(f"{required} must be set in production.")

SECRET_KEY = os.environ["SECRET_KEY"]
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")

DEBUG = False
DATABASES = {"default": database_config(os.environ["DATABASE_URL"])}
# Under ASGI, Django's persistent connections are not reused across requests; psycopg's
# in-process pool is (D7). django-tenants sets search_path on every cursor, so a pooled
# connection never carries the previous request's schema.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Merge, not replace: DATABASE_URL may carry options such as ?sslmode=require.
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": int(env("DB_POOL_MIN_SIZE", "2") or 2),
    "max_size": int(env("DB_POOL_MAX_SIZE", "10") or 10),
}
SITE_SCHEME = "https"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000") or 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_HTTPONLY = True

EMAIL_DELIVERY_BACKEND = env(
    "EMAIL_DELIVERY_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)

# Error reporting, switched on by configuration only: set SENTRY_DSN (Django, Celery and Redis
# integrations are enabled automatically; no personal data is sent).
if env("SENTRY_DSN"):
    import sentry_sdk

    sentry_sdk.init(
        dsn=env("SENTRY_DSN"),
        environment=env("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
        send_default_pii=False,
    )
