"""Workspace API keys (D9). Only a hash of each key is stored; the key is shown once."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class ApiKey(models.Model):
    name = models.CharField(_("name"), max_length=100)
    # The key's public part, to find its row; the secret part is only in ``digest``.
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    read_only = models.BooleanField(_("read-only"), default=False)
    # The member the key acts as: their role applies, and the key stops with their seat.
    created_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
