"""Event triggers and next best offers (ADR 0042).

``TriggerRule``: a workspace's rule, its definition validated JSON (``triggers/definition.py``)
and the event kind it listens to, compiled from it. ``TriggerFiring``: one (rule, contact,
occurrence), unique, so a rule reacts to one happening once however many workers evaluate it;
pending firings wait for their due time (the delay) in a partial index the sweep reads, and
every firing stays as the rule's run log with what each action did. ``NextBestOffer``: the
products each contact is most likely to want next, recomputed set-based in the background.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class TriggerRule(models.Model):
    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    definition = models.JSONField(_("definition"))
    # Compiled from the definition: the record event kind the rule waits for.
    listens_to = models.CharField(max_length=60)
    # Actions run with this member's permissions (the rule's author, or who last changed it).
    run_as = user_reference()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("trigger rule")
        verbose_name_plural = _("trigger rules")
        indexes = [
            models.Index(
                fields=["listens_to"], condition=models.Q(active=True), name="trigger_rule_active"
            )
        ]

    def __str__(self) -> str:
        return self.name


class TriggerFiring(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Done")
        PARTIAL = "partial", _("Done, some actions skipped or failed")
        FAILED = "failed", _("Failed")
        STOPPED = "stopped", _("Stopped by the loop guard")
        CANCELED = "canceled", _("Canceled")

    rule = models.ForeignKey(TriggerRule, on_delete=models.CASCADE, related_name="firings")
    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    occurrence = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField()
    # The rules whose actions led to this firing, first to last (empty: a person or a
    # module's own change started it).
    chain = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # One entry per action: {"action", "status": done|skipped|failed, "message"}.
    outcome = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "contact", "occurrence"], name="trigger_firing_once"
            )
        ]
        indexes = [
            # The sweep: pending firings by due time.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="pending"),
                name="trigger_firing_due",
            ),
            # The run log, newest first, and the rate guard (a rule's recent firings for one
            # contact).
            models.Index(fields=["rule", "-id"], name="trigger_firing_log"),
            models.Index(fields=["contact", "rule", "-created_at"], name="trigger_firing_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.contact_id} {self.occurrence}"


class NextBestOffer(models.Model):
    """A product ``contact`` has not bought that customers who bought ``basis`` also bought:
    ``confidence`` = share of ``basis`` buyers who bought ``product``; ``lift`` = that share
    over the share of all buyers who bought ``product``."""

    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    product = models.ForeignKey("sales.Product", on_delete=models.CASCADE, related_name="+")
    basis = models.ForeignKey("sales.Product", on_delete=models.CASCADE, related_name="+")
    confidence = models.FloatField()
    lift = models.FloatField()
    basis_buyers = models.PositiveIntegerField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "rank"], name="next_best_offer_rank")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.product_id}"
