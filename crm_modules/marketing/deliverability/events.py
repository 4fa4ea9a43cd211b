"""Bounces and complaints, once each (by the provider's event id): the campaign recipient's
tracking (bounced, complained) and timeline, the suppression list (a hard bounce or a complaint
at once, soft bounces from the second), then the workspace's rates (ADR 0043). A report about
a message this workspace did not send is stored as ignored and changes nothing else."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from crm_modules.marketing.campaigns.events import recipient_event
from crm_modules.marketing.contact_rules import address_suppress
from crm_modules.marketing.deliverability.pause import pause_if_needed
from crm_modules.marketing.models import CampaignEvent, CampaignRecipient, Suppression
from crm_modules.marketing.models_deliverability import MailEvent

Kind = MailEvent.Kind
SOFT_BOUNCES_TO_SUPPRESS = 2
# Our campaign Message-IDs (campaigns.sending.message_id): <campaign.SCHEMA.ROW@domain>.
_MESSAGE_ID = re.compile(r"<?campaign\.([a-z0-9_]+)\.(\d{1,18})@[^>\s]+>?", re.IGNORECASE)


@dataclass(frozen=True)
class Report:
    """One provider report about one address."""

    event_id: str
    source: str
    kind: str
    email: str
    message_id: str
    detail: str = ""


def _recipient(message_id: str) -> CampaignRecipient | None:
    match = _MESSAGE_ID.fullmatch(message_id.strip())
    if match is None or match.group(1) != connection.schema_name:  # type: ignore[attr-defined]
        return None
    return CampaignRecipient.objects.filter(pk=int(match.group(2))).first()


def mail_event_apply(report: Report) -> str:
    """Apply one report; returns "applied", "ignored" or "duplicate"."""
    recipient = _recipient(report.message_id)
    email = report.email.strip().lower()[:254]
    if recipient is not None and recipient.email.strip().lower() != email:
        # The provider names another address than the one this message went to.
        recipient = None
    outcome = MailEvent.Outcome.APPLIED if recipient is not None else MailEvent.Outcome.IGNORED
    now = timezone.now()
    try:
        with transaction.atomic():
            MailEvent.objects.create(
                event_id=report.event_id[:200],
                source=report.source,
                kind=report.kind,
                email=email,
                message_id=report.message_id[:300],
                recipient=recipient,
                outcome=outcome,
                detail=report.detail[:300],
                received_at=now,
            )
            if recipient is not None:
                _apply(recipient, report.kind, now)
    except IntegrityError:
        return "duplicate"
    if recipient is not None:
        pause_if_needed(now)
    return str(outcome)


def _apply(recipient: CampaignRecipient, kind: str, now: object) -> None:
    event = CampaignEvent.Kind.COMPLAINED if kind == Kind.COMPLAINT else CampaignEvent.Kind.BOUNCED
    recipient_event(recipient=recipient, kind=event)
    address = recipient.email
    if kind == Kind.HARD_BOUNCE:
        address_suppress(
            channel="email",
            address=address,
            reason=Suppression.Reason.HARD_BOUNCE,
            note="hard bounce",
        )
    elif kind == Kind.COMPLAINT:
        address_suppress(
            channel="email", address=address, reason=Suppression.Reason.COMPLAINT, note="complaint"
        )
    else:
        soft = MailEvent.objects.filter(
            email=address.strip().lower(),
            kind=Kind.SOFT_BOUNCE,
            outcome=MailEvent.Outcome.APPLIED,
        ).count()
        if soft >= SOFT_BOUNCES_TO_SUPPRESS:
            address_suppress(
                channel="email",
                address=address,
                reason=Suppression.Reason.SOFT_BOUNCE,
                note=f"{soft} soft bounces",
            )
