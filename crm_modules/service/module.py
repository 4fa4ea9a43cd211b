"""What service adds to the product's registries. Who may do what (docs/roles.md, ADR 0026):

- Everyone in the workspace reads tickets, their replies and internal notes: sales sees what
  support does for its customers, and the other way round.
- Owner, Admin, Manager and Support agent work tickets: open them, reply, add notes, change
  status, priority, type and tags, and take a ticket for themselves.
- Owner, Admin and Manager give tickets to any member or team, one by one or in bulk.
- Owner and Admin set the business hours, holidays and SLA targets.
- Owner, Admin and Manager set routing (rules, team methods, agents' skills and caps, anyone's
  availability) and write macros; every agent sets their own availability and applies macros.
"""

from collections.abc import Sequence
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from billing import plans as billing_plans
from billing.plans import Feature, plans_with
from crm_modules.activities.api import register_entry_type
from tenants import capabilities, live, navigation
from tenants.audit.actions import register_action
from tenants.models import Membership
from tenants.modules import (
    CONTACT_OPENED_TICKET,
    register_contact_hold,
    register_open_path,
    register_record_event_kind,
    register_record_panel,
)
from tenants.roles import ALL_ROLES, Role

# The plans that include the module: every capability below is refused to the others.
IN_PLAN = plans_with(Feature.SERVICE)

MODULE = _("Service")
AGENTS = {Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SUPPORT_AGENT}

