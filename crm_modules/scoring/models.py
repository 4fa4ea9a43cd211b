"""Lead scoring rules and thresholds (ADR 0018). Scores themselves live on the records (sales:
``score`` and ``score_breakdown`` on contacts and leads)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Entity(models.TextChoices):
    CONTACT = "contact", _("Contacts")
    LEAD = "lead", _("Leads")


class ScoringRule(models.Model):
    class Kind(models.TextChoices):
        FIELD = "field", _("A field has a value")
        ENGAGEMENT = "engagement", _("An interaction in the last days")
        CONSENT = "consent", _("Consent withdrawn")
        INACTIVITY = "inactivity", _("No interaction in the last days")

    class Operator(models.TextChoices):
        EQUALS = "eq", _("is")
        NOT_EQUALS = "neq", _("is not")
        IN = "in", _("is one of")
        CONTAINS = "contains", _("contains")
        GREATER = "gt", _("is more than")
        GREATER_EQUAL = "gte", _("is at least")
        LESS = "lt", _("is less than")
        LESS_EQUAL = "lte", _("is at most")
        SET = "set", _("is filled in")
        NOT_SET = "not_set", _("is empty")

    entity = models.CharField(_("records"), max_length=10, choices=Entity.choices)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # Field rules: a field path such as "industry", "company.size" or "custom.tier".
    field = models.CharField(_("field"), max_length=80, blank=True)
    operator = models.CharField(_("condition"), max_length=10, choices=Operator.choices, blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    # Engagement rules: the timeline entry type ("meeting") and direction ("inbound" = reply).
    activity_kind = models.CharField(_("interaction"), max_length=40, blank=True)
    direction = models.CharField(_("direction"), max_length=10, blank=True)
    # Consent rules: the channel.
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    days = models.PositiveIntegerField(_("days"), null=True, blank=True)
    points = models.IntegerField(_("points"))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("entity", "id")
        indexes = [models.Index(fields=["entity", "active"], name="scoring_rule_entity")]

    def __str__(self) -> str:
        return self.name


class ScoreThreshold(models.Model):
    """When a record's score reaches ``min_score``: move a contact to a lifecycle stage and/or
    give the record's owner a task."""

    entity = models.CharField(_("records"), max_length=10, choices=Entity.choices)
    min_score = models.IntegerField(_("score at least"))
    lifecycle_stage = models.CharField(_("move to stage"), max_length=20, blank=True)
    task_title = models.CharField(_("task for the owner"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("entity", "min_score", "id")

    def __str__(self) -> str:
        return f"{self.entity} ≥ {self.min_score}"
