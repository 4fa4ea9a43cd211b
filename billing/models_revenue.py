from __future__ import annotations

from typing import ClassVar

from django.db import models


class RevenueState(models.Model):
    """A subscription as one of its stored Stripe events described it, read once when the
    event is applied: the revenue rollup's memory of each subscription's history."""

    # Compared byte by byte ("C"), as Python compares the ids: events of one second are
    # ordered by id the same way in the rollup and in a recomputation.
    event_id = models.CharField(max_length=255, primary_key=True, db_collation="C")
    subscription_id = models.CharField(max_length=255)
    customer = models.CharField(max_length=255)
    created = models.PositiveBigIntegerField()
    status = models.CharField(max_length=32)
    plan = models.CharField(max_length=32, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    seats = models.PositiveIntegerField(default=0)
    # The recurring amount per month in twelfths of the currency's minor unit, so that annual
    # prices divide exactly.
    per_month = models.BigIntegerField(default=0)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["subscription_id", "created", "event_id"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.status} at {self.created}"


class RevenueMonth(models.Model):
    """How much each revenue figure changed in a month (the rollup the staff dashboard reads):
    ``mrr`` (twelfths of a minor unit, per currency), ``paying`` (subscriptions counted in
    MRR), ``seats`` (per plan), ``churned_mrr`` (per currency) and ``churned_logos``. A figure
    at a month's start is the sum of the changes of the months before it."""

    month = models.DateField()
    measure = models.CharField(max_length=16)
    key = models.CharField(max_length=32, blank=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["month", "measure", "key"], name="billing_revenue_month_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month} {self.measure} {self.key}: {self.value}"
