"""Writes of campaigns: create and edit a draft (its variants validated), test-send it to the
editor, send or schedule it, cancel it. The sending itself is in ``sending.py``."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.campaigns import content
from crm_modules.marketing.models import Campaign, CampaignVariant, Segment
from crm_modules.marketing.module import (
    CAMPAIGN_CANCELED,
    CAMPAIGN_CREATED,
    CAMPAIGN_SENT,
    CAMPAIGN_TEST_SENT,
    CAMPAIGN_UPDATED,
    CAMPAIGNS_TOPIC,
    MANAGE_CAMPAIGNS,
    SEND_CAMPAIGNS,
)
from crm_modules.marketing.selectors import segment_list
from crm_modules.sales.api import Contact
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants import live
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

LETTERS = "ABC"
AB_METRICS = ("opens", "clicks")


@dataclass(frozen=True)
class VariantDraft:
    subject: str
    preheader: str = ""
    mode: str = CampaignVariant.Mode.BLOCKS
    blocks: Any = None
    html: str = ""


@dataclass(frozen=True)
class CampaignDraft:
    name: str
    segment_id: int | None
    variants: list[VariantDraft]
    from_name: str = ""
    ab_fraction: Any = 0
    ab_min_sample: int = 100
    ab_wait_minutes: int = 240
    ab_metric: str = "opens"


def _check_variant(draft: VariantDraft, *, prefix: str) -> dict[str, Any]:
    subject = check_text(
        draft.subject, field=f"{prefix}subject", max_length=200, label=_("Subject")
    )
    content.placeholders_check(subject, field=f"{prefix}subject")
    preheader = (draft.preheader or "").strip()
    if len(preheader) > 200:
        raise ServiceError(
            _("At most %(max)d characters.") % {"max": 200}, field=f"{prefix}preheader"
        )
    content.placeholders_check(preheader, field=f"{prefix}preheader")
    values: dict[str, Any] = {"subject": subject, "preheader": preheader, "mode": draft.mode}
    try:
        if draft.mode == CampaignVariant.Mode.BLOCKS:
            values["blocks"] = content.check_blocks(draft.blocks)
            values["html"] = ""
        elif draft.mode == CampaignVariant.Mode.HTML:
            values["html"] = content.check_html(draft.html)
            values["blocks"] = []
        else:
            raise ServiceError(_("Choose the block editor or HTML."), field="mode")
    except ServiceError as exc:
        raise ServiceError(exc.message, field=f"{prefix}{exc.field}") from None
    built = content.build(
        subject=subject,
        preheader=preheader,
        mode=values["mode"],
        blocks=values["blocks"],
        html=values["html"],
    )
    values["links"] = built.links
    return values


def campaign_check(*, actor: Membership, draft: CampaignDraft) -> dict[str, Any]:
    """Validate a campaign and its variants; returns what to store."""
    name = check_text(draft.name, field="name", max_length=200, label=_("Name"))
    segment: Segment | None = None
    if draft.segment_id is not None:
        segment = segment_list(actor=actor).filter(pk=draft.segment_id).first()
        if segment is None:
            raise ServiceError(_("No segment with this id."), field="segment")
    from_name = (draft.from_name or "").strip()
    if len(from_name) > 100 or any(ch in from_name for ch in '\r\n<>"@'):
        raise ServiceError(
            _("Give a plain sender name of at most 100 characters."), field="from_name"
        )
    if not 1 <= len(draft.variants) <= len(LETTERS):
        raise ServiceError(_("Give one to three variants."), field="variants")
    variants = [
        _check_variant(v, prefix="" if len(draft.variants) == 1 else f"variants[{i}].")
        for i, v in enumerate(draft.variants)
    ]
    try:
        fraction = Decimal(str(draft.ab_fraction or 0))
    except InvalidOperation:
        raise ServiceError(
            _("Give the test share as a number from 0.05 to 1."), field="ab_fraction"
        ) from None
    if len(variants) > 1 and not Decimal("0.05") <= fraction <= Decimal("1"):
        raise ServiceError(
            _("An A/B test needs a test share from 0.05 to 1 (all recipients)."),
            field="ab_fraction",
        )
    if len(variants) == 1:
        fraction = Decimal(0)
    if not 10 <= int(draft.ab_min_sample) <= 1_000_000:
        raise ServiceError(_("Give a minimum sample from 10 to 1000000."), field="ab_min_sample")
    if not 0 <= int(draft.ab_wait_minutes) <= 7 * 24 * 60:
        raise ServiceError(_("Wait from 0 minutes to 7 days."), field="ab_wait_minutes")
    if draft.ab_metric not in AB_METRICS:
        raise ServiceError(_("Pick the winner by opens or clicks."), field="ab_metric")
    return {
        "name": name,
        "segment": segment,
        "from_name": from_name,
        "ab_fraction": fraction.quantize(Decimal("0.01")),
        "ab_min_sample": int(draft.ab_min_sample),
        "ab_wait_minutes": int(draft.ab_wait_minutes),
        "ab_metric": draft.ab_metric,
        "variants": variants,
    }


def _store_variants(campaign: Campaign, variants: list[dict[str, Any]]) -> None:
    CampaignVariant.objects.filter(campaign=campaign).delete()
    CampaignVariant.objects.bulk_create(
        CampaignVariant(campaign=campaign, letter=LETTERS[i], **values)
        for i, values in enumerate(variants)
    )


def _announce(actor: Membership, campaign: Campaign) -> None:
    live.publish(
        tenant=actor.tenant,
        topic=CAMPAIGNS_TOPIC,
        event="campaign.updated",
        payload={"campaign": campaign.pk, "status": campaign.status},
    )


def campaign_create(*, actor: Membership, draft: CampaignDraft) -> Campaign:
    require(actor, MANAGE_CAMPAIGNS)
    values = campaign_check(actor=actor, draft=draft)
    variants = values.pop("variants")
    with transaction.atomic():
        campaign = Campaign.objects.create(created_by=actor.user, **values)
        _store_variants(campaign, variants)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CAMPAIGN_CREATED,
            target=campaign,
            target_repr=campaign.name,
            data={"variants": len(variants)},
        )
    return campaign


def campaign_update(*, actor: Membership, campaign: Campaign, draft: CampaignDraft) -> Campaign:
    require(actor, MANAGE_CAMPAIGNS)
    values = campaign_check(actor=actor, draft=draft)
    variants = values.pop("variants")
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != Campaign.Status.DRAFT:
            raise ServiceError(_("Only a draft can be changed."), field="status")
        for name, value in values.items():
            setattr(locked, name, value)
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*values, "updated_at"])
        _store_variants(locked, variants)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CAMPAIGN_UPDATED,
            target=locked,
            target_repr=locked.name,
            data={"variants": len(variants)},
        )
    return locked


def from_address(campaign: Campaign) -> str:
    default = str(settings.DEFAULT_FROM_EMAIL)
    if not campaign.from_name:
        return default
    address = default.rsplit("<", 1)[-1].rstrip(">").strip()
    return f"{campaign.from_name} <{address}>"


def campaign_test_send(
    *, actor: Membership, campaign: Campaign, contact: Contact | None = None
) -> int:
    """Every variant, rendered as ``contact`` (default: the editor's own name), to the editor's
    own address only; links are not tracked and nothing is counted. Returns messages sent."""
    require(actor, MANAGE_CAMPAIGNS)
    user = actor.user
    if contact is not None:
        values = content.contact_values(contact)
    else:
        first, _sep, last = (user.full_name or "").partition(" ")
        values = {
            "first_name": first,
            "last_name": last,
            "full_name": user.full_name or "",
            "email": user.email,
        }
    variants = list(CampaignVariant.objects.filter(campaign=campaign).order_by("letter"))
    with transaction.atomic():
        for variant in variants:
            built = content.build(
                subject=variant.subject,
                preheader=variant.preheader,
                mode=variant.mode,
                blocks=variant.blocks,
                html=variant.html,
            )
            rendered = content.render(built, values, link_url=built.links.__getitem__)
            label = f" [{variant.letter}]" if len(variants) > 1 else ""
            message = EmailMultiAlternatives(
                subject=_("[Test]") + label + " " + rendered.subject,
                body=rendered.text,
                from_email=from_address(campaign),
                to=[user.email],
            )
            message.attach_alternative(rendered.html, "text/html")
            # The product's mail backend queues it after commit (crm_platform.mail).
            message.send()
        Campaign.objects.filter(pk=campaign.pk).update(test_sent_at=timezone.now())
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CAMPAIGN_TEST_SENT,
            target=campaign,
            target_repr=campaign.name,
            data={"to": user.email, "variants": len(variants)},
        )
    return len(variants)


def campaign_send(
    *,
    actor: Membership,
    campaign: Campaign,
    send_at: datetime.datetime | None = None,
    local_time: bool = False,
) -> Campaign:
    """Send now, or schedule for ``send_at`` (with ``local_time``: that wall-clock time in each
    recipient's own time zone). The recipients are queued by a task after commit."""
    require(actor, SEND_CAMPAIGNS)
    now = timezone.now()
    if send_at is not None and timezone.is_naive(send_at):
        raise ServiceError(_("Give the time with its time zone."), field="send_at")
    if send_at is not None and send_at < now - datetime.timedelta(minutes=1) and not local_time:
        raise ServiceError(_("The time to send is in the past."), field="send_at")
    if local_time and send_at is None:
        raise ServiceError(
            _("Give the time to send in each recipient's time zone."), field="send_at"
        )
    from crm_modules.marketing.campaigns import tasks

    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != Campaign.Status.DRAFT:
            raise ServiceError(_("This campaign was already sent or scheduled."), field="status")
        if locked.segment_id is None:
            raise ServiceError(_("Choose a segment to send to."), field="segment")
        locked.status = Campaign.Status.SCHEDULED
        locked.send_at = send_time = send_at or now
        locked.local_time = local_time
        locked.sent_by = actor.user
        locked.updated_at = now
        locked.save(update_fields=["status", "send_at", "local_time", "sent_by", "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CAMPAIGN_SENT,
            target=locked,
            target_repr=locked.name,
            data={"send_at": locked.send_at.isoformat(), "local_time": local_time},
        )
        _announce(actor, locked)
        campaign_id = locked.pk
        # Local-time sends are queued now: each recipient's row carries their own moment.
        if local_time or locked.send_at <= now + datetime.timedelta(seconds=5):
            transaction.on_commit(lambda: tasks.campaign_queue.delay(campaign_id))
        else:
            transaction.on_commit(
                lambda: tasks.campaign_queue.apply_async((campaign_id,), eta=send_time)
            )
    return locked


def campaign_cancel(*, actor: Membership, campaign: Campaign) -> Campaign:
    """Stop a scheduled or sending campaign: rows not yet claimed are skipped."""
    require(actor, SEND_CAMPAIGNS)
    from crm_modules.marketing.models import CampaignRecipient

    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status in (Campaign.Status.SENT, Campaign.Status.CANCELED, Campaign.Status.DRAFT):
            raise ServiceError(
                _("Only a scheduled or sending campaign can be canceled."), field="status"
            )
        locked.status = Campaign.Status.CANCELED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        CampaignRecipient.objects.filter(
            campaign=locked,
            status__in=[CampaignRecipient.Status.QUEUED, CampaignRecipient.Status.HELD],
        ).update(status=CampaignRecipient.Status.SKIPPED, reason="canceled")
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CAMPAIGN_CANCELED,
            target=locked,
            target_repr=locked.name,
            data={},
        )
        _announce(actor, locked)
    return locked
