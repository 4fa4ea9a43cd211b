"""The reply guard: a public reply written without having seen a newer customer message is
stopped and the new message is shown (pages: 409 with the message marked new and the text kept;
API: 409 with the new messages); nothing is sent. Internal notes are not stopped."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from crm_modules.service import services
from crm_modules.service.models import Ticket, TicketMessage
from crm_platform.errors import ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _ticket(alpha: Workspace) -> Ticket:
    return services.ticket_create(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]), subject="Invoice wrong"
    )


def _customer_writes(ticket: Ticket, body: str) -> TicketMessage:
    """A message from the customer, as the inbound paths store it."""
    return TicketMessage.objects.create(
        ticket=ticket,
        kind=TicketMessage.Kind.REPLY,
        direction=TicketMessage.Direction.INBOUND,
        body=body,
    )


def _seen(html: str) -> str:
    match = re.search(r'<input type="hidden" name="seen" value="(\d+)"', html)
    assert match is not None
    return match.group(1)


def test_a_reply_is_stopped_when_the_customer_wrote_after_the_agent_looked(
    alpha: Workspace,
) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = _ticket(alpha)
    first = _customer_writes(ticket, "The invoice says 100")
    newer = _customer_writes(ticket, "Sorry, it says 1000")
    with pytest.raises(services.NewerMessages) as stopped:
        services.ticket_reply(
            actor=agent, ticket=ticket, body="100 is right", seen_message_id=first.pk
        )
    assert stopped.value.field == "body"
    assert stopped.value.code == "newer_message"
    assert [m.pk for m in stopped.value.messages] == [newer.pk]
    assert not TicketMessage.objects.filter(direction="outbound").exists()
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None
    # Having seen it, the reply goes out; so does a note, seen or not.
    services.ticket_reply(actor=agent, ticket=ticket, body="Checking", seen_message_id=newer.pk)
    services.ticket_reply(
        actor=agent, ticket=ticket, body="Note", public=False, seen_message_id=first.pk
    )
    assert TicketMessage.objects.filter(direction="outbound").count() == 1
    assert TicketMessage.objects.filter(kind="note").count() == 1


def test_the_agents_own_and_colleagues_replies_do_not_stop_a_reply(alpha: Workspace) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = _ticket(alpha)
    services.ticket_reply(actor=fresh(alpha.owner), ticket=ticket, body="Hi", seen_message_id=0)
    services.ticket_reply(actor=agent, ticket=ticket, body="Hello", seen_message_id=0)
    assert TicketMessage.objects.filter(direction="outbound").count() == 2


@pytest.mark.parametrize("seen", [-1, "abc", True, 1.5])
def test_a_bad_seen_message_is_refused_naming_the_field(alpha: Workspace, seen: Any) -> None:
    ticket = _ticket(alpha)
    with pytest.raises(ServiceError) as refused:
        services.ticket_reply(
            actor=fresh(alpha.members[Role.SUPPORT_AGENT]),
            ticket=ticket,
            body="Hi",
            seen_message_id=seen,
        )
    assert refused.value.field == "seen"
    assert not TicketMessage.objects.exists()


def test_the_reply_form_shows_the_new_message_and_keeps_the_text(alpha: Workspace) -> None:
    ticket = _ticket(alpha)
    first = _customer_writes(ticket, "The invoice says 100")
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    page = client.get(f"/service/{ticket.pk}/").content.decode()
    assert _seen(page) == str(first.pk)
    newer = _customer_writes(ticket, "Sorry, it says 1000")

    form = {"body": "100 is right", "kind": "reply", "status": "", "seen": str(first.pk)}
    response = client.post(f"/service/{ticket.pk}/reply/", form)

    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="id_body_error"' in html
    assert "The customer wrote again while you were writing." in html
    assert re.search(
        rf'data-message="{newer.pk}" data-kind="reply" data-testid="new-message"', html
    )
    assert f'data-message="{first.pk}" data-kind="reply" data-testid' not in html
    assert "100 is right</textarea>" in html
    assert _seen(html) == str(newer.pk)
    assert not TicketMessage.objects.filter(direction="outbound").exists()

    # Sent again from that form, it goes out.
    response = client.post(f"/service/{ticket.pk}/reply/", {**form, "seen": _seen(html)})
    assert response.status_code == 302
    assert TicketMessage.objects.filter(direction="outbound").get().body == "100 is right"


def _api(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_the_api_answers_409_with_the_new_message(alpha: Workspace) -> None:
    ticket = _ticket(alpha)
    first = _customer_writes(ticket, "Hello")
    newer = _customer_writes(ticket, "Still there?")
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    path = f"/api/v1/service/tickets/{ticket.pk}/replies/"

    response = _api(client, path, {"body": "Yes", "seen_message": first.pk})

    assert response.status_code == 409
    body = response.json()
    assert body["error"]["code"] == "newer_message"
    assert [(m["id"], m["body"], m["direction"]) for m in body["messages"]] == [
        (newer.pk, "Still there?", "inbound")
    ]
    assert not TicketMessage.objects.filter(direction="outbound").exists()
    bad = _api(client, path, {"body": "Yes", "seen_message": -4})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"seen_message"}
    ok = _api(client, path, {"body": "Yes", "seen_message": newer.pk})
    assert ok.status_code == 201
