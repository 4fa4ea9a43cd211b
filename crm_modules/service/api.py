"""The service facade: what other modules (reporting, marketing) may use.

Sales never imports it: a contact's and a company's page show their open tickets through the
record-panel registry (``tenants.modules.register_record_panel``, registered in module.py).
"""

from __future__ import annotations

from django.db.models import QuerySet

from crm_modules.service.models import (
    BAD_SCORE,
    OPEN_STATUSES,
    CsatSurvey,
    Priority,
    Status,
    Ticket,
    TicketChannel,
)
from crm_modules.service.module import VIEW_TICKETS, WORK_TICKETS
from crm_modules.service.selectors import customer_tickets, ticket_get, ticket_list
from crm_modules.service.services import ticket_create, ticket_reply

__all__ = [
    "BAD_SCORE",
    "OPEN_STATUSES",
    "VIEW_TICKETS",
    "WORK_TICKETS",
    "Priority",
    "Status",
    "Ticket",
    "TicketChannel",
    "csat_ratings",
    "customer_tickets",
    "ticket_create",
    "ticket_get",
    "ticket_list",
    "ticket_reply",
]


def csat_ratings() -> QuerySet[CsatSurvey]:
    """Every answered satisfaction survey: ``contact``, ``score`` (1 to 5; ``BAD_SCORE`` or
    less is bad) and ``rated_at``, for conditions on contacts (marketing's segments)."""
    return CsatSurvey.objects.filter(score__isnull=False, contact__isnull=False)
