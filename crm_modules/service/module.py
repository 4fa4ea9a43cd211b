"""What service adds to the product's registries. Who may do what (docs/roles.md, ADR 0026):

- Everyone in the workspace reads tickets, their replies and internal notes: sales sees what
  support does for its customers, and the other way round.
- Owner, Admin, Manager and Support agent work tickets: open them, reply, add notes, change
  status, priority, type and tags, and take a ticket for themselves.
- Owner, Admin and Manager give tickets to any member or team, one by one or in bulk.
- Owner and Admin set the business hours, holidays and SLA targets.
"""

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_modules.activities.api import register_entry_type
from tenants import capabilities, live, navigation
from tenants.audit.actions import register_action
from tenants.models import Membership
from tenants.modules import register_contact_hold, register_record_panel
from tenants.roles import ALL_ROLES, Role

MODULE = _("Service")
AGENTS = {Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SUPPORT_AGENT}

VIEW_TICKETS = capabilities.register(
    "service.view_tickets",
    label=_("See tickets, their replies and internal notes"),
    module=MODULE,
    roles=ALL_ROLES,
)
WORK_TICKETS = capabilities.register(
    "service.work_tickets",
    label=_("Open tickets, reply, add internal notes, change status and priority, take tickets"),
    module=MODULE,
    roles=AGENTS,
    writes=True,
)
ASSIGN_TICKETS = capabilities.register(
    "service.assign_tickets",
    label=_("Give tickets to any member or team, also in bulk"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
)
MANAGE_SLA = capabilities.register(
    "service.manage_sla",
    label=_("Set business hours, holidays and SLA targets"),
    module=MODULE,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)

navigation.register(
    "tickets",
    label=_("Tickets"),
    icon="life-buoy",
    url_name="service:inbox",
    capability=VIEW_TICKETS,
    order=200,
)
navigation.register(
    "sla",
    label=_("SLA and business hours"),
    icon="clock",
    url_name="service:sla",
    capability=MANAGE_SLA,
    order=210,
)

TICKET_CREATED = register_action("ticket.created", _("Ticket opened"), module=MODULE)
TICKET_UPDATED = register_action("ticket.updated", _("Ticket changed"), module=MODULE)
TICKET_STATUS = register_action("ticket.status_changed", _("Ticket status changed"), module=MODULE)
TICKET_ASSIGNED = register_action("ticket.assigned", _("Ticket assigned"), module=MODULE)
SLA_BREACHED = register_action("ticket.sla_breached", _("SLA target breached"), module=MODULE)
SLA_CHANGED = register_action(
    "sla.changed", _("Business hours or SLA targets changed"), module=MODULE
)

TICKETS_TOPIC = live.register_topic("tickets", label=_("Tickets"), capability=VIEW_TICKETS)

# Tickets on the shared timeline of their contact and company (D18).
ENTRY_TICKET = register_entry_type("ticket", label=_("Ticket opened"))
ENTRY_REPLY = register_entry_type("ticket_reply", label=_("Ticket reply"))
ENTRY_NOTE = register_entry_type("ticket_note", label=_("Ticket internal note"))
ENTRY_STATUS = register_entry_type("ticket_status", label=_("Ticket status changed"))
ENTRY_SLA_BREACH = register_entry_type("ticket_sla_breach", label=_("SLA target breached"))


def _customer_tickets(membership: Membership, record: Any) -> dict[str, Any]:
    from crm_modules.service.selectors import customer_tickets

    return customer_tickets(actor=membership, record=record)


for _record_type in ("sales.contact", "sales.company"):
    register_record_panel(
        f"service.tickets.{_record_type}",
        record_type=_record_type,
        template="service/_customer_tickets.html",
        capability=VIEW_TICKETS,
        context=_customer_tickets,
        order=50,
    )


def _ticket_hold(contact: Any) -> str | None:
    """Marketing waits while the contact has a ticket still being worked on (one indexed
    query: ticket_contact); an SLA-breached one is named as such. Registered with the contact
    rule (ADR 0033) so that marketing never imports service."""
    from crm_modules.service.models import OPEN_STATUSES, Ticket

    breached = models.ExpressionWrapper(
        models.Q(first_response_breached=True) | models.Q(resolution_breached=True),
        output_field=models.BooleanField(),
    )
    found = (
        Ticket.objects.filter(contact_id=contact.pk, status__in=OPEN_STATUSES)
        .annotate(breached=breached)
        .order_by("-breached", "id")
        .values_list("pk", "breached")
        .first()
    )
    if found is None:
        return None
    ticket_id, past_sla = found
    if past_sla:
        return str(_("Ticket #%(id)s is past its SLA: marketing waits.") % {"id": ticket_id})
    return str(_("Ticket #%(id)s is open: marketing waits.") % {"id": ticket_id})


register_contact_hold("service.open_ticket", _ticket_hold)
