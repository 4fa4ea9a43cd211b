"""@mentions in a ticket's internal notes: the reply box carries the kit's mention picker; a
mentioned member is told on their open pages and by email, with a link to the ticket; the note
names who was mentioned on the timeline; a mention of someone who is not an active member of
the workspace is refused naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from crm_modules.activities.models import Activity
from crm_modules.service import services
from crm_modules.service.models import TicketMessage
from crm_modules.service.module import ENTRY_NOTE
from crm_platform.errors import ServiceError
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.test_reminders_mentions import _receive, inbox_of
from tests.service.conftest import customer, fresh

__all__ = ["inbox_of"]

pytestmark = pytest.mark.usefixtures("in_alpha")


def test_a_colleague_mentioned_in_a_note_is_told_live_and_by_email(
    alpha: Workspace, inbox_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    manager = alpha.members[Role.MANAGER]
    agent = alpha.members[Role.SUPPORT_AGENT]
    ticket = services.ticket_create(
        actor=fresh(agent), subject="Счёт не пришёл", contact_id=customer("olga@example.ru").pk
    )
    channel = inbox_of(manager)
    client = workspace_client(agent.user, alpha.tenant)

    page = client.get(f"/service/{ticket.pk}/").content.decode()
    assert 'data-mention="/members/mentions/"' in page

    body = f"Can you look at the invoice, @{manager.user.email.upper()}?"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/service/{ticket.pk}/reply/", {"kind": "note", "body": body})
    assert response.status_code == 302
    note = Activity.objects.filter(kind=ENTRY_NOTE.code).get()
    assert note.data["mentions"] == [manager.user_id]
    pushed = _receive(channel)
    assert f"mentioned you on #{ticket.pk} Счёт не пришёл" in pushed["payload"]["text"]
    assert pushed["payload"]["url"].endswith(f"/service/{ticket.pk}/")
    [message] = mail.outbox
    assert message.to == [manager.user.email]


def test_a_public_reply_tells_nobody(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = services.ticket_create(actor=agent, subject="Hi")
    manager = alpha.members[Role.MANAGER]
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(actor=agent, ticket=ticket, body=f"cc @{manager.user.email}")
    assert "mentions" not in Activity.objects.latest("id").data
    assert all(manager.user.email not in m.to for m in mail.outbox)


@pytest.mark.parametrize("who", ["stranger", "other_workspace"])
def test_a_mention_of_a_non_member_is_refused_and_nothing_is_written(
    alpha: Workspace, bravo: Workspace, who: str, django_capture_on_commit_callbacks: Any
) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = services.ticket_create(actor=agent, subject="Hi")
    email = {"stranger": "nobody@example.com", "other_workspace": bravo.owner.user.email}[who]
    count = TicketMessage.objects.count()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ServiceError) as refused:
        services.ticket_reply(actor=agent, ticket=ticket, body=f"FYI @{email}", public=False)
    assert refused.value.field == "body"
    assert email.lower() in refused.value.message
    assert TicketMessage.objects.count() == count
    assert mail.outbox == []
