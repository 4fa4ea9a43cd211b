"""What happens to a sent message: opens, clicks (link scanners filtered), bounces,
unsubscribes and complaints; each recorded once per recipient on the row (the report counts
rows), every occurrence in the event table, and the first of each kind on the contact's
timeline through the activities facade."""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.db import connection
from django.utils import timezone

from crm_modules.activities.api import activity_log
from crm_modules.marketing.models import Campaign, CampaignEvent, CampaignRecipient
from crm_modules.marketing.module import CAMPAIGN_EMAIL, CAMPAIGNS_TOPIC
from tenants import live

Kind = CampaignEvent.Kind

# The row column that holds the first moment of each kind.
FIRST_AT: dict[str, str] = {
    Kind.OPENED: "opened_at",
    Kind.CLICKED: "clicked_at",
    Kind.BOUNCED: "bounced_at",
    Kind.UNSUBSCRIBED: "unsubscribed_at",
    Kind.COMPLAINED: "complained_at",
}

# Mail gateways that fetch every link of an incoming message to check it.
SCANNER_AGENTS = re.compile(
    r"barracuda|proofpoint|mimecast|safelinks|urldefense|symantec|forcepoint|trendmicro|"
    r"sophos|fortiguard|cisco|ironport|msiemailsecurity|googleimageproxy-no|bot\b|crawler|"
    r"spider|python-requests|curl/|wget/|go-http-client|headlesschrome",
    re.IGNORECASE,
)


def scanner_reason(
    *, method: str, user_agent: str, sent_at: datetime.datetime | None, now: datetime.datetime
) -> str:
    """Why a click looks like a link scanner's rather than a person's ("" if it does not)."""
    if method == "HEAD":
        return "head_request"
    if not user_agent.strip():
        return "no_user_agent"
    if SCANNER_AGENTS.search(user_agent):
        return "scanner_agent"
    window = datetime.timedelta(seconds=settings.MARKETING_SCANNER_SECONDS)
    if sent_at is not None and now - sent_at < window:
        return "too_soon"
    return ""


def recipient_event(
    *,
    recipient: CampaignRecipient,
    kind: str,
    url: str = "",
    user_agent: str = "",
    filter_reason: str = "",
    at: datetime.datetime | None = None,
) -> bool:
    """Record one event; returns True when it was the recipient's first of its kind (and so
    counted and put on the timeline). A filtered click is stored but counts for nothing."""
    now = at or timezone.now()
    CampaignEvent.objects.create(
        campaign_id=recipient.campaign_id,
        recipient=recipient,
        kind=kind,
        occurred_at=now,
        url=url[:2000],
        filtered=bool(filter_reason),
        filter_reason=filter_reason,
        user_agent=user_agent[:300],
    )
    if filter_reason or kind not in FIRST_AT:
        return False
    column = FIRST_AT[kind]
    # Conditional update: two simultaneous opens cannot both be the first.
    first = bool(
        CampaignRecipient.objects.filter(pk=recipient.pk, **{f"{column}__isnull": True}).update(
            **{column: now}
        )
    )
    # A click proves an open, even when the pixel was blocked.
    if kind == Kind.CLICKED and CampaignRecipient.objects.filter(
        pk=recipient.pk, opened_at__isnull=True
    ).update(opened_at=now):
        _timeline(recipient, Kind.OPENED, now)
    if first:
        _timeline(recipient, kind, now, url=url)
        _announce(recipient.campaign_id)
    return first


def _timeline(
    recipient: CampaignRecipient, kind: str, when: datetime.datetime, url: str = ""
) -> None:
    name = Campaign.objects.filter(pk=recipient.campaign_id).values_list("name", flat=True).first()
    activity_log(
        kind=CAMPAIGN_EMAIL.code,
        author=None,
        concerns=[("sales.contact", recipient.contact_id)],
        subject=(name or "")[:200],
        body=url,
        channel="email",
        direction="outbound",
        outcome=kind,
        occurred_at=when,
        data={"campaign": recipient.campaign_id, "event": kind},
    )


def _announce(campaign_id: int) -> None:
    tenant = getattr(connection, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return
    live.publish(
        tenant=tenant,
        topic=CAMPAIGNS_TOPIC,
        event="campaign.updated",
        payload={"campaign": campaign_id},
    )
