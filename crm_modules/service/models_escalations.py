"""Escalations waiting for business hours (ADR 0044): a breach found outside the business
hours of the ticket's calendar, or by a sweep that ran late, escalates at the next opening."""

from __future__ import annotations

from django.db import models


class DeferredEscalation(models.Model):
    ticket = models.ForeignKey(
        "service.Ticket", on_delete=models.CASCADE, related_name="deferred_escalations"
    )
    # The target whose breach is escalated (first_response or resolution).
    target = models.CharField(max_length=20)
    breached_at = models.DateTimeField()
    # The start of the next business hours: when the sweep runs the escalations.
    run_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["run_at", "id"], name="deferred_escalation_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "target"], name="deferred_escalation_one_per_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.target} at {self.run_at:%Y-%m-%d %H:%M}"
