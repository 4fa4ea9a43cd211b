"""Queueing and sending a campaign, exactly once per recipient (ADR 0034).

Queueing walks the segment by keyset (contact id) in batches and bulk-inserts one
``CampaignRecipient`` row per contact, each batch in its own transaction, so memory stays flat
at any segment size and a killed queue step resumes after the last contact it stored.

Sending claims due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and moves them
queued → sending (with a lease) in one committed statement, so concurrent workers never take
the same row. Each message goes through Django's email backend with its own Message-ID; the
moment the SMTP server accepts it the row becomes 'sent' (committed at once). A row left in
'sending' past its lease by a killed worker has no record of acceptance and is queued again.
"""

from __future__ import annotations

import datetime
import functools
import logging
import smtplib
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from crm_modules.activities.api import ActivityInput, activities_log_many
from crm_modules.marketing.campaigns import content, tokens
from crm_modules.marketing.campaigns.services import from_address
from crm_modules.marketing.deliverability.domains import sending_domain
from crm_modules.marketing.deliverability.pause import bulk_paused
from crm_modules.marketing.deliverability.signing import SignedEmail, Signer
from crm_modules.marketing.models import (
    Campaign,
    CampaignEvent,
    CampaignRecipient,
    CampaignVariant,
)
from crm_modules.marketing.module import CAMPAIGN_EMAIL, CAMPAIGNS_TOPIC
from crm_modules.marketing.offers import first_offers
from crm_modules.marketing.pressure import Purpose, may_contact_many, record_contact
from crm_modules.marketing.recipients import list_unsubscribe_headers
from crm_modules.marketing.selectors import segment_contacts
from crm_modules.sales.api import Contact
from tenants import live
from tenants.hosts import workspace_url
from tenants.models import Membership, Tenant

logger = logging.getLogger(__name__)

Status = CampaignRecipient.Status
QUEUE_BATCH = 5000
MAX_ATTEMPTS = 3
_TABLE = CampaignRecipient._meta.db_table


def _tenant() -> Tenant:
    tenant: Tenant = connection.tenant  # type: ignore[attr-defined]
    if not isinstance(tenant, Tenant):
        tenant = Tenant.objects.get(schema_name=tenant.schema_name)
    return tenant


# --- queueing ---------------------------------------------------------------------------------


def _bucket(contact_id: int, salt: int) -> int:
    """A stable pseudo-random number 0..9999 for a contact (Knuth's multiplicative hash), so a
    resumed queue step puts each contact in the same A/B group."""
    return ((contact_id * 2654435761 + salt * 40503) % 2**32) % 10000


