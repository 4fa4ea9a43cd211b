"""The Celery app. Tasks carry the tenant schema they were sent from (D6)."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings.dev")

app = CeleryApp("rapport")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
