"""Tests: real PostgreSQL and Redis (scripts/testenv.py starts embedded ones when the URLs are
unset), eager Celery unless a test starts a real worker."""

import os

from .base import *  # noqa: F403
from .base import database_config, redis_services

DATABASE_URL = os.environ["DATABASE_URL"]
# A module that exists only in tests: it proves that a module plugs in through the registries
# alone (tests/kit_module/).
TENANT_APPS = [*TENANT_APPS, "tests.kit_module"]  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "tests.kit_module"]  # noqa: F405
# Each pytest-xdist worker gets its own Redis database so that cache flushes don't collide.
# The database number in REDIS_URL is the base; worker gwN uses base + 1 + N (modulo the
# 16 databases a default Redis server has).
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_redis_base, _, _redis_base_db = os.environ["REDIS_URL"].rpartition("/")
_redis_db = (int(_redis_base_db or 0) + 1 + int(_worker[2:] or 0)) % 16
REDIS_URL = f"{_redis_base}/{_redis_db}"
DATABASES = {"default": database_config(DATABASE_URL)}
CACHES, CHANNEL_LAYERS = redis_services(REDIS_URL, prefix="rapport-test")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = True
ALLOWED_HOSTS = ["localhost", ".localhost", "testserver", ".testserver"]
EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SPARE_WORKSPACE_POOL_SIZE = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Rate limits stay on (real cache); tests that exercise them clear the cache first.

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Webhook tests sign their events with this secret, as Stripe does with the endpoint's.
STRIPE_WEBHOOK_SECRET = "whsec_test_rapport_webhooks"  # noqa: S105
# The sender-domain check never asks the internet's DNS in tests: a test starts its own server
# (tests/marketing/dns_stub.py) and points these at it; by default nothing listens there.
MARKETING_DNS_NAMESERVERS = ["127.0.0.1"]
MARKETING_DNS_PORT = 9
MARKETING_DNS_TIMEOUT = 0.3
