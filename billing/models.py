from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class TrialReminder(models.Model):
    """One row per reminder sent: the unique constraint is what makes the reminder task safe
    to run any number of times (each reminder is sent once)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="trial_reminders")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant", "days_before"], name="billing_trial_reminder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.days_before} days"
