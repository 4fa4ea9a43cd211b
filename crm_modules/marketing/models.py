"""Segments: a saved filter over contacts (dynamic) or a hand-kept list (static)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_modules.marketing.models_capture import (  # noqa: F401  (their home is the app's models)
    AttributionCredit,
    CampaignCost,
    ConsentRequest,
    Form,
    FormSubmission,
    Touchpoint,
)
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