def _send_after(
    campaign: Campaign, zone_name: str | None, workspace_zone: str, now: datetime.datetime
) -> datetime.datetime:
    send_at = campaign.send_at or now
    if not campaign.local_time:
        return send_at
    wall = send_at.astimezone(zoneinfo.ZoneInfo(workspace_zone)).replace(tzinfo=None)
    try:
        zone = zoneinfo.ZoneInfo(zone_name or workspace_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(workspace_zone)
    # Where that wall-clock time has already passed, the recipient gets it now.
    return max(wall.replace(tzinfo=zone), now)


def _contact_rows(actor: Membership, campaign: Campaign) -> Iterator[list[tuple[Any, ...]]]:
    """The segment's contacts in id order, a batch at a time (keyset, never all at once)."""
    if campaign.segment is None:
        return
    contacts = segment_contacts(actor=actor, segment=campaign.segment).order_by("pk")
    last = (
        CampaignRecipient.objects.filter(campaign=campaign)
        .order_by("-contact_id")
        .values_list("contact_id", flat=True)
        .first()
        or 0
    )
    while True:
        batch = list(
            contacts.filter(pk__gt=last).values_list("pk", "primary_email", "time_zone")[
                :QUEUE_BATCH
            ]
        )
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def campaign_queue_recipients(campaign_id: int) -> int:
    """Snapshot the segment into recipient rows; returns how many rows were made."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",))
            .select_related("segment")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None:
            return 0
        if campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.QUEUING):
            return 0
        campaign.status = Campaign.Status.QUEUING
        campaign.queued_at = campaign.queued_at or timezone.now()
        campaign.save(update_fields=["status", "queued_at"])
    tenant = _tenant()
    actor = (
        Membership.objects.select_related("user")
        .filter(tenant=tenant, user_id=campaign.sent_by_id or 0, status=Membership.Status.ACTIVE)
        .first()
    )
    if actor is None:
        # The sender left the workspace before the send time: nobody's view to send from.
        Campaign.objects.filter(pk=campaign.pk).update(
            status=Campaign.Status.CANCELED, finished_at=timezone.now()
        )
        return 0
    actor.tenant = tenant
    variants = list(CampaignVariant.objects.filter(campaign=campaign).order_by("letter"))
    testing = len(variants) > 1
    cut = int(campaign.ab_fraction * 10000)
    if testing and campaign.segment is not None:
        # Each variant gets at least the minimum sample, however small the test share.
        size = segment_contacts(actor=actor, segment=campaign.segment).order_by().count()
        if size:
            wanted = campaign.ab_min_sample * len(variants) * 10000 // size
            cut = min(10000, max(cut, wanted))
    now = timezone.now()
    made = 0
    for batch in _contact_rows(actor, campaign):
        rows = []
        for contact_id, email, zone in batch:
            variant: CampaignVariant | None = variants[0]
            status = Status.QUEUED
            if testing:
                if _bucket(contact_id, campaign.pk) < cut:
                    variant = variants[_bucket(contact_id, campaign.pk + 1) % len(variants)]
                else:
                    variant, status = None, Status.HELD
            reason = ""
            if not email:
                status, reason = Status.SKIPPED, "no_email"
            rows.append(
                CampaignRecipient(
                    campaign=campaign,
                    contact_id=contact_id,
                    variant=variant,
                    email=email or "",
                    status=status,
                    reason=reason,
                    send_after=_send_after(campaign, zone or None, tenant.time_zone, now),
                )
            )
        with transaction.atomic():
            CampaignRecipient.objects.bulk_create(rows, ignore_conflicts=True)
        made += len(rows)
    held = CampaignRecipient.objects.filter(campaign=campaign, status=Status.HELD).exists()
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.QUEUING).update(
        status=Campaign.Status.TESTING if held else Campaign.Status.SENDING
    )
    _announce(tenant, campaign.pk)
    return made


# --- sending ----------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    contact_id: int
    variant_id: int
    email: str


def leases_expire(campaign_id: int) -> int:
    """Rows left in 'sending' past their lease (their worker was killed): the send was not
    recorded, so they go back to the queue — or, after ``MAX_ATTEMPTS``, fail."""
    now = timezone.now()
    stuck = CampaignRecipient.objects.filter(
        campaign_id=campaign_id, status=Status.SENDING, lease_until__lt=now, sent_at__isnull=True
    )
    failed = stuck.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=Status.FAILED, reason="interrupted", lease_until=None
    )
    return failed + stuck.update(status=Status.QUEUED, lease_until=None)


def claim(campaign_id: int, limit: int) -> list[Claimed]:
    """Take up to ``limit`` due rows for this worker alone (committed before any mail goes)."""
    # The application's clock, as everywhere else rows are timed (and not the transaction's
    # start, which is what now() gives inside a transaction).
    now = timezone.now()
    lease_until = now + datetime.timedelta(seconds=settings.MARKETING_SEND_LEASE_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        # The table name is the model's own, never input.
        cursor.execute(
            f"UPDATE {_TABLE} SET status = %s, lease_until = %s,"  # noqa: S608
            " attempts = attempts + 1"
            f" WHERE id IN (SELECT id FROM {_TABLE} WHERE campaign_id = %s AND status = %s"
            " AND send_after <= %s AND variant_id IS NOT NULL"
            # The index's own order: the scan stops at the limit. By id alone, every claim
            # read and sorted all the campaign's due rows (190 ms a claim with 700,000 due).
            " ORDER BY send_after, id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING id, contact_id, variant_id, email",
            [Status.SENDING, lease_until, campaign_id, Status.QUEUED, now, limit],
        )
        rows = [Claimed(*row) for row in cursor.fetchall()]
    rows.sort(key=lambda row: row.id)
    return rows


def message_id(schema_name: str, recipient_id: int) -> str:
    """The same for every attempt at one recipient, so a receiving system can drop a copy."""
    domain = settings.MARKETING_MESSAGE_ID_DOMAIN or settings.BASE_DOMAIN
    return f"<campaign.{schema_name}.{recipient_id}@{domain}>"


class _Urls:
    def __init__(self, tenant: Tenant):
        self.schema = tenant.schema_name
        open_path = reverse("marketing:track_open", args=["T"]).removesuffix("T/")
        click_path = reverse("marketing:track_click", args=["T"]).removesuffix("T/")
        self.open_base = workspace_url(str(tenant.slug), open_path)
        self.click_base = workspace_url(str(tenant.slug), click_path)

    def open(self, recipient_id: int) -> str:
        return f"{self.open_base}{tokens.open_token(self.schema, recipient_id)}/"

    def click(self, recipient_id: int, link: int) -> str:
        return f"{self.click_base}{tokens.click_token(self.schema, recipient_id, link)}/"


def _mark(ids: list[int], **values: Any) -> None:
    if ids:
        CampaignRecipient.objects.filter(pk__in=ids).update(**values)


def send_batch(campaign_id: int, *, limit: int) -> int:
    """Claim and send one batch; returns how many rows were claimed (0: nothing due)."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or (
        campaign.status != Campaign.Status.SENDING and campaign.status != Campaign.Status.TESTING
    ):
        return 0
    if bulk_paused():
        # A complaint or bounce rate passed its limit: nothing more until an admin resumes.
        return 0
    leases_expire(campaign_id)
    rows = claim(campaign_id, limit)
    if not rows:
        return 0
    tenant = _tenant()
    urls = _Urls(tenant)
    contacts = Contact.objects.select_related("company").in_bulk([row.contact_id for row in rows])
    offers = first_offers(contacts)
    built: dict[int, content.Built] = {}
    sender, signer = _sender(campaign)
    rate = float(settings.MARKETING_SEND_RATE_PER_WORKER)
    started = time.monotonic()
    sent: list[tuple[Claimed, datetime.datetime]] = []
    # The contact rule for the whole batch in a fixed number of queries (ADR 0033).
    decisions = may_contact_many(
        list(contacts.values()), channel="email", purpose=Purpose.MARKETING, at=timezone.now()
    )
    smtp = get_connection(settings.MARKETING_EMAIL_BACKEND or settings.EMAIL_DELIVERY_BACKEND)
    try:
        smtp.open()
        for n, row in enumerate(rows):
            contact = contacts.get(row.contact_id)
            if contact is None:
                _mark([row.id], status=Status.SKIPPED, reason="deleted", lease_until=None)
                continue
            decision = decisions[contact.pk]
            if not decision.allowed:
                if decision.not_before is not None:
                    _mark(
                        [row.id],
                        status=Status.QUEUED,
                        send_after=decision.not_before,
                        lease_until=None,
                    )
                else:
                    _mark(
                        [row.id],
                        status=Status.SKIPPED,
                        reason=decision.reason[:40],
                        lease_until=None,
                    )
                continue
            if row.variant_id not in built:
                variant = CampaignVariant.objects.get(pk=row.variant_id)
                built[row.variant_id] = content.build(
                    subject=variant.subject,
                    preheader=variant.preheader,
                    mode=variant.mode,
                    blocks=variant.blocks,
                    html=variant.html,
                )
            rendered = content.render(
                built[row.variant_id],
                content.contact_values(contact, offer=offers.get(contact.pk, "")),
                link_url=functools.partial(urls.click, row.id),
                open_url=urls.open(row.id),
            )
            headers = {
                "Message-ID": message_id(tenant.schema_name, row.id),
                # RFC 2369 and RFC 8058: mail clients offer one-click unsubscribe.
                **list_unsubscribe_headers(contact),
            }
            message = (
                SignedEmail(
                    subject=rendered.subject,
                    body=rendered.text,
                    from_email=sender,
                    to=[row.email],
                    headers=headers,
                    signer=signer,
                )
                if signer is not None
                else EmailMultiAlternatives(
                    subject=rendered.subject,
                    body=rendered.text,
                    from_email=sender,
                    to=[row.email],
                    headers=headers,
                )
            )
            message.attach_alternative(rendered.html, "text/html")
            # Throttle: never faster than the per-worker rate.
            ahead = n / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
            try:
                smtp.send_messages([message])
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                logger.info("campaign %s recipient %s refused: %s", campaign_id, row.id, exc)
                _mark([row.id], status=Status.FAILED, reason="refused", lease_until=None)
                continue
            except Exception:
                # The server or connection failed: this row was not accepted.
                _mark([row.id], status=Status.QUEUED, lease_until=None)
                _mark([r.id for r in rows[n + 1 :]], status=Status.QUEUED, lease_until=None)
                raise
            # Accepted by the SMTP server: record it now, before anything else can fail.
            accepted = timezone.now()
            _mark([row.id], status=Status.SENT, sent_at=accepted, lease_until=None)
            sent.append((row, accepted))
            record_contact(
                contact,
                channel="email",
                purpose=Purpose.MARKETING,
                source=f"campaign:{campaign_id}",
                at=accepted,
            )
    finally:
        smtp.close()
        _delivered(campaign, sent)
    return len(rows)


