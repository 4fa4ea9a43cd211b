"""Service pages: the inbox views with constant query counts and keyset pages, a ticket with
its reply and note forms, bulk changes, the SLA settings, and the open tickets on a contact's
and a company's page (customer 360)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm_modules.service import services
from crm_modules.service.models import BusinessHours, Ticket, TicketMessage
from tenants.roles import Role
from tests.conftest import Workspace, record_page, workspace_client
from tests.sales.factories import CompanyFactory, ContactFactory
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _ticket(alpha: Workspace, **kwargs: object) -> Ticket:
    kwargs.setdefault("subject", "Cannot sign in")
    return services.ticket_create(actor=fresh(alpha.members[Role.SUPPORT_AGENT]), **kwargs)  # type: ignore[arg-type]


def _queries(get: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = get()
    assert response.status_code == 200  # type: ignore[attr-defined]
    return len(queries)


def _rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-ticket="(\d+)"', html)]


@pytest.mark.parametrize("view", ["unassigned", "mine", "breaching", "all"])
def test_inbox_views_run_the_same_queries_for_few_and_many_tickets(
    alpha: Workspace, view: str
) -> None:
    agent = alpha.members[Role.SUPPORT_AGENT]
    client = workspace_client(agent.user, alpha.tenant)
    path = f"/service/?view={view}"
    company = CompanyFactory.create()
    _ticket(alpha, contact_id=ContactFactory.create(company=company).pk, assignee_id=agent.user_id)
    _ticket(alpha, priority="urgent")
    client.get(path)  # the first request of a session also stamps it
    few = _queries(lambda: client.get(path))
    for n in range(20):
        contact = ContactFactory.create(company=CompanyFactory.create())
        _ticket(
            alpha,
            subject=f"Ticket {n}",
            contact_id=contact.pk,
            priority="urgent",
            assignee_id=agent.user_id if n % 2 else None,
        )
    assert _queries(lambda: client.get(path)) == few


def test_each_inbox_view_shows_its_tickets(alpha: Workspace) -> None:
    agent = alpha.members[Role.SUPPORT_AGENT]
    now = timezone.now()
    mine = _ticket(alpha, subject="Mine", assignee_id=agent.user_id)
    free = _ticket(alpha, subject="Free")
    solved = _ticket(alpha, subject="Solved")
    services.ticket_change_status(actor=fresh(agent), ticket=solved, status="solved")
    # Due within two hours: breaching soon.
    Ticket.objects.filter(pk=free.pk).update(next_due_at=now + datetime.timedelta(minutes=30))
    Ticket.objects.filter(pk=mine.pk).update(next_due_at=now + datetime.timedelta(days=3))
    client = workspace_client(agent.user, alpha.tenant)

    def shown(query: str) -> list[int]:
        return _rows(client.get(f"/service/{query}").content.decode())

    assert shown("?view=unassigned") == [free.pk]
    assert shown("?view=mine") == [mine.pk]
    assert shown("?view=breaching") == [free.pk]
    assert shown("?view=all") == [solved.pk, free.pk, mine.pk]
    assert shown("?view=all&status=solved") == [solved.pk]
    # An agent lands on the unassigned tickets; someone who only reads on all of them.
    assert shown("") == [free.pk]
    reader = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    html = reader.get("/service/").content.decode()
    assert _rows(html) == [solved.pk, free.pk, mine.pk]
    assert 'data-testid="bulk-actions"' not in html
    assert 'data-testid="new-ticket"' not in html


def test_the_inbox_pages_by_keyset(alpha: Workspace) -> None:
    tickets = [_ticket(alpha, subject=f"T{n}") for n in range(55)]
    client = workspace_client(alpha.owner.user, alpha.tenant)
    first = client.get("/service/?view=all").content.decode()
    assert _rows(first) == [t.pk for t in reversed(tickets)][:50]
    cursor = re.search(r'after=([^"&]+)" data-testid="next-page"', first)
    assert cursor is not None
    second = client.get(f"/service/?view=all&after={cursor.group(1)}").content.decode()
    assert _rows(second) == [t.pk for t in reversed(tickets[:5])]
    # A cursor that is not ours starts again from the first page.
    assert _rows(client.get("/service/?view=all&after=%27%3B--").content.decode())[:1] == [
        tickets[-1].pk
    ]


def test_a_ticket_page_shows_the_conversation_and_a_reply_goes_out(alpha: Workspace) -> None:
    contact = ContactFactory.create(first_name="Анна", last_name="Смирнова")
    ticket = _ticket(alpha, contact_id=contact.pk, description="<script>alert(1)</script>")
    agent = alpha.members[Role.SUPPORT_AGENT]
    client = workspace_client(agent.user, alpha.tenant)

    html = client.get(f"/service/{ticket.pk}/").content.decode()
    assert "Анна Смирнова" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-testid="reply-form"' in html

    response = client.post(
        f"/service/{ticket.pk}/reply/", {"body": "ขอบคุณ — fixed", "kind": "reply", "status": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/service/{ticket.pk}/"
    (message,) = TicketMessage.objects.filter(ticket=ticket)
    assert (message.kind, message.body, message.author_id) == (
        "reply",
        "ขอบคุณ — fixed",
        agent.user_id,
    )
    contact_page = client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    assert 'data-kind="ticket_reply"' in contact_page
    assert "ขอบคุณ — fixed" in contact_page


def test_an_empty_reply_shows_the_error_next_to_the_field(alpha: Workspace) -> None:
    ticket = _ticket(alpha)
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    response = client.post(f"/service/{ticket.pk}/reply/", {"body": "  ", "kind": "note"})
    assert response.status_code == 400
    assert 'id="id_body_error"' in response.content.decode()
    assert not TicketMessage.objects.exists()


def test_a_reader_sees_the_ticket_without_any_form(alpha: Workspace) -> None:
    ticket = _ticket(alpha)
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    html = client.get(f"/service/{ticket.pk}/").content.decode()
    assert 'data-testid="ticket-subject"' in html
    assert 'data-testid="reply-form"' not in html
    assert 'data-testid="take-ticket"' not in html


def test_status_and_priority_change_together_or_not_at_all(alpha: Workspace) -> None:
    ticket = _ticket(alpha)
    services.ticket_change_status(actor=fresh(alpha.owner), ticket=ticket, status="closed")
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    response = client.post(
        f"/service/{ticket.pk}/fields/",
        {"status": "open", "priority": "urgent", "type": "incident", "tags": ""},
    )
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.type) == ("closed", "normal", "question")


def test_bulk_assign_from_the_inbox(alpha: Workspace) -> None:
    tickets = [_ticket(alpha, subject=f"T{n}") for n in range(3)]
    agent = alpha.members[Role.SUPPORT_AGENT]
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
    response = client.post(
        "/service/bulk/",
        {
            "ids": [tickets[0].pk, tickets[2].pk],
            "action": "assign",
            "assignee": agent.user_id,
            "next": "/service/?view=all",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/service/?view=all"
    assigned = dict(Ticket.objects.values_list("pk", "assignee_id"))
    assert assigned == {
        tickets[0].pk: agent.user_id,
        tickets[1].pk: None,
        tickets[2].pk: agent.user_id,
    }


def test_bulk_goes_back_only_to_the_inbox(alpha: Workspace) -> None:
    ticket = _ticket(alpha)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(
        "/service/bulk/",
        {"ids": [ticket.pk], "action": "status", "status": "solved", "next": "//evil.example/"},
    )
    assert response["Location"] == "/service/"
    assert Ticket.objects.get(pk=ticket.pk).status == "solved"


def test_a_new_ticket_for_a_contact_from_the_page(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    assert client.get(f"/service/new/?contact={contact.pk}").status_code == 200
    response = client.post(
        f"/service/new/?contact={contact.pk}",
        {
            "subject": "Refund",
            "priority": "high",
            "type": "question",
            "channel": "phone",
            "tags": "",
        },
    )
    ticket = Ticket.objects.get()
    assert response["Location"] == f"/service/{ticket.pk}/"
    assert (ticket.contact_id, ticket.priority, ticket.channel) == (contact.pk, "high", "phone")


def test_a_new_ticket_without_a_subject_is_refused(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    response = client.post(
        "/service/new/", {"subject": "", "priority": "high", "type": "question", "channel": "phone"}
    )
    assert response.status_code == 400
    assert 'id="id_subject_error"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_contact_page_shows_open_tickets_with_their_sla(alpha: Workspace) -> None:
    company = CompanyFactory.create()
    contact = ContactFactory.create(company=company)
    open_ticket = _ticket(alpha, subject="Still broken", contact_id=contact.pk, priority="urgent")
    solved = _ticket(alpha, subject="Old problem", contact_id=contact.pk)
    services.ticket_change_status(actor=fresh(alpha.owner), ticket=solved, status="solved")
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)

    for path in (f"/sales/contacts/{contact.pk}/", f"/sales/companies/{company.pk}/"):
        html = record_page(client, path)
        panel = html.split('data-testid="customer-tickets"')[1].split("</section>")[0]
        assert "1 open ticket" in panel
        assert f'data-ticket="{open_ticket.pk}"' in panel
        assert f'data-ticket="{solved.pk}"' not in panel
        assert "First response due" in panel
        # A sales rep reads tickets but opens none.
        assert 'data-testid="contact-new-ticket"' not in panel


def test_the_contact_page_runs_the_same_queries_for_one_and_many_tickets(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    _ticket(alpha, contact_id=contact.pk)
    agent = alpha.members[Role.SUPPORT_AGENT]
    client = workspace_client(agent.user, alpha.tenant)
    path = f"/sales/contacts/{contact.pk}/panels/"
    client.get(path)
    few = _queries(lambda: client.get(path))
    for n in range(15):
        _ticket(alpha, subject=f"T{n}", contact_id=contact.pk, assignee_id=agent.user_id)
    # The timeline shows its own 20 newest entries either way.
    assert _queries(lambda: client.get(path)) == few


def test_sla_settings_page_saves_hours_and_names_a_bad_day(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    assert client.get("/service/sla/").status_code == 200
    days = {f"day_{d}": "09:00-13:00, 14:00-18:00" for d in range(5)}
    response = client.post(
        "/service/sla/",
        {"section": "hours", "time_zone": "Europe/Rome", "holidays": "2026-12-25 Natale", **days},
    )
    assert response.status_code == 302
    hours = BusinessHours.objects.get()
    assert hours.time_zone == "Europe/Rome"
    assert hours.openings[:2] == [[0, 540, 780], [0, 840, 1080]]
    assert [h.name for h in hours.holidays.all()] == ["Natale"]

    bad = client.post(
        "/service/sla/",
        {"section": "hours", "time_zone": "Europe/Rome", "holidays": "", "day_0": "9-5"},
    )
    assert bad.status_code == 400
    assert 'data-field="openings"' in bad.content.decode()
    assert BusinessHours.objects.get().openings[:2] == [[0, 540, 780], [0, 840, 1080]]
