"""Two agents reply to the same ticket at the same moment: the ticket's row lock serialises the
replies, both are kept and both are emailed, neither stops the other (the reply guard stops
only for the customer's messages), and the first response is counted once, by the reply
that took the lock first. Runs on the committed test workspace (real concurrent
transactions) and removes what it made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context

from crm_modules.activities.models import Activity
from crm_modules.sales.models import Contact, ContactEmail
from crm_modules.service import services
from crm_modules.service.models import (
    BusinessHours,
    OutboundEmail,
    SlaPolicy,
    Ticket,
    TicketMessage,
)
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.concurrency import race
from tests.conftest import World
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory


def test_two_agents_replying_at_once_both_reach_the_customer(
    world: World, django_db_blocker: Any
) -> None:
    alpha = world.alpha
    schema = alpha.tenant.schema_name
    with django_db_blocker.unblock():
        try:
            with schema_context(schema):
                contact = ContactFactory.create(
                    first_name="Chen", last_name="Wei", primary_email="chen.wei@example.cn"
                )
                ContactEmail.objects.create(
                    contact=contact, email="chen.wei@example.cn", is_primary=True
                )
                ticket = services.ticket_create(
                    actor=fresh(alpha.owner), subject="发票错误", contact_id=contact.pk
                )
                asked = TicketMessage.objects.create(
                    ticket=ticket, kind="reply", direction="inbound", body="金额重复了"
                )
            _race(world, schema, ticket.pk, asked.pk)
        finally:
            with schema_context(schema):
                Activity.objects.all().delete()
                AuditEvent.objects.filter(action__startswith="ticket.").delete()
                Ticket.objects.all().delete()
                SlaPolicy.objects.all().delete()
                BusinessHours.objects.all().delete()
                Contact.objects.all().delete()


def _race(world: World, schema: str, ticket_id: int, seen: int) -> None:
    bodies: dict[str, str] = {
        Role.OWNER: "我们已经退款。",
        Role.SUPPORT_AGENT: "Мы вернули деньги.",
    }

    def reply(role: str) -> Callable[[Callable[[], object]], None]:
        def run(go: Callable[[], object]) -> None:
            actor = fresh(world.alpha.members[role])
            ticket = Ticket.objects.get(pk=ticket_id)
            go()
            services.ticket_reply(
                actor=actor, ticket=ticket, body=bodies[role], seen_message_id=seen
            )

        return run

    race([reply(role) for role in bodies], schema=schema)
    with schema_context(schema):
        replies = list(
            TicketMessage.objects.filter(ticket_id=ticket_id, direction="outbound")
            .order_by("created_at", "id")
            .values_list("body", "created_at")
        )
        emailed = sorted(
            OutboundEmail.objects.filter(
                ticket_id=ticket_id, ticket_message__isnull=False
            ).values_list("ticket_message__body", flat=True)
        )
        ticket = Ticket.objects.get(pk=ticket_id)
    assert sorted(body for body, _at in replies) == sorted(bodies.values())
    assert emailed == sorted(bodies.values())
    assert ticket.status == "open"
    # Counted once, by the reply that took the ticket's lock first.
    assert ticket.first_responded_at in {at for _body, at in replies}
