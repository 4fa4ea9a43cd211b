"""The customer portal's writes (ADR 0038): sign-in by magic link, portal sessions, and what a
signed-in customer does — open a ticket, reply to one, correct their own details.

Customers are a sign-in realm of their own: a contact of the workspace, never a user or a
member, and they take no seat. A magic link is a random token of which only the SHA-256 is
stored; it works once, for ``LINK_MINUTES`` minutes. Requests are limited per address and per
IP address, and the answer is the same whether the address is known or not (no enumeration).
A portal session is another random token in its own cookie, kept apart from staff sessions.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.marketing import api as marketing
from crm_modules.sales import api as sales
from crm_modules.sales.api import Contact, ContactEmail
from crm_modules.service import sla
from crm_modules.service.models import (
    PortalSession,
    PortalSettings,
    PortalSignInLink,
    Priority,
    Status,
    Ticket,
    TicketChannel,
    TicketMessage,
    TicketType,
)
from crm_modules.service.module import (
    ENTRY_TICKET,
    MANAGE_PORTAL,
    PORTAL_CONTACT_CHANGED,
    PORTAL_SETTINGS_CHANGED,
    PORTAL_SIGNED_IN,
    TICKET_CREATED,
    TICKETS_TOPIC,
)
from crm_modules.service.services.customer import ticket_customer_message
from crm_modules.service.services.sla_alerts import sla_alarm
from crm_modules.service.services.tickets import check_body
from crm_platform.errors import ServiceError
from crm_platform.ratelimits import counters_allowed
from crm_platform.validation import check_email, check_language, check_text
from tenants import live
from tenants.audit.services import audit_record
from tenants.hosts import workspace_url
from tenants.models import Membership, Tenant
from tenants.permissions import require

LINK_MINUTES = 15
SESSION_DAYS = 7
# At most this many links per address, and per IP address, in ``RATE_WINDOW`` seconds.
LINKS_PER_ADDRESS = 5
LINKS_PER_IP = 20
RATE_WINDOW = 15 * 60
COOKIE_NAME = "rapport_portal"
COOKIE_PATH = "/portal/"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def portal_settings() -> PortalSettings:
    settings_row = PortalSettings.objects.order_by("pk").first()
    return settings_row or PortalSettings()


def portal_settings_update(*, actor: Membership, company_tickets: Any) -> PortalSettings:
    """Whether customers also see (and reply to) their company's tickets; staff with
    ``service.manage_portal`` only. The one settings row is created on first save."""
    require(actor, MANAGE_PORTAL)
    if not isinstance(company_tickets, bool):
        raise ServiceError(_("Choose yes or no."), field="company_tickets", code="invalid")
    with transaction.atomic():
        # The table holds one row; lock it (or the table's first insert) while changing it.
        row = PortalSettings.objects.select_for_update().order_by("pk").first()
        require(actor, MANAGE_PORTAL)
        if row is None:
            row = PortalSettings.objects.create(company_tickets=company_tickets)
            before = False
        else:
            before = row.company_tickets
            row.company_tickets = company_tickets
            row.save(update_fields=["company_tickets"])
        if before != company_tickets:
            audit_record(
                tenant=actor.tenant,
                actor=actor.user,
                action=PORTAL_SETTINGS_CHANGED,
                target=row,
                data={"company_tickets": {"before": before, "after": company_tickets}},
            )
    return row


# --- sign-in ---------------------------------------------------------------------------------


def _rate_key(kind: str, value: str) -> str:
    # The address is hashed: no customer address in the cache's key space.
    return f"portal-link:{kind}:{_digest(value)[:32]}"


def _over_limit(key: str, limit: int) -> bool:
    return not counters_allowed([(key, limit, RATE_WINDOW)])


class TooManyLinks(ServiceError):
    pass


def portal_link_request(
    *, tenant: Tenant, email: Any, ip_address: str | None, now: datetime.datetime | None = None
) -> PortalSignInLink | None:
    """Send a sign-in link to ``email`` if it is the address of a contact of this workspace.
    Returns the link row (None for an unknown address: the caller says the same either way)."""
    address = check_email(email if isinstance(email, str) else "", field="email")
    if _over_limit(_rate_key("ip", ip_address or "-"), LINKS_PER_IP) or _over_limit(
        _rate_key("address", address), LINKS_PER_ADDRESS
    ):
        raise TooManyLinks(
            _("Too many sign-in links were asked for. Wait a quarter of an hour and try again."),
            field="email",
            code="rate_limited",
        )
    row = (
        ContactEmail.objects.filter(email=address)
        .select_related("contact")
        .order_by("-is_primary", "contact_id")
        .first()
    )
    if row is None:
        return None
    contact = row.contact
    when = now or timezone.now()
    # Transactional mail is never held back, but nothing goes to an address that bounced.
    if not marketing.may_contact(
        contact, channel="email", purpose="transactional", at=when
    ).allowed:
        return None
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = PortalSignInLink.objects.create(
            contact=contact,
            email=address,
            token_hash=_digest(token),
            created_at=when,
            expires_at=when + datetime.timedelta(minutes=LINK_MINUTES),
            ip_address=ip_address,
        )
        url = workspace_url(tenant.slug or "", reverse("portal:redeem", args=[token]))
        context = {"url": url, "minutes": LINK_MINUTES, "workspace": tenant, "contact": contact}
        send_mail(
            _("Your sign-in link to %(workspace)s") % {"workspace": tenant.name},
            render_to_string("service/email/portal_link.txt", context),
            None,
            [address],
        )
        marketing.record_contact(
            contact, channel="email", purpose="transactional", source=f"portal-link:{link.pk}"
        )
    return link


def portal_link_find(
    token: str, *, now: datetime.datetime | None = None
) -> PortalSignInLink | None:
    """The unused, unexpired link of ``token`` (for the confirmation page)."""
    when = now or timezone.now()
    return (
        PortalSignInLink.objects.select_related("contact")
        .filter(token_hash=_digest(token), used_at__isnull=True, expires_at__gt=when)
        .first()
    )


@dataclass(frozen=True)
class NewSession:
    session: PortalSession
    token: str  # for the cookie; only its hash is stored


def portal_link_redeem(
    *, tenant: Tenant, token: str, now: datetime.datetime | None = None
) -> NewSession:
    """Use a sign-in link (once) and start a portal session."""
    when = now or timezone.now()
    with transaction.atomic():
        link = (
            PortalSignInLink.objects.select_for_update().filter(token_hash=_digest(token)).first()
        )
        if link is None or link.used_at is not None or link.expires_at <= when:
            raise ServiceError(
                _("This sign-in link has expired or was already used. Ask for a new one."),
                field="token",
                code="invalid_link",
            )
        link.used_at = when
        link.save(update_fields=["used_at"])
        session_token = secrets.token_urlsafe(32)
        session = PortalSession.objects.create(
            contact_id=link.contact_id,
            token_hash=_digest(session_token),
            created_at=when,
            expires_at=when + datetime.timedelta(days=SESSION_DAYS),
        )
        audit_record(
            tenant=tenant,
            actor=None,
            action=PORTAL_SIGNED_IN,
            target=link.contact,
            data={"contact": link.contact_id},
        )
    return NewSession(session=session, token=session_token)


def portal_session_get(
    token: str | None, *, now: datetime.datetime | None = None
) -> PortalSession | None:
    if not token:
        return None
    when = now or timezone.now()
    return (
        PortalSession.objects.select_related("contact", "contact__company")
        .filter(token_hash=_digest(token), ended_at__isnull=True, expires_at__gt=when)
        .first()
    )


def portal_session_end(*, session: PortalSession) -> None:
    PortalSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )


# --- what a signed-in customer does ---------------------------------------------------------


def _concerns(ticket: Ticket) -> list[Any]:
    return [r for r in (ticket, ticket.contact, ticket.company) if r is not None]


def _publish(tenant: Tenant, event: str, ticket: Ticket) -> None:
    live.publish(
        tenant=tenant,
        topic=TICKETS_TOPIC,
        event=event,
        payload={"id": ticket.pk, "status": ticket.status},
    )


def portal_ticket_create(
    *,
    tenant: Tenant,
    contact: Contact,
    subject: Any,
    description: Any,
    custom_fields: Any = None,
    now: datetime.datetime | None = None,
) -> Ticket:
    """``custom_fields``: the ticket fields shown to customers, by code (ADR 0053)."""
    subject = check_text(
        subject if isinstance(subject, str) else "",
        field="subject",
        max_length=200,
        label=_("Subject"),
    )
    description = check_body(description, field="description", required=True)
    custom = sales.check_customer_custom_values(entity="ticket", values=custom_fields or {})
    when = now or timezone.now()
    with transaction.atomic():
        ticket = Ticket(
            subject=subject,
            description=description,
            priority=Priority.NORMAL,
            type=TicketType.QUESTION,
            channel=TicketChannel.PORTAL,
            contact=contact,
            company_id=contact.company_id,
            created_at=when,
            updated_at=when,
            status=Status.NEW,
            custom=custom,
        )
        ticket.sla_policy = sla.policy_for(ticket, time_zone=tenant.time_zone)
        sla.recompute(ticket, sla.clock_for(ticket))
        ticket.save()
        sla_alarm(ticket)
        timeline.activity_log(
            kind=ENTRY_TICKET.code,
            author=None,
            concerns=_concerns(ticket),
            subject=subject,
            body=description,
            channel=TicketChannel.PORTAL,
            direction="inbound",
            occurred_at=when,
            data={"ticket": ticket.pk},
        )
        audit_record(
            tenant=tenant,
            actor=None,
            action=TICKET_CREATED,
            target=ticket,
            data={"contact": contact.pk, "channel": "portal"},
        )
        _publish(tenant, "ticket.created", ticket)
    return ticket


def portal_ticket_reply(
    *,
    tenant: Tenant,
    contact: Contact,
    ticket: Ticket,
    body: Any,
    now: datetime.datetime | None = None,
) -> TicketMessage:
    """The customer writes on their ticket: the same path as a customer's mail
    (``customer.ticket_customer_message``), with a person writing and no reopening limit."""
    with transaction.atomic():
        _ticket, message, _reopened = ticket_customer_message(
            tenant=tenant,
            ticket=ticket,
            body=body,
            now=now or timezone.now(),
            wake=True,
            reopen=True,
            channel=TicketChannel.PORTAL,
            sender=contact,
            required=True,
        )
    return message


# What a customer may correct of their own contact record.
SELF_FIELDS = ("first_name", "last_name", "job_title", "language")


def portal_contact_correct(*, tenant: Tenant, contact: Contact, changes: dict[str, Any]) -> Contact:
    """The customer corrects their own name, job title and language (not their addresses: the
    address is what they sign in with)."""
    unknown = set(changes) - set(SELF_FIELDS)
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    labels = {
        "first_name": _("First name"),
        "last_name": _("Last name"),
        "job_title": _("Job title"),
    }
    clean = {
        name: check_text(
            value, field=name, max_length=150 if name == "job_title" else 100, label=labels[name]
        )
        if isinstance(value, str) and value.strip()
        else ""
        for name, value in changes.items()
        if name != "language"
    }
    if "language" in changes:
        language = changes["language"].strip() if isinstance(changes["language"], str) else "?"
        clean["language"] = check_language(language) if language else ""
    if ("first_name" in clean or "last_name" in clean) and not (
        clean.get("first_name", contact.first_name) or clean.get("last_name", contact.last_name)
    ):
        raise ServiceError(_("Give your first or last name."), field="first_name", code="required")
    with transaction.atomic():
        from crm_modules.sales.api import contact_self_correct

        updated = contact_self_correct(contact=contact, changes=clean)
        audit_record(
            tenant=tenant,
            actor=None,
            action=PORTAL_CONTACT_CHANGED,
            target=updated,
            data={"fields": sorted(clean)},
        )
    return updated


__all__ = [
    "COOKIE_NAME",
    "COOKIE_PATH",
    "LINK_MINUTES",
    "SESSION_DAYS",
    "NewSession",
    "TooManyLinks",
    "portal_contact_correct",
    "portal_link_find",
    "portal_link_redeem",
    "portal_link_request",
    "portal_session_end",
    "portal_session_get",
    "portal_settings",
    "portal_settings_update",
    "portal_ticket_create",
    "portal_ticket_reply",
]
