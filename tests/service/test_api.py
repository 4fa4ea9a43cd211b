"""The tickets API: open, list by inbox view with cursor pages, change, reply, note. Errors
name the field and change nothing; roles that only read are refused writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from crm_modules.activities.api import timeline
from crm_modules.service.models import Ticket, TicketMessage
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

TICKETS = "/api/v1/service/tickets/"


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def _agent(alpha: Workspace) -> Client:
    return workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)


def test_open_a_ticket_for_a_contact_and_read_it_back(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    client = _agent(alpha)

    response = _send(
        client,
        "POST",
        TICKETS,
        {"subject": "无法登录", "priority": "urgent", "contact": contact.pk, "tags": ["login"]},
    )

    assert response.status_code == 201
    body = response.json()
    ticket = Ticket.objects.get()
    assert body["id"] == ticket.pk
    assert (body["subject"], body["status"], body["priority"], body["channel"]) == (
        "无法登录",
        "new",
        "urgent",
        "api",
    )
    assert body["contact"] == contact.pk
    assert body["first_response_due_at"] is not None
    assert client.get(f"{TICKETS}{ticket.pk}/").json()["tags"] == ["login"]
    assert [a.kind for a in timeline(contact)] == ["ticket"]


def test_list_by_view_pages_with_a_cursor(alpha: Workspace) -> None:
    client = _agent(alpha)
    agent = alpha.members[Role.SUPPORT_AGENT]
    for n in range(3):
        _send(client, "POST", TICKETS, {"subject": f"Mine {n}", "assignee": agent.user_id})
    _send(client, "POST", TICKETS, {"subject": "Nobody's"})

    first = client.get(f"{TICKETS}?view=mine&page_size=2").json()
    assert [t["subject"] for t in first["results"]] == ["Mine 2", "Mine 1"]
    second = client.get(first["next"]).json()
    assert [t["subject"] for t in second["results"]] == ["Mine 0"]
    assert second["next"] is None
    unassigned = client.get(f"{TICKETS}?view=unassigned").json()["results"]
    assert [t["subject"] for t in unassigned] == ["Nobody's"]


def test_change_status_and_tags_in_one_request(alpha: Workspace) -> None:
    client = _agent(alpha)
    ticket_id = _send(client, "POST", TICKETS, {"subject": "Slow"}).json()["id"]

    response = _send(
        client, "PATCH", f"{TICKETS}{ticket_id}/", {"status": "on_hold", "tags": ["slow", "db"]}
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["tags"]) == ("on_hold", ["slow", "db"])
    assert response.json()["paused_since"] is not None


def test_a_bad_change_names_the_field_and_changes_nothing(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    ticket_id = _send(client, "POST", TICKETS, {"subject": "Slow"}).json()["id"]

    response = _send(
        client, "PATCH", f"{TICKETS}{ticket_id}/", {"priority": "urgent", "assignee": 10**9}
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"assignee"}
    assert Ticket.objects.get(pk=ticket_id).priority == "normal"


def test_reply_and_note_through_the_api(alpha: Workspace) -> None:
    client = _agent(alpha)
    ticket_id = _send(client, "POST", TICKETS, {"subject": "Slow"}).json()["id"]
    replies = f"{TICKETS}{ticket_id}/replies/"

    reply = _send(client, "POST", replies, {"body": "Спасибо, смотрим", "status": "pending"})
    note = _send(client, "POST", replies, {"body": "Check the logs", "public": False})

    assert reply.status_code == note.status_code == 201
    assert (reply.json()["kind"], note.json()["kind"]) == ("reply", "note")
    listed = client.get(replies).json()["results"]
    assert [m["body"] for m in listed] == ["Check the logs", "Спасибо, смотрим"]
    ticket = Ticket.objects.get(pk=ticket_id)
    assert ticket.status == "pending"
    assert ticket.first_responded_at is not None


def test_an_empty_reply_names_the_field(alpha: Workspace) -> None:
    client = _agent(alpha)
    ticket_id = _send(client, "POST", TICKETS, {"subject": "Slow"}).json()["id"]
    response = _send(client, "POST", f"{TICKETS}{ticket_id}/replies/", {"body": ""})
    assert response.status_code == 400
    assert "body" in response.json()["error"]["fields"]
    assert not TicketMessage.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "subject"),
        ({"subject": "x", "priority": "asap"}, "priority"),
        ({"subject": "x", "contact": 10**9}, "contact"),
        ({"subject": "x", "tags": "not-a-list"}, "tags"),
    ],
)
def test_bad_tickets_are_refused_naming_the_field(
    alpha: Workspace, body: dict[str, Any], field: str
) -> None:
    response = _send(_agent(alpha), "POST", TICKETS, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Ticket.objects.exists()


def test_a_sales_rep_reads_tickets_but_writes_none(alpha: Workspace) -> None:
    ticket_id = _send(_agent(alpha), "POST", TICKETS, {"subject": "Slow"}).json()["id"]
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)

    assert rep.get(f"{TICKETS}{ticket_id}/").status_code == 200
    assert _send(rep, "POST", TICKETS, {"subject": "Mine"}).status_code == 403
    assert _send(rep, "PATCH", f"{TICKETS}{ticket_id}/", {"status": "solved"}).status_code == 403
    assert _send(rep, "POST", f"{TICKETS}{ticket_id}/replies/", {"body": "Hi"}).status_code == 403
    assert list(Ticket.objects.values_list("subject", "status")) == [("Slow", "new")]
    assert not TicketMessage.objects.exists()
