"""The one timeline table (D18). An activity is written once and linked to every record it
concerns; a record's timeline reads its links, newest first, through one index."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class Activity(models.Model):
    class Direction(models.TextChoices):
        NONE = "", _("Not applicable")
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    # A code from the entry-type registry (crm_modules.activities.api.entry_types).
    kind = models.CharField(_("type"), max_length=40)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("details"), blank=True)
    channel = models.CharField(_("channel"), max_length=40, blank=True)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, blank=True, default=""
    )
    outcome = models.CharField(_("outcome"), max_length=100, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    author = user_reference(verbose_name=_("author"))
    # Structured details of system entries (a stage change's from/to, a conversion's records).
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["-occurred_at", "-id"], name="activity_recent")]

    def __str__(self) -> str:
        return self.subject or self.kind


class ActivityLink(models.Model):
    """One record an activity concerns: ``target`` is ``<app_label>.<model>`` and its id.
    ``occurred_at`` is copied from the activity so a record's timeline is one index range."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="links")
    target_type = models.CharField(max_length=60)
    target_id = models.BigIntegerField()
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "target_type", "target_id"], name="activity_link_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["target_type", "target_id", "-occurred_at", "-activity"],
                name="activity_link_timeline",
            )
        ]

    def __str__(self) -> str:
        return f"{self.target_type}:{self.target_id}"


class ActivityDay(models.Model):
    """How many activities of a type an author had on a day (in the workspace's time zone): the
    rollup reports read instead of scanning the timeline. ``api.activity_log`` and
    ``api.timeline_delete_for`` keep it current with each write, by increments, never by
    recounting; ``api.activity_days_rebuild`` recomputes it from the timeline (after bulk loads
    or a change of the workspace's time zone)."""

    day = models.DateField()
    author = user_reference()
    kind = models.CharField(max_length=40)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "author", "kind"], name="activity_day_unique", nulls_distinct=False
            )
        ]
        indexes = [models.Index(fields=["author", "day"], name="activity_day_author")]

    def __str__(self) -> str:
        return f"{self.day} {self.author_id} {self.kind}: {self.count}"
