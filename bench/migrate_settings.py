"""Settings for bench/migrate_all.py: the development settings plus `bench_probe`, a workspace
app whose migrations the benchmark writes into a temporary directory on PYTHONPATH."""

from crm_platform.settings.dev import *  # noqa: F403
from crm_platform.settings.dev import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "bench_probe"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench_probe"]
DEBUG = False
