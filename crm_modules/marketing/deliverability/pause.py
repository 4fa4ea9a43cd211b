"""The bulk-sending pause (ADR 0043). The large mailbox providers' bulk-sender rules ask for a
spam-complaint rate under 0.1 % (never reaching 0.3 %) and a bounce rate under a few percent.
A workspace that passes either, over at least ``MARKETING_PAUSE_MIN_SENT`` campaign messages
in the last ``MARKETING_PAUSE_WINDOW_DAYS`` days (and since the last resume), stops bulk
sending until an admin has read why and resumes it. Transactional and one-to-one mail go on.
"""

from __future__ import annotations

import datetime
import functools
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.marketing.models import Campaign, CampaignRecipient
from crm_modules.marketing.models_deliverability import DeliverabilityState, MailEvent
from crm_modules.marketing.module import (
    BULK_SENDING_PAUSED,
    BULK_SENDING_RESUMED,
    MANAGE_DELIVERABILITY,
    WEBHOOK_SECRET_ROTATED,
)
from crm_modules.marketing.pressure import current_workspace
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

COMPLAINT_LIMIT = Decimal("0.001")
BOUNCE_LIMIT = Decimal("0.05")
BOUNCES = (MailEvent.Kind.HARD_BOUNCE, MailEvent.Kind.SOFT_BOUNCE)


def state() -> DeliverabilityState:
    found = DeliverabilityState.objects.filter(pk=1).first()
    if found is None:
        found, _created = DeliverabilityState.objects.get_or_create(
            pk=1, defaults={"webhook_secret": secrets.token_hex(32)}
        )
    if not found.webhook_secret:
        found.webhook_secret = secrets.token_hex(32)
        DeliverabilityState.objects.filter(pk=1, webhook_secret="").update(
            webhook_secret=found.webhook_secret
        )
        found.refresh_from_db()
    return found


def bulk_paused() -> bool:
    return DeliverabilityState.objects.filter(pk=1, paused_at__isnull=False).exists()


@dataclass(frozen=True)
class Rates:
    since: datetime.datetime
    sent: int
    bounces: int
    complaints: int

    @property
    def bounce_rate(self) -> Decimal:
        return Decimal(self.bounces) / self.sent if self.sent else Decimal(0)

    @property
    def complaint_rate(self) -> Decimal:
        return Decimal(self.complaints) / self.sent if self.sent else Decimal(0)


def rates(now: datetime.datetime | None = None) -> Rates:
    now = now or timezone.now()
    since = now - datetime.timedelta(days=settings.MARKETING_PAUSE_WINDOW_DAYS)
    resumed = DeliverabilityState.objects.filter(pk=1).values_list("resumed_at", flat=True).first()
    if resumed is not None and resumed > since:
        since = resumed
    events = MailEvent.objects.filter(outcome=MailEvent.Outcome.APPLIED, received_at__gte=since)
    return Rates(
        since=since,
        sent=CampaignRecipient.objects.filter(sent_at__gte=since).count(),
        bounces=events.filter(kind__in=BOUNCES).count(),
        complaints=events.filter(kind=MailEvent.Kind.COMPLAINT).count(),
    )


def pause_if_needed(now: datetime.datetime | None = None) -> bool:
    """Pause bulk sending when a rate passes its limit; True when this call paused it."""
    figures = rates(now)
    if figures.sent < settings.MARKETING_PAUSE_MIN_SENT:
        return False
    reason = ""
    if figures.complaint_rate > COMPLAINT_LIMIT:
        reason = "complaint_rate"
    elif figures.bounce_rate > BOUNCE_LIMIT:
        reason = "bounce_rate"
    if not reason:
        return False
    state()
    with transaction.atomic():
        paused = DeliverabilityState.objects.filter(pk=1, paused_at__isnull=True).update(
            paused_at=now or timezone.now(),
            pause_reason=reason,
            pause_figures={
                "sent": figures.sent,
                "bounces": figures.bounces,
                "complaints": figures.complaints,
                "since": figures.since.isoformat(),
            },
        )
        if paused:
            audit_record(
                tenant=current_workspace(),
                actor=None,
                action=BULK_SENDING_PAUSED,
                target_repr=reason,
                data={
                    "sent": figures.sent,
                    "bounces": figures.bounces,
                    "complaints": figures.complaints,
                },
            )
    return bool(paused)


def pause_explanation(row: DeliverabilityState) -> str:
    figures = row.pause_figures or {}
    sent = int(figures.get("sent", 0)) or 1
    if row.pause_reason == "complaint_rate":
        return _(
            "%(count)d of %(sent)d campaign messages were reported as spam (%(rate)s %%); the "
            "large mailbox providers start rejecting bulk mail above 0.1 %%. Bulk sending is "
            "paused: clean the segments (send only to people who asked), then resume."
        ) % {
            "count": figures.get("complaints", 0),
            "sent": sent,
            "rate": f"{100 * int(figures.get('complaints', 0)) / sent:.2f}",
        }
    return _(
        "%(count)d of %(sent)d campaign messages bounced (%(rate)s %%); above 5 %% mailbox "
        "providers treat the sender as careless with its lists. Bulk sending is paused: remove "
        "old or bought addresses, then resume."
    ) % {
        "count": figures.get("bounces", 0),
        "sent": sent,
        "rate": f"{100 * int(figures.get('bounces', 0)) / sent:.2f}",
    }


def bulk_sending_resume(*, actor: Membership, understood: bool) -> DeliverabilityState:
    """An admin who has read the explanation lets campaigns go on; the rates count afresh
    from now."""
    require(actor, MANAGE_DELIVERABILITY)
    if not understood:
        raise ServiceError(
            _("Tick the box to confirm you have read why sending was paused."),
            field="understood",
        )
    from crm_modules.marketing.campaigns.tasks import campaign_send

    with transaction.atomic():
        row = DeliverabilityState.objects.select_for_update().get(pk=state().pk)
        if row.paused_at is None:
            raise ServiceError(_("Bulk sending is not paused."), field="__all__")
        reason = row.pause_reason
        row.paused_at = None
        row.pause_reason = ""
        row.resumed_at = timezone.now()
        row.resumed_by = actor.user
        row.save(update_fields=["paused_at", "pause_reason", "resumed_at", "resumed_by"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=BULK_SENDING_RESUMED,
            target_repr=reason,
            data={"reason": reason},
        )
        waiting = list(
            Campaign.objects.filter(
                status__in=[Campaign.Status.SENDING, Campaign.Status.TESTING]
            ).values_list("pk", flat=True)
        )
        for campaign_id in waiting:
            transaction.on_commit(functools.partial(campaign_send.delay, campaign_id))
    return row


def webhook_secret_rotate(*, actor: Membership) -> DeliverabilityState:
    require(actor, MANAGE_DELIVERABILITY)
    state()
    with transaction.atomic():
        row = DeliverabilityState.objects.select_for_update().get(pk=1)
        row.webhook_secret = secrets.token_hex(32)
        row.save(update_fields=["webhook_secret"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=WEBHOOK_SECRET_ROTATED,
            target_repr="webhook",
        )
    return row