VIEW_TICKETS = capabilities.register(
    "service.view_tickets",
    label=_("See tickets, their replies and internal notes"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ALL_ROLES,
)
WORK_TICKETS = capabilities.register(
    "service.work_tickets",
    label=_("Open tickets, reply, add internal notes, change status and priority, take tickets"),
    module=MODULE,
    plans=IN_PLAN,
    roles=AGENTS,
    writes=True,
)
ASSIGN_TICKETS = capabilities.register(
    "service.assign_tickets",
    label=_("Give tickets to any member or team, also in bulk"),
    module=MODULE,
    plans=IN_PLAN,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
)
MANAGE_SLA = capabilities.register(
    "service.manage_sla",
    label=_("Set business hours, holidays and SLA targets"),
    module=MODULE,
    plans=IN_PLAN,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)

MANAGE_CHANNELS = capabilities.register(
    "service.manage_channels",
    label=_("Set up the support email address and the web form; see mail that failed"),
    module=MODULE,
    plans=IN_PLAN,
    roles={Role.OWNER, Role.ADMIN},
)
RETRY_INBOUND = capabilities.register(
    "service.retry_inbound",
    label=_("Process mail that failed again"),
    module=MODULE,
    plans=IN_PLAN,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)
VIEW_ARTICLES = capabilities.register(
    "service.view_articles",
    label=_("Read knowledge-base articles, internal ones included"),
    module=MODULE,
    plans=IN_PLAN,
    roles=ALL_ROLES,
)
MANAGE_PORTAL = capabilities.register(
    "service.manage_portal",
    label=_("Choose what customers see in the portal"),
    module=MODULE,
    plans=IN_PLAN,
    roles={Role.OWNER, Role.ADMIN},
    writes=True,
)
MANAGE_ARTICLES = capabilities.register(
    "service.manage_articles",
    label=_("Write, translate and publish knowledge-base articles"),
    module=MODULE,
    plans=IN_PLAN,
    roles=AGENTS,
    writes=True,
)
MANAGE_ROUTING = capabilities.register(
    "service.manage_routing",
    label=_("Set routing rules, team routing, agents' skills, caps and availability"),
    module=MODULE,
    plans=IN_PLAN,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
    writes=True,
)
MANAGE_MACROS = capabilities.register(
    "service.manage_macros",
    label=_("Write, change and delete macros and canned responses"),
    module=MODULE,
    plans=IN_PLAN,
    roles={Role.OWNER, Role.ADMIN, Role.MANAGER},
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
    "articles",
    label=_("Knowledge base"),
    icon="file-text",
    url_name="service:articles",
    capability=VIEW_ARTICLES,
    order=203,
)
navigation.register(
    "csat",
    label=_("Satisfaction"),
    icon="message-square",
    url_name="service:csat",
    capability=VIEW_TICKETS,
    order=205,
)
navigation.register(
    "sla",
    label=_("SLA and business hours"),
    icon="clock",
    url_name="service:sla",
    capability=MANAGE_SLA,
    order=210,
)

navigation.register(
    "service_channels",
    label=_("Email and web form"),
    icon="mail",
    url_name="service:channels",
    capability=MANAGE_CHANNELS,
    order=220,
)
navigation.register(
    "portal_settings",
    label=_("Customer portal"),
    icon="users",
    url_name="service:portal_settings",
    capability=MANAGE_PORTAL,
    order=221,
)
navigation.register(
    "routing",
    label=_("Routing"),
    icon="arrow-right-left",
    url_name="service:routing",
    capability=MANAGE_ROUTING,
    order=205,
)
navigation.register(
    "macros",
    label=_("Macros"),
    icon="copy",
    url_name="service:macros",
    capability=WORK_TICKETS,
    order=206,
)

TICKET_CREATED = register_action("ticket.created", _("Ticket opened"), module=MODULE)
TICKET_UPDATED = register_action("ticket.updated", _("Ticket changed"), module=MODULE)
TICKET_STATUS = register_action("ticket.status_changed", _("Ticket status changed"), module=MODULE)
TICKET_ASSIGNED = register_action("ticket.assigned", _("Ticket assigned"), module=MODULE)
SLA_BREACHED = register_action("ticket.sla_breached", _("SLA target breached"), module=MODULE)
TICKET_MERGED = register_action("ticket.merged", _("Tickets merged"), module=MODULE)
TICKET_SPLIT = register_action("ticket.split", _("Ticket split"), module=MODULE)
TICKET_ESCALATED = register_action("ticket.escalated", _("Ticket escalated"), module=MODULE)
MACRO_CHANGED = register_action("macro.changed", _("Macro changed"), module=MODULE)
INBOUND_RETRIED = register_action(
    "inbound.retried", _("Failed mail processed again"), module=MODULE
)
SLA_CHANGED = register_action(
    "sla.changed", _("Business hours or SLA targets changed"), module=MODULE
)

ARTICLE_SAVED = register_action(
    "article.saved", _("Knowledge-base article written or changed"), module=MODULE
)
CSAT_RATED = register_action("ticket.csat_rated", _("Customer rated a ticket"), module=MODULE)
PORTAL_SIGNED_IN = register_action(
    "portal.signed_in", _("Customer signed in to the portal"), module=MODULE
)
PORTAL_SETTINGS_CHANGED = register_action(
    "portal.settings_changed", _("Customer portal settings changed"), module=MODULE
)
PORTAL_CONTACT_CHANGED = register_action(
    "portal.contact_changed", _("Customer corrected their details in the portal"), module=MODULE
)

TICKETS_TOPIC = live.register_topic("tickets", label=_("Tickets"), capability=VIEW_TICKETS)

# Tickets on the shared timeline of their contact and company (D18).
# A ticket opened by or for a contact ends the contact's sequences (tenants.modules).
ENTRY_TICKET = register_entry_type(
    "ticket", label=_("Ticket opened"), contact_event=CONTACT_OPENED_TICKET
)
ENTRY_REPLY = register_entry_type("ticket_reply", label=_("Ticket reply"), module=MODULE)
ENTRY_NOTE = register_entry_type("ticket_note", label=_("Ticket internal note"), module=MODULE)
ENTRY_STATUS = register_entry_type("ticket_status", label=_("Ticket status changed"))
ENTRY_SLA_BREACH = register_entry_type("ticket_sla_breach", label=_("SLA target breached"))
ENTRY_CSAT = register_entry_type("ticket_csat", label=_("Customer satisfaction rating"))
ENTRY_MERGED = register_entry_type("ticket_merged", label=_("Tickets merged"))
ENTRY_SPLIT = register_entry_type("ticket_split", label=_("Ticket split"))


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


def _register_attachable() -> None:
    from crm_modules.documents.api import register_attachable
    from crm_modules.service.models import Ticket

    register_attachable(
        "service.ticket", Ticket, _("Ticket"), VIEW_TICKETS, capability_to_edit=WORK_TICKETS
    )


_register_attachable()

# The web form customers fill in on the workspace's host or in an iframe (ADR 0036).
register_open_path("/service/form/")


def _csat_history(membership: Membership, record: Any) -> dict[str, Any]:
    from crm_modules.service.selectors import csat_history

    return csat_history(actor=membership, contact=record)


register_record_panel(
    "service.csat.sales.contact",
    record_type="sales.contact",
    template="service/_csat_history.html",
    capability=VIEW_TICKETS,
    context=_csat_history,
    order=55,
)

# A solved ticket, for modules reacting to what happens to a contact (marketing's triggers:
# "three days after a ticket is solved, ask for feedback").
TICKET_SOLVED_EVENT = register_record_event_kind("service.ticket_solved", label=_("Ticket solved"))

from crm_modules.service import reports  # noqa: E402, F401 - registers the report data sources


def _ticket_hold(contact: Any) -> str | None:
    """Marketing waits while the contact has a ticket still being worked on (one indexed
    query: ticket_contact); an SLA-breached one is named as such. Registered with the contact
    rule (ADR 0033) so that marketing never imports service."""
    from crm_modules.service.models import OPEN_STATUSES, Ticket

    breached = models.ExpressionWrapper(
        models.Q(first_response_breached=True)
        | models.Q(next_response_breached=True)
        | models.Q(resolution_breached=True),
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


def _ticket_holds(contacts: Sequence[Any]) -> dict[int, str]:
    """``_ticket_hold`` for a batch of contacts in one query (DISTINCT ON the contact, the
    breached ticket first)."""
    from crm_modules.service.models import OPEN_STATUSES, Ticket

    breached = models.ExpressionWrapper(
        models.Q(first_response_breached=True)
        | models.Q(next_response_breached=True)
        | models.Q(resolution_breached=True),
        output_field=models.BooleanField(),
    )
    found = (
        Ticket.objects.filter(contact_id__in=[c.pk for c in contacts], status__in=OPEN_STATUSES)
        .annotate(breached=breached)
        .order_by("contact_id", "-breached", "id")
        .distinct("contact_id")
        .values_list("contact_id", "pk", "breached")
    )
    return {
        contact_id: str(
            (
                _("Ticket #%(id)s is past its SLA: marketing waits.")
                if past_sla
                else _("Ticket #%(id)s is open: marketing waits.")
            )
            % {"id": ticket_id}
        )
        for contact_id, ticket_id, past_sla in found
    }


register_contact_hold("service.open_ticket", _ticket_hold, many=_ticket_holds)


def _tier_changed(entity: str, ids: list[int] | None, codes: frozenset[str]) -> None:
    """A customer's tier chooses SLA policies (ADR 0060): their open tickets get the policy
    chosen now, in the background after commit (ADR 0061). ``ids`` None: the tier field
    itself was defined, archived, restored, deleted or given other options, so every open
    ticket is chosen again (ADR 0068, 0075)."""
    if "tier" not in codes or entity not in ("contact", "company"):
        return
    from crm_modules.service.services.sla_policies import sla_reapply_later

    if ids is None:
        sla_reapply_later()
    elif entity == "contact":
        sla_reapply_later(contacts=ids)
    else:
        sla_reapply_later(companies=ids)


def _merged(entity: str, survivor_id: int, merged_ids: list[int]) -> Any:
    from crm_modules.service.services.customers_merged import tickets_follow_merge

    return tickets_follow_merge(entity, survivor_id, merged_ids)


def _unmerged(entity: str, survivor_id: int, moved: Any) -> None:
    from crm_modules.service.services.customers_merged import tickets_follow_undo

    tickets_follow_undo(entity, survivor_id, moved)


from crm_modules.sales.api import (  # noqa: E402
    MergeListener,
    register_custom_change_listener,
    register_merge_listener,
)

register_custom_change_listener("service.sla_tier", _tier_changed)
register_merge_listener("service.tickets", MergeListener(moved=_merged, moved_back=_unmerged))


def _resume_after_plan_change(tenant: Any) -> None:
    # What the plan held (satisfaction surveys) is sent once it includes service (ADR 0081).
    from crm_modules.service.tasks import on_plan_change

    on_plan_change(tenant)


billing_plans.on_plan_change(_resume_after_plan_change)