def _sender(campaign: Campaign) -> tuple[str, Signer | None]:
    """The From address, and the DKIM signer when the workspace has a verified sender domain
    (its address then replaces the platform's)."""
    domain = sending_domain()
    if domain is None:
        return from_address(campaign), None
    address = f"{domain.local_part}@{domain.domain}"
    name = campaign.from_name.replace('"', "").strip()
    return (f'"{name}" <{address}>' if name else address), Signer.of(domain)


def _delivered(campaign: Campaign, sent: list[tuple[Claimed, datetime.datetime]]) -> None:
    """The batch's delivered events and timeline entries, in two inserts."""
    if not sent:
        return
    with transaction.atomic():
        CampaignEvent.objects.bulk_create(
            CampaignEvent(
                campaign_id=campaign.pk,
                recipient_id=row.id,
                kind=CampaignEvent.Kind.DELIVERED,
                occurred_at=when,
            )
            for row, when in sent
        )
        activities_log_many(
            [
                ActivityInput(
                    kind=CAMPAIGN_EMAIL.code,
                    concerns=(("sales.contact", row.contact_id),),
                    occurred_at=when,
                    subject=campaign.name[:200],
                    channel="email",
                    direction="outbound",
                    outcome=CampaignEvent.Kind.DELIVERED,
                )
                for row, when in sent
            ]
        )
    _announce(_tenant(), campaign.pk)


