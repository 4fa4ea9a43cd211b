"""Deliverability (ADR 0043): the workspace's sender domains with their DKIM keys and DNS
checks, the bounce and complaint events its webhooks received, the bulk-sending pause, and the
double opt-in mails that forms send."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class SenderDomain(models.Model):
    """A domain the workspace sends campaigns from. Campaign mail is signed with its DKIM key
    once the DNS check found SPF, DKIM and DMARC records in place."""

    domain = models.CharField(_("domain"), max_length=253, unique=True)
    # The address campaigns go out from: <local_part>@<domain>.
    local_part = models.CharField(_("sender name before @"), max_length=64, default="news")
    dkim_selector = models.CharField(max_length=63)
    # PEM (PKCS#8) private key; only the sending code reads it.
    dkim_private_key = models.TextField()
    # Base64 of the DER public key, as published in the DKIM TXT record.
    dkim_public_key = models.TextField()
    spf_ok = models.BooleanField(default=False)
    dkim_ok = models.BooleanField(default=False)
    dmarc_ok = models.BooleanField(default=False)
    # What the last check found for each record (shown on the check page).
    check_report = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("sender domain")
        verbose_name_plural = _("sender domains")
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


class DeliverabilityState(models.Model):
    """One row per workspace (pk=1): the webhook secret and whether bulk sending is paused."""

    webhook_secret = models.CharField(max_length=64, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # "complaint_rate" or "bounce_rate", and the figures that tripped it.
    pause_reason = models.CharField(max_length=20, blank=True)
    pause_figures = models.JSONField(default=dict, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = user_reference()

    def __str__(self) -> str:
        return "paused" if self.paused_at else "sending"


class MailEvent(models.Model):
    """A bounce or complaint a provider reported, stored once per provider event id."""

    class Kind(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        SOFT_BOUNCE = "soft_bounce", _("Soft bounce")
        COMPLAINT = "complaint", _("Complaint")

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("Applied")
        IGNORED = "ignored", _("Ignored: unknown message")

    event_id = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=10)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    email = models.CharField(max_length=254)
    message_id = models.CharField(max_length=300, blank=True)
    recipient = models.ForeignKey(
        "marketing.CampaignRecipient", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "received_at"], name="mail_event_kind_recent"),
            models.Index(fields=["email", "kind"], name="mail_event_address"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.email}"


class ConsentMail(models.Model):
    """A double opt-in confirmation mail sent for a form's consent request, and the proof of
    its confirmation (when, from where)."""

    request = models.ForeignKey(
        "marketing.ConsentRequest", on_delete=models.CASCADE, related_name="mails"
    )
    email = models.CharField(max_length=254)
    sent_at = models.DateTimeField(default=timezone.now)
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_ip = models.GenericIPAddressField(null=True, blank=True)
    confirmed_user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        # The abuse limit counts one address's recent mails.
        indexes = [models.Index(fields=["email", "-sent_at"], name="consent_mail_recent")]

    def __str__(self) -> str:
        return self.email
