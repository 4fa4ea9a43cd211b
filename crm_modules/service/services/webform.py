"""The web form (ADR 0036): a customer opens a ticket from the workspace's hosted page or an
iframe on the customer's own site. No member acts; the visitor's address is limited to a few
tickets in a window, and every field is checked before anything is written."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.sales import api as sales
from crm_modules.service.models import Ticket, TicketChannel
from crm_modules.service.services import outbound
from crm_modules.service.services.customer import ticket_open_for_contact
from crm_modules.service.services.tickets import check_body
from crm_platform.errors import ServiceError
from crm_platform.ratelimits import counters_allowed
from crm_platform.validation import check_email, check_text
from tenants.models import Tenant

RATE_LIMIT = 5
RATE_WINDOW_SECONDS = 10 * 60


class TooManySubmissions(ServiceError):
    def __init__(self) -> None:
        super().__init__(
            _("Too many messages from your network in a short time; try again in a few minutes."),
            code="rate_limited",
        )


def webform_rate_key(ip_address: str) -> str:
    """The cache key counting one visitor's submissions (prefixed per workspace by the cache's
    key function, D6)."""
    return f"service:webform:{ip_address}"


def _count_submission(ip_address: str) -> None:
    if not counters_allowed([(webform_rate_key(ip_address), RATE_LIMIT, RATE_WINDOW_SECONDS)]):
        raise TooManySubmissions


def webform_submit(
    *,
    tenant: Tenant,
    name: str,
    email: str,
    subject: str,
    message: str,
    ip_address: str,
    custom_fields: Any = None,
    now: datetime.datetime | None = None,
) -> Ticket:
    """``custom_fields``: the ticket fields shown to customers, by code (ADR 0053)."""
    name = check_text(name, field="name", max_length=200, label=_("Your name"))
    address = check_email(email, field="email")
    subject = check_text(subject, field="subject", max_length=200, label=_("Subject"))
    body = check_body(message, field="message", required=True)
    custom = sales.check_customer_custom_values(entity="ticket", values=custom_fields or {})
    _count_submission(ip_address)
    when = now or timezone.now()
    with transaction.atomic():
        contact = sales.contact_for_email(
            tenant=tenant, email=address, name=name, source="web form"
        )
        ticket, _message = ticket_open_for_contact(
            tenant=tenant,
            contact=contact,
            subject=subject,
            body=body,
            channel=TicketChannel.WEB,
            now=when,
            custom=custom,
        )
        outbound.email_queue(
            tenant=tenant,
            ticket=ticket,
            body=outbound.acknowledgement_text(ticket),
            automatic=True,
            now=when,
        )
    return ticket
