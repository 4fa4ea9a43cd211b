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


class BillingAccount(models.Model):
    """A workspace's customer and subscription at Stripe, as last reported by a webhook."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="billing")
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    subscription_status = models.CharField(max_length=32, blank=True)
    # The `created` time of the newest subscription event applied: an older event arriving
    # late must not undo a newer one.
    subscription_version = models.PositiveBigIntegerField(default=0)
    # The `created` time of the newest invoice payment event applied (paid or failed): a
    # failure delivered after a later payment must not make the workspace past due again.
    payment_version = models.PositiveBigIntegerField(default=0)
    # What that newest payment event said: the workspace's status is decided by whichever is
    # newer, the subscription's status or this, whatever order the events were applied in.
    last_payment_failed = models.BooleanField(default=False)
    # When the subscription fell past due: the grace period before read-only counts from here.
    past_due_since = models.DateTimeField(null=True, blank=True)
    # The price billed, as Stripe last reported it (its lookup key names them).
    interval = models.CharField(max_length=8, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    # When the subscription ended (canceled): the retention period counts from here.
    ended_at = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    # The fewest seats billed, chosen on the billing page: the quantity never follows the
    # seats in use below it (0: just the seats in use).
    seats_purchased = models.PositiveIntegerField(default=0)
    # A plan change waiting for the end of the period (a Stripe Subscription Schedule).
    stripe_schedule_id = models.CharField(max_length=255, blank=True)
    scheduled_plan = models.CharField(max_length=32, blank=True)
    scheduled_interval = models.CharField(max_length=8, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.stripe_customer_id


class StripeEvent(models.Model):
    """Every webhook event taken into account, under Stripe's unique event id: its effect is
    applied in the same transaction as this insert, so a delivered-again event does nothing."""

    event_id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=100)
    created = models.PositiveBigIntegerField()
    received_at = models.DateTimeField(default=timezone.now)
    # Set in the transaction that applied the event (a Celery task): at most once.
    processed_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class WorkspaceDeletion(models.Model):
    """A canceled workspace's planned deletion, and afterwards the platform's record of it
    (the workspace's own audit log goes with its schema). Withdrawn when the workspace pays
    again before the date."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        CANCELED = "canceled"
        DONE = "done"

    tenant = models.ForeignKey(
        Tenant, null=True, on_delete=models.SET_NULL, related_name="deletions"
    )
    # Kept after the drop, to say what was deleted.
    schema_name = models.CharField(max_length=63)
    slug = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    delete_after = models.DateTimeField()
    # The smallest "days before" warning sent so far (30, 7, 1): each is sent once.
    last_warning_days = models.PositiveSmallIntegerField(null=True, blank=True)
    scheduled_at = models.DateTimeField(default=timezone.now)
    canceled_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(status="scheduled"),
                name="billing_one_scheduled_deletion",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["status", "delete_after"])]

    def __str__(self) -> str:
        return f"{self.schema_name} {self.status}"


from billing.models_revenue import RevenueMonth, RevenueState  # noqa: E402, F401
