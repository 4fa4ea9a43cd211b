"""Lead capture and attribution: forms, what visitors sent, the touchpoints that brought them,
consents waiting for confirmation, campaign costs and the revenue credited to campaigns."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_platform.fields import user_reference


class Form(models.Model):
    name = models.CharField(_("name"), max_length=200)
    # The id in the hosted page's URL and the embed snippet; not guessable from another form's.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    topic = models.CharField(_("topic"), max_length=100, blank=True)
    # Validated by crm_modules.marketing.capture.check_fields: [{"key", "label", "target",
    # "required"}]; a target is a lead/contact field or "custom.<code>".
    fields = models.JSONField(default=list)
    consent_channels = models.JSONField(default=list, blank=True)
    # The member leads from this form are given to; they create them (sales.create_records).
    lead_owner = user_reference(verbose_name=_("lead owner"))
    success_message = models.CharField(_("thank-you message"), max_length=500, blank=True)
    # Sites allowed to embed the form ("https://example.com"); empty: any site.
    allowed_origins = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    submissions_count = models.PositiveIntegerField(default=0, editable=False)
    spam_count = models.PositiveIntegerField(default=0, editable=False)
    created_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("form")
        verbose_name_plural = _("forms")

    def __str__(self) -> str:
        return self.name


class FormSubmission(models.Model):
    class Outcome(models.TextChoices):
        LEAD_CREATED = "lead_created", _("Lead created")
        CONTACT_UPDATED = "contact_updated", _("Contact updated")

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="submissions")
    submitted_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    lead = models.ForeignKey("sales.Lead", on_delete=models.SET_NULL, null=True, related_name="+")
    contact = models.ForeignKey(
        "sales.Contact", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    data = models.JSONField(default=dict)
    touch = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["form", "-id"], name="form_submission_page")]

    def __str__(self) -> str:
        return f"{self.form_id}: {self.pk}"


class Touchpoint(models.Model):
    """One moment a person met marketing: a form fill (campaign clicks join later)."""

    class Kind(models.TextChoices):
        FORM_FILL = "form_fill", _("Form filled")
        CAMPAIGN_CLICK = "campaign_click", _("Campaign link clicked")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    contact = models.ForeignKey(
        "sales.Contact", on_delete=models.CASCADE, null=True, related_name="+"
    )
    lead = models.ForeignKey("sales.Lead", on_delete=models.CASCADE, null=True, related_name="+")
    form = models.ForeignKey(Form, on_delete=models.SET_NULL, null=True, related_name="+")
    utm_source = models.CharField(max_length=150, blank=True)
    utm_medium = models.CharField(max_length=150, blank=True)
    utm_campaign = models.CharField(max_length=150, blank=True)
    utm_term = models.CharField(max_length=150, blank=True)
    utm_content = models.CharField(max_length=150, blank=True)
    referrer = models.CharField(max_length=500, blank=True)
    landing_page = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "occurred_at"], name="touch_contact"),
            models.Index(fields=["lead", "occurred_at"], name="touch_lead"),
            models.Index(fields=["utm_campaign", "occurred_at"], name="touch_campaign"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.utm_campaign}"


class ConsentRequest(models.Model):
    """Consent ticked on a form, waiting for the double opt-in confirmation; the consent rule
    (pressure.py) turns it into the contact's consent once confirmed."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")

    submission = models.ForeignKey(
        FormSubmission, on_delete=models.CASCADE, related_name="consent_requests"
    )
    contact = models.ForeignKey(
        "sales.Contact", on_delete=models.CASCADE, null=True, related_name="+"
    )
    lead = models.ForeignKey("sales.Lead", on_delete=models.CASCADE, null=True, related_name="+")
    email = models.CharField(max_length=254)
    channel = models.CharField(max_length=10)
    topic = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["email", "status"], name="consent_request_email")]

    def __str__(self) -> str:
        return f"{self.email} {self.channel}: {self.status}"


class CampaignCost(models.Model):
    """What a campaign (by its utm_campaign value) cost, for ROI."""

    utm_campaign = models.CharField(_("campaign"), max_length=150, unique=True)
    amount = models.DecimalField(_("cost"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    updated_by = user_reference()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.utm_campaign}: {self.amount} {self.currency}"


class AttributionCredit(models.Model):
    """The share of a won deal's amount one model gives to one touchpoint's campaign, source
    and medium (crm_modules.marketing.attribution). Rebuilt from the touchpoints; one row a
    deal, model and touchpoint."""

    class Model(models.TextChoices):
        FIRST_TOUCH = "first_touch", _("First touch")
        LAST_TOUCH = "last_touch", _("Last touch")
        LINEAR = "linear", _("Linear")
        U_SHAPED = "u_shaped", _("U-shaped")

    deal = models.ForeignKey("sales.Deal", on_delete=models.CASCADE, related_name="+")
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(_("attribution model"), max_length=12, choices=Model.choices)
    utm_campaign = models.CharField(_("campaign"), max_length=150, blank=True)
    utm_source = models.CharField(_("source"), max_length=150, blank=True)
    utm_medium = models.CharField(_("medium"), max_length=150, blank=True)
    credit = models.DecimalField(_("credited revenue"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    won_at = models.DateTimeField(_("won"))
    # The deal's owner, so report scopes (own, team) apply as they do to deals.
    owner = user_reference(verbose_name=_("owner"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "model", "touchpoint"], name="attribution_credit_once"
            )
        ]
        indexes = [
            models.Index(fields=["model", "utm_campaign"], name="credit_campaign"),
            models.Index(fields=["model", "won_at"], name="credit_won"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.utm_campaign}: {self.credit}"
