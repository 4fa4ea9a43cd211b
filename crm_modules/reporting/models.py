"""Saved reports: a validated definition, its author, the roles it is shared with and whether
it is pinned to the sales dashboard. Data only; ``services.py`` writes them."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class Report(models.Model):
    name = models.CharField(_("name"), max_length=200)
    # The definition as ``definition.check_definition`` normalised it; checked again on every
    # run, because a custom field it names may have been deleted since.
    definition = models.JSONField()
    owner = user_reference(verbose_name=_("author"))
    shared_with = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    pinned = models.BooleanField(_("pinned to the dashboard"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        indexes = [
            models.Index(fields=["owner", "-id"], name="report_owner"),
            models.Index(fields=["-id"], condition=models.Q(pinned=True), name="report_pinned"),
        ]

    def __str__(self) -> str:
        return self.name
