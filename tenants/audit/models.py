"""The audit log lives in each workspace's own schema."""

from typing import ClassVar

from django.db import models
from django.utils import timezone

from tenants.audit.actions import action_label


class AuditEvent(models.Model):
    # Accounts live in the public schema: keep the id and a readable snapshot, not a foreign key.
    actor_id = models.BigIntegerField(null=True)
    actor_email = models.EmailField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["action", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.action}"

    @property
    def label(self) -> str:
        """The action in words, in the reader's language."""
        return action_label(self.action)
