from __future__ import annotations

from django.db import models
from django.utils import timezone


class SchemaMigrationState(models.Model):
    """Where `manage.py migrate_all` stands with one workspace schema, so that a rerun resumes
    and an operator can see which workspaces failed and why (platform data, public schema)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    schema_name = models.CharField(max_length=63, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Hash of the migration set the schema was brought to (see schema_migrations.target_digest).
    target = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    applied = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.schema_name}: {self.status}"
