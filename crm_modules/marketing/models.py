"""Segments: a saved filter over contacts (dynamic) or a hand-kept list (static); email
campaigns; the contact pressure rule's settings, ledger, suppression list, topics and opt-in
requests."""

import datetime

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_modules.marketing import models_deliverability  # noqa: F401  (ADR 0043)
from crm_modules.marketing.models_capture import (  # noqa: F401  (their home is the app's models)
    AttributionCredit,
    CampaignCost,
    ConsentRequest,
    Form,
    FormSubmission,
    Touchpoint,
)
from crm_modules.marketing.models_sequences import Enrolment, Sequence, SequenceStep, StepRun  # noqa: F401
from crm_modules.marketing.models_triggers import NextBestOffer, TriggerFiring, TriggerRule  # noqa: F401
from crm_platform.fields import user_reference


class Segment(models.Model):
    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic")
        STATIC = "static", _("Static list")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Validated by crm_modules.marketing.segments.check_definition before it is stored.
    definition = models.JSONField(_("filter"), default=dict, blank=True)
    created_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A contact put on a static list by hand."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="segment_member_once")
        ]
        # Members newest-contact first by keyset on (segment, contact_id).
        indexes = [models.Index(fields=["segment", "-contact"], name="segment_member_page")]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.contact_id}"


class Campaign(models.Model):
    """An email to a segment: its content lives in one or more variants (A/B/C)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        QUEUING = "queuing", _("Queuing recipients")
        TESTING = "testing", _("A/B test running")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        CANCELED = "canceled", _("Canceled")

    name = models.CharField(_("name"), max_length=200)
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    from_name = models.CharField(_("from name"), max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # When to send; with ``local_time`` the same wall-clock time in each recipient's zone.
    send_at = models.DateTimeField(null=True, blank=True)
    local_time = models.BooleanField(default=False)
    # A/B test: the share of recipients that get the test, the least of them per variant
    # before a winner may be picked, and how long to wait after the test group was sent.
    ab_fraction = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    ab_min_sample = models.PositiveIntegerField(default=100)
    ab_wait_minutes = models.PositiveIntegerField(default=240)
    ab_metric = models.CharField(max_length=10, default="opens")
    winner = models.ForeignKey(
        "CampaignVariant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The member whose view of the contacts the send takes (their scope of the segment).
    sent_by = user_reference()
    created_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    queued_at = models.DateTimeField(null=True, blank=True)
    test_sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set while the plan leaves marketing out and the campaign waits for it (ADR 0081): shown
    # "Held by the plan"; cleared when the campaign resumes.
    held_by_plan_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        indexes = [models.Index(fields=["status", "send_at"], name="campaign_due")]

    def __str__(self) -> str:
        return self.name


class CampaignVariant(models.Model):
    """One version of a campaign's message. A campaign without an A/B test has one, "A"."""

    class Mode(models.TextChoices):
        BLOCKS = "blocks", _("Block editor")
        HTML = "html", _("HTML")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    letter = models.CharField(max_length=1)
    subject = models.CharField(_("subject"), max_length=200)
    preheader = models.CharField(_("preheader"), max_length=200, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.BLOCKS)
    # Validated by crm_modules.marketing.campaigns.content.check_blocks.
    blocks = models.JSONField(default=list, blank=True)
    html = models.TextField(blank=True)
    # The links of the content, in order: a click token names an index here, never a URL.
    links = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "letter"], name="campaign_variant_once")
        ]
        ordering = ("letter",)

    def __str__(self) -> str:
        return f"{self.campaign_id}{self.letter}"


