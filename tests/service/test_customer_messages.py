"""A customer's message on a ticket takes one path whatever the channel (ADR 0044): mail and
the portal both go through ``customer.ticket_customer_message``, and both follow the same
status rule — waiting for the customer or solved opens the ticket again, on hold stays on
hold, a new or open ticket keeps its status."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_modules.activities.models import Activity
from crm_modules.service import services
from crm_modules.service.models import Status, Ticket, TicketMessage
from crm_modules.service.module import ENTRY_REPLY
from crm_modules.service.services.customer import status_after_customer_message
from tenants.roles import Role
from tests.conftest import Workspace
from tests.service.conftest import fresh, portal_client
from tests.service.test_inbound import deliver, email

__all__ = ["deliver"]

AFTER: dict[str, str] = {
    Status.NEW: Status.NEW,
    Status.OPEN: Status.OPEN,
    Status.PENDING: Status.OPEN,
    Status.ON_HOLD: Status.ON_HOLD,
    Status.SOLVED: Status.OPEN,
}


def _by_mail(alpha: Workspace, deliver: Any, ticket: Ticket, text: str) -> None:
    deliver(
        email(
            sender="Maria Rossi <maria@example.it>",
            subject=f"Re: {ticket.subject}",
            body=text,
            message_id=f"<{text}@example.it>",
            headers={"In-Reply-To": "<m1@example.it>"},
        )
    )


def _by_portal(alpha: Workspace, deliver: Any, ticket: Ticket, text: str) -> None:
    assert ticket.contact is not None
    response = portal_client(alpha, ticket.contact).post(
        f"/portal/tickets/{ticket.pk}/reply/", {"body": text}
    )
    assert response.status_code == 302


CHANNELS = {"mail": _by_mail, "portal": _by_portal}


@pytest.mark.usefixtures("in_alpha")
@pytest.mark.parametrize("channel", sorted(CHANNELS))
@pytest.mark.parametrize("before", sorted(AFTER))
def test_both_channels_follow_the_one_status_rule(
    alpha: Workspace, deliver: Any, channel: str, before: str
) -> None:
    # The ticket starts from a customer's mail, so a later mail threads into it.
    deliver(email(sender="Maria Rossi <maria@example.it>", message_id="<m1@example.it>"))
    ticket = Ticket.objects.select_related("contact").get()
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    if before != Status.NEW:
        services.ticket_change_status(actor=agent, ticket=ticket, status=before)

    CHANNELS[channel](alpha, deliver, ticket, f"answer-{channel}")

    ticket.refresh_from_db()
    assert ticket.status == AFTER[before]
    assert (ticket.paused_since is None) == (AFTER[before] != Status.ON_HOLD)
    if AFTER[before] == Status.OPEN:
        assert ticket.solved_at is None
    message = TicketMessage.objects.filter(ticket=ticket).latest("id")
    assert (message.direction, message.kind, message.body) == (
        "inbound",
        "reply",
        f"answer-{channel}",
    )
    assert message.sender_contact_id == ticket.contact_id
    assert message.author_id is None
    entry = Activity.objects.filter(kind=ENTRY_REPLY.code).latest("id")
    assert entry.data["message"] == message.pk
    assert entry.channel == ("portal" if channel == "portal" else "email")


@given(
    status=st.sampled_from(list(Status)),
    wake=st.booleans(),
    reopen=st.booleans(),
)
def test_the_rule_never_leaves_on_hold_and_never_touches_a_closed_ticket(
    status: str, wake: bool, reopen: bool
) -> None:
    after = status_after_customer_message(status, wake=wake, reopen=reopen)
    if status in (Status.ON_HOLD, Status.CLOSED, Status.NEW, Status.OPEN) or not wake:
        assert after is None
    elif status == Status.SOLVED:
        assert after == (Status.OPEN if reopen else None)
    else:
        assert after == Status.OPEN
