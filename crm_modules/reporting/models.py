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


class Quota(models.Model):
    """What a member is expected to win in a month, in the workspace's currency; set by
    managers. ``month`` is the first day of the month."""

    owner = user_reference(null=False, blank=False, verbose_name=_("member"))
    month = models.DateField(_("month"))
    amount = models.DecimalField(_("quota"), max_digits=18, decimal_places=2)
    set_by = user_reference()
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        constraints = [
            models.UniqueConstraint(fields=["owner", "month"], name="quota_owner_month"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="quota_not_negative"),
        ]
        # The forecast reads a few months of every rep: by month first.
        indexes = [models.Index(fields=["month", "owner"], include=["amount"], name="quota_month")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


class CustomerValue(models.Model):
    """What a customer (a contact or a company) has been worth, from its won deals: recency,
    frequency and monetary value with their RFM scores and segment, and its lifetime value
    (revenue so far plus a projection, ADR 0025). Written only by the set-based recompute
    (``services/customer_values.py``); one row per customer with at least one won deal."""

    class Kind(models.TextChoices):
        CONTACT = "contact", _("Contact")
        COMPANY = "company", _("Company")

    class Segment(models.TextChoices):
        CHAMPIONS = "champions", _("Champions")
        LOYAL = "loyal", _("Loyal")
        PROMISING = "promising", _("Promising")
        NEEDS_ATTENTION = "needs_attention", _("Needs attention")
        AT_RISK = "at_risk", _("At risk")
        HIBERNATING = "hibernating", _("Hibernating")
        LOST = "lost", _("Lost")

    kind = models.CharField(max_length=7, choices=Kind.choices)
    record_id = models.BigIntegerField()
    name = models.CharField(max_length=300, blank=True)
    owner = user_reference()
    first_won_at = models.DateTimeField()
    last_won_at = models.DateTimeField()
    won_deals = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=20, decimal_places=2)
    predicted_value = models.DecimalField(max_digits=20, decimal_places=2)
    lifetime_value = models.DecimalField(max_digits=20, decimal_places=2)
    recency_score = models.PositiveSmallIntegerField()
    frequency_score = models.PositiveSmallIntegerField()
    monetary_score = models.PositiveSmallIntegerField()
    segment = models.CharField(max_length=20, choices=Segment.choices)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "record_id"], name="customer_value_record")
        ]
        indexes = [
            models.Index(fields=["kind", "-lifetime_value", "id"], name="customer_value_top"),
            models.Index(fields=["kind", "segment"], name="customer_value_segment"),
            models.Index(fields=["owner", "kind"], name="customer_value_owner"),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.record_id}"


class ForecastSnapshot(models.Model):
    """The weighted forecast of a member for a month as it stood when the month began (open
    deals expected to close in it, amount times stage probability): forecast accuracy compares
    it with what was won. Taken once per month and member (``services/forecasts.py``)."""

    month = models.DateField()
    owner = user_reference()
    forecast = models.DecimalField(max_digits=20, decimal_places=2)
    taken_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "owner"],
                name="forecast_snapshot_month_owner",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["owner", "month"], name="forecast_snapshot_owner")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.forecast}"


class ReportSchedule(models.Model):
    """A saved report emailed to members every day, week or month at a local hour: each
    recipient gets the rows their own access allows, as a CSV attachment plus a link.
    ``next_run_at`` is the next send time (UTC) worked out in ``time_zone``."""

    class Frequency(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="schedules")
    owner = user_reference(null=False, blank=False, verbose_name=_("scheduled by"))
    frequency = models.CharField(_("frequency"), max_length=7, choices=Frequency.choices)
    hour = models.PositiveSmallIntegerField(_("hour"))
    # Monday is 0; used by weekly schedules.
    weekday = models.PositiveSmallIntegerField(_("weekday"), default=0)
    # 1 to 28, so that every month has it; used by monthly schedules.
    day = models.PositiveSmallIntegerField(_("day of the month"), default=1)
    time_zone = models.CharField(_("time zone"), max_length=64)
    recipient_ids = ArrayField(models.BigIntegerField())
    paused = models.BooleanField(_("paused"), default=False)
    next_run_at = models.DateTimeField()
    last_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")
        constraints = [
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="schedule_hour"),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="schedule_weekday"),
            models.CheckConstraint(
                condition=models.Q(day__gte=1, day__lte=28), name="schedule_day"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_run_at"], condition=models.Q(paused=False), name="schedule_due"
            ),
            models.Index(fields=["owner", "report"], name="schedule_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.frequency}"


class DashboardLayout(models.Model):
    """The cards of a sales dashboard, in order: the workspace's shared dashboard (no owner;
    Owners, Admins and Managers arrange it) or one member's own (they arrange it; a member
    without one sees the shared dashboard). A card is a default chart's key or ``report-<id>``;
    cards a viewer may not open are left out when the page is drawn."""

    owner = user_reference(verbose_name=_("member"))
    cards = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("dashboard layout")
        verbose_name_plural = _("dashboard layouts")
        constraints = [
            # One layout per member and one shared layout (NULL counts as a value here).
            models.UniqueConstraint(fields=["owner"], name="layout_owner", nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return ", ".join(self.cards)


from crm_modules.reporting.models_rates import ExchangeRate as ExchangeRate  # noqa: E402