class CampaignRecipient(models.Model):
    """One contact of a campaign, made when the campaign is queued (a snapshot of the segment);
    sent exactly once: queued → sending → sent (or skipped / failed / held for the A/B winner).
    """

    class Status(models.TextChoices):
        HELD = "held", _("Waiting for the A/B winner")
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(
        CampaignVariant, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    email = models.CharField(max_length=254)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=40, blank=True)
    send_after = models.DateTimeField(default=timezone.now)
    # While 'sending', the claim holds until then; a worker killed mid-send leaves it to expire.
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_recipient_once")
        ]
        indexes = [
            # The sender's claim: the due rows of a campaign in a status, the longest due first
            # (the claim orders by send_after, id: this index's order, so it reads no more).
            models.Index(
                fields=["campaign", "status", "send_after", "id"], name="campaign_recipient_due"
            ),
            models.Index(fields=["campaign", "-id"], name="campaign_recipient_page"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.email}"


class CampaignEvent(models.Model):
    """What happened to one message: delivered, opened, clicked, bounced, unsubscribed,
    complained. Append-only; partitioned by time at scale (ADR 0034)."""

    class Kind(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        BOUNCED = "bounced", _("Bounced")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        COMPLAINED = "complained", _("Complained")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(CampaignRecipient, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    url = models.CharField(max_length=2000, blank=True)
    # A click that a link scanner (a mail gateway fetching every link) most likely made.
    filtered = models.BooleanField(default=False)
    filter_reason = models.CharField(max_length=40, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "kind", "occurred_at"], name="campaign_event_kind"),
            models.Index(fields=["recipient", "kind"], name="campaign_event_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.kind}"


# Contact pressure (ADR 0033): the workspace's rules, the ledger of every message that reached
# a contact, the suppression list, topics and the double opt-in requests.


class PressureSettings(models.Model):
    """The workspace's contact rules: one row (id 1), created with its defaults when first read."""

    class Scope(models.TextChoices):
        OVERALL = "overall", _("All channels together")
        CHANNEL = "channel", _("Each channel on its own")

    cap_messages = models.PositiveSmallIntegerField(_("messages"), default=4)
    cap_days = models.PositiveSmallIntegerField(_("days"), default=7)
    cap_scope = models.CharField(
        _("counted over"), max_length=10, choices=Scope.choices, default=Scope.OVERALL
    )
    # Local time of the recipient; equal start and end turn quiet hours off.
    quiet_start = models.TimeField(_("quiet from"), default=datetime.time(21, 0))
    quiet_end = models.TimeField(_("quiet until"), default=datetime.time(8, 0))
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("contact rules")
        verbose_name_plural = _("contact rules")

    def __str__(self) -> str:
        return f"{self.cap_messages}/{self.cap_days}d"


class ContactTouch(models.Model):
    """One message that reached a contact, from any module: the ledger the cap counts.

    Append-only and the largest table of a workspace (hundreds of millions of rows): the cap
    reads one contact's recent rows through (contact, at); reports and retention scan by time
    through a BRIN index, a few pages per million rows since rows arrive in time order."""

    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(
        "sales.Contact", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=10)
    purpose = models.CharField(max_length=16)
    # What sent it: "campaign:12", "sequence:3", "service.reply:881".
    source = models.CharField(max_length=100)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["contact", "-at"], name="touch_contact_at"),
            BrinIndex(fields=["at"], name="touch_at_brin", autosummarize=True),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel} {self.at:%Y-%m-%d %H:%M}"


class Suppression(models.Model):
    """An address no marketing goes to (a hard bounce: nothing at all)."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        COMPLAINT = "complaint", _("Spam complaint")
        MANUAL = "manual", _("Added by hand")
        # Bounced twice without a permanent failure: no marketing, transactional still goes.
        SOFT_BOUNCE = "soft_bounce", _("Repeated soft bounce")

    channel = models.CharField(_("channel"), max_length=10)
    # Lower-cased email, or a phone number as stored on the contact.
    address = models.CharField(_("address"), max_length=254)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = user_reference()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="suppression_once")
        ]
        indexes = [models.Index(fields=["-created_at", "-id"], name="suppression_recent")]

    def __str__(self) -> str:
        return f"{self.channel}: {self.address}"


class Topic(models.Model):
    """A kind of marketing message a contact can opt out of alone (newsletter, events)."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class TopicOptOut(models.Model):
    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "topic"], name="topic_opt_out_once")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.topic_id}"


class OptInRequest(models.Model):
    """A sign-up waiting for its confirmation link (double opt-in), kept as proof."""

    contact = models.ForeignKey("sales.Contact", on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    created_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The abuse limit counts one address's recent sign-ups.
        indexes = [models.Index(fields=["email", "-created_at"], name="opt_in_email_recent")]

    def __str__(self) -> str:
        return self.email
