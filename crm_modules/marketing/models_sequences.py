"""Sequences (ADR 0041): ordered email and task steps, each after a delay and under an optional
condition, that a contact walks through one enrolment at a time until the last step or an exit
(a reply, a meeting, becoming a customer, a ticket, an unsubscribe)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class Sequence(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")

    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    from_name = models.CharField(_("from name"), max_length=100, blank=True)
    created_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")
        indexes = [models.Index(fields=["-created_at", "-id"], name="sequence_recent")]

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        TASK = "task", _("Task for the contact's owner")

    class DelayUnit(models.TextChoices):
        HOURS = "hours", _("hours")
        DAYS = "days", _("days")
        BUSINESS_DAYS = "business_days", _("business days")

    class Condition(models.TextChoices):
        ALWAYS = "always", _("Always")
        NOT_OPENED = "not_opened", _("Only if the previous email was not opened")
        NOT_CLICKED = "not_clicked", _("Only if the previous email was not clicked")
        LIFECYCLE_IS = "lifecycle_is", _("Only if the lifecycle stage is")

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    # 1, 2, 3 … in the order the contact gets them.
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Counted from the previous step (from the enrolment for the first one).
    delay_amount = models.PositiveIntegerField(_("delay"), default=1)
    delay_unit = models.CharField(
        _("delay unit"), max_length=15, choices=DelayUnit.choices, default=DelayUnit.DAYS
    )
    condition = models.CharField(
        _("condition"), max_length=15, choices=Condition.choices, default=Condition.ALWAYS
    )
    condition_value = models.CharField(_("condition value"), max_length=40, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    # Sanitised HTML with placeholders (crm_modules.marketing.campaigns.content.check_html).
    body = models.TextField(_("body"), blank=True)
    # The body's links in order: a click token names an index here, never a URL.
    links = models.JSONField(default=list, blank=True, editable=False)
    task_title = models.CharField(_("task title"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("sequence step")
        verbose_name_plural = _("sequence steps")
        ordering = ("position",)
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="sequence_step_position")
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id}#{self.position}"


class Enrolment(models.Model):
    """One contact walking through one sequence. ``due_at`` is when its next step is due; the
    sweep reads active enrolments by it (a partial index holds only active rows)."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        FINISHED = "finished", _("Finished")
        EXITED = "exited", _("Exited")

    class ExitReason(models.TextChoices):
        REPLIED = "replied", _("The contact replied")
        MEETING = "meeting", _("A meeting was logged or booked")
        CUSTOMER = "customer", _("The contact became a customer")
        TICKET = "ticket", _("The contact opened a ticket")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed, consent withdrawn or suppressed")
        REMOVED = "removed", _("Removed by a member")
        NO_EMAIL = "no_email", _("The contact has no email address")

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    exit_reason = models.CharField(max_length=15, choices=ExitReason.choices, blank=True)
    # The next step to run (a position); past the last one the enrolment finishes.
    next_position = models.PositiveSmallIntegerField(default=1)
    due_at = models.DateTimeField(null=True, blank=True)
    # A sweep that claimed this enrolment holds it until then.
    lease_until = models.DateTimeField(null=True, blank=True)
    # When the previous step ran (the enrolment, before the first): delays count from it.
    anchor_at = models.DateTimeField(default=timezone.now)
    enrolled_by = user_reference()
    enrolled_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        constraints = [
            # One enrolment at a time per contact and sequence; finished ones stay as history.
            models.UniqueConstraint(
                fields=["sequence", "contact"],
                condition=Q(state__in=["active", "paused"]),
                name="sequence_enrolment_once",
            )
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(state="active"), name="enrolment_due"),
            models.Index(fields=["sequence", "state"], name="enrolment_sequence_state"),
            models.Index(fields=["sequence", "-id"], name="enrolment_page"),
            models.Index(fields=["contact", "state"], name="enrolment_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id}: {self.contact_id}"


class StepRun(models.Model):
    """A step run for one enrolment: at most one row per (enrolment, step), made before the
    email goes or the task is created, so a step never runs twice."""

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        TASK = "task", _("Task created")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(SequenceStep, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=40, blank=True)
    at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "step"], name="sequence_step_run_once")
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}/{self.step_id} {self.status}"