def campaign_finish_if_done(campaign_id: int) -> bool:
    """Mark the campaign sent once no row is left to send; returns whether it is done."""
    open_rows = CampaignRecipient.objects.filter(
        campaign_id=campaign_id, status__in=[Status.QUEUED, Status.SENDING, Status.HELD]
    )
    if open_rows.exists():
        return False
    done = Campaign.objects.filter(
        pk=campaign_id, status__in=[Campaign.Status.SENDING, Campaign.Status.TESTING]
    ).update(status=Campaign.Status.SENT, finished_at=timezone.now())
    if done:
        _announce(_tenant(), campaign_id)
    return True


def next_due(campaign_id: int) -> datetime.datetime | None:
    """When the earliest row still waiting becomes due (rescheduled by quiet hours, local time,
    or a lease that has to run out)."""
    queued = (
        CampaignRecipient.objects.filter(
            campaign_id=campaign_id, status=Status.QUEUED, variant__isnull=False
        )
        .order_by("send_after")
        .values_list("send_after", flat=True)
        .first()
    )
    leased = (
        CampaignRecipient.objects.filter(campaign_id=campaign_id, status=Status.SENDING)
        .order_by("lease_until")
        .values_list("lease_until", flat=True)
        .first()
    )
    candidates = [when for when in (queued, leased) if when is not None]
    return min(candidates) if candidates else None


def _announce(tenant: Tenant, campaign_id: int) -> None:
    live.publish(
        tenant=tenant,
        topic=CAMPAIGNS_TOPIC,
        event="campaign.updated",
        payload={"campaign": campaign_id},
    )
