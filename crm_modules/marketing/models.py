"""Segments: a saved filter over contacts (dynamic) or a hand-kept list (static); the contact
pressure rule's settings, ledger, suppression list, topics and opt-in requests."""

import datetime

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
