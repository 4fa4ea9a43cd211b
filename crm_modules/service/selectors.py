"""Reads of the service module, scoped to the acting member.

Every inbox view is one index range (models.py) read by keyset; ``ticket_get`` raises 404 for
what the member may not see, exactly like a ticket of another workspace.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from crm_modules.sales.api import Company, Contact
from crm_modules.service import sla
from crm_modules.service.models import (
    OPEN_STATUSES,
    BusinessHours,
    SlaPolicy,
    Status,
    Ticket,
    TicketMessage,
)
from crm_modules.service.module import VIEW_TICKETS
from tenants.capabilities import Capability
from tenants.models import Membership
from tenants.permissions import allows

# The inbox views and the order each reads its index in (the last field is unique).
VIEWS: dict[str, tuple[str, ...]] = {
    "unassigned": ("-updated_at", "-id"),
    "mine": ("-updated_at", "-id"),
    "team": ("-updated_at", "-id"),
    "breaching": ("next_due_at", "id"),
    "all": ("-updated_at", "-id"),
}


def _open() -> Q:
    return Q(status__in=[s.value for s in OPEN_STATUSES])


def ticket_list(
    *,
    actor: Membership,
    view: str = "all",
    status: str = "",
    contact_id: int | None = None,
    company_id: int | None = None,
    now: datetime.datetime | None = None,
) -> QuerySet[Ticket]:
    """The tickets of one inbox view, unordered (the caller pages them by ``VIEWS[view]``)."""
    if not allows(actor, VIEW_TICKETS):
        return Ticket.objects.none()
    tickets = Ticket.objects.all()
    if view == "unassigned":
        tickets = tickets.filter(_open(), assignee__isnull=True)
    elif view == "mine":
        tickets = tickets.filter(_open(), assignee_id=actor.user_id)
    elif view == "team":
        tickets = (
            tickets.filter(_open(), team_id=actor.team_id)
            if actor.team_id is not None
            else tickets.none()
        )
    elif view == "breaching":
        tickets = tickets.filter(
            next_due_at__isnull=False, next_due_at__lte=(now or timezone.now()) + sla.SOON
        )
    if status in Status.values:
        tickets = tickets.filter(status=status)
    if contact_id is not None:
        tickets = tickets.filter(contact_id=contact_id)
    if company_id is not None:
        tickets = tickets.filter(company_id=company_id)
    return tickets


def inbox_rows(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What an inbox row shows, in the same query: the contact and company names."""
    return tickets.select_related("contact", "company", "assignee", "team")


def ticket_get(
    *, actor: Membership, ticket_id: int, capability: Capability = VIEW_TICKETS
) -> Ticket:
    if not allows(actor, VIEW_TICKETS) or not allows(actor, capability, reading=True):
        raise Http404("No such ticket")
    ticket = (
        Ticket.objects.select_related("contact", "company", "assignee", "team", "sla_policy")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        raise Http404("No such ticket")
    return ticket


def ticket_messages(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    return ticket.messages.select_related("author").order_by("created_at", "id")


# The inbox counts stop here ("999+"): counting every open ticket of a large workspace on each
# page would cost more than the page itself.
COUNT_CAP = 1000


def inbox_counts(*, actor: Membership, now: datetime.datetime | None = None) -> dict[str, int]:
    """How many tickets each open view holds, up to ``COUNT_CAP``: one short index-only scan of
    each view's own partial index."""
    if not allows(actor, VIEW_TICKETS):
        return {}
    soon = (now or timezone.now()) + sla.SOON
    views = {
        "unassigned": Ticket.objects.filter(_open(), assignee__isnull=True),
        "mine": Ticket.objects.filter(_open(), assignee_id=actor.user_id),
        "breaching": Ticket.objects.filter(next_due_at__isnull=False, next_due_at__lte=soon),
    }
    return {
        key: tickets.order_by().values("id")[:COUNT_CAP].count() for key, tickets in views.items()
    }


def customer_tickets(*, actor: Membership, record: Any, limit: int = 10) -> dict[str, Any]:
    """A contact's or company's open tickets with their SLA state (customer 360): two queries."""
    if isinstance(record, Contact):
        tickets = ticket_list(actor=actor, contact_id=record.pk)
    elif isinstance(record, Company):
        tickets = ticket_list(actor=actor, company_id=record.pk)
    else:
        return {"tickets": [], "open_count": 0}
    open_tickets = tickets.filter(_open())
    now = timezone.now()
    rows = [
        {"ticket": ticket, "sla": sla.state(ticket, now=now)}
        for ticket in open_tickets.select_related("assignee").order_by("-updated_at", "-id")[:limit]
    ]
    # Counted always, so the page runs the same queries for one ticket and for hundreds.
    count = open_tickets.count()
    contact = record if isinstance(record, Contact) else None
    return {"tickets": rows, "open_count": count, "contact": contact}


def business_hours_default() -> BusinessHours | None:
    return BusinessHours.objects.filter(is_default=True).prefetch_related("holidays").first()


def sla_policy_default() -> SlaPolicy | None:
    return (
        SlaPolicy.objects.filter(is_default=True)
        .select_related("hours")
        .prefetch_related("targets")
        .first()
    )
