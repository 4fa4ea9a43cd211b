"""Customer satisfaction: a survey email when a ticket is solved (again after a reopening),
one-click links that record nothing on GET, the answer recorded on POST, a follow-up task for
the team lead after a bad rating, results per agent and team, the history on the contact."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail, signing
from django.db import connection

from crm_modules.activities.models import Activity
from crm_modules.sales.models import Task
from crm_modules.service import selectors, services
from crm_modules.service.models import CsatSurvey, Ticket
from crm_modules.service.services import csat
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Team
from tenants.roles import Role
from tests.conftest import Workspace, record_page, workspace_client
from tests.isolation.conftest import db_state
from tests.service.conftest import customer, fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

LINK = re.compile(r"http://alpha\.localhost(?::\d+)?(/portal/rate/[^/\s]+/)\?score=(\d)")


def _solved(alpha: Workspace, capture: Any, *, email: str = "ada@example.com", **kw: Any) -> Ticket:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    contact = customer(email, first_name="Ada", last_name="Lovelace")
    ticket = services.ticket_create(
        actor=agent,
        subject="Printer on fire",
        contact_id=contact.pk,
        assignee_id=agent.user_id,
        **kw,
    )
    with capture(execute=True):
        services.ticket_change_status(actor=agent, ticket=ticket, status="solved")
    return ticket


def _links(message: Any) -> dict[int, str]:
    return {int(score): path for path, score in LINK.findall(message.body)}


def _client(alpha: Workspace) -> Any:
    from django.test import Client

    return Client(HTTP_HOST=alpha.host)


def test_solving_a_ticket_emails_one_click_links_for_each_score(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _solved(alpha, django_capture_on_commit_callbacks)

    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == f"How did we do? Ticket #{ticket.pk}: Printer on fire"
    links = _links(message)
    assert sorted(links) == [1, 2, 3, 4, 5]
    assert len(set(links.values())) == 1  # one token, the score in the query
    assert "text/html" in [mimetype for _body, mimetype in message.alternatives]  # type: ignore[attr-defined]
    survey = CsatSurvey.objects.get(ticket=ticket)
    assert survey.delivery == CsatSurvey.Delivery.SENT
    assert survey.agent_id == alpha.members[Role.SUPPORT_AGENT].user_id
    assert survey.score is None


def test_a_ticket_without_an_address_asks_nobody(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.sales.factories import ContactFactory

    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    nameless = services.ticket_create(actor=agent, subject="No contact")
    no_mail = services.ticket_create(
        actor=agent, subject="No address", contact_id=ContactFactory.create().pk
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_change_status(actor=agent, ticket=nameless, status="solved")
        services.ticket_change_status(actor=agent, ticket=no_mail, status="solved")

    assert mail.outbox == []
    assert not CsatSurvey.objects.filter(ticket=nameless).exists()
    assert CsatSurvey.objects.get(ticket=no_mail).delivery == CsatSurvey.Delivery.NO_ADDRESS


def test_following_a_link_shows_the_score_chosen_and_records_nothing(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _solved(alpha, django_capture_on_commit_callbacks)
    path = _links(mail.outbox[0])[2]
    before = db_state(alpha)

    response = _client(alpha).get(f"{path}?score=2")

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'value="2" checked data-testid="csat-score-2"', html)
    assert html.count(" checked") == 1
    assert db_state(alpha) == before  # a mail scanner's visit changes nothing


def test_posting_records_the_rating_and_a_second_answer_replaces_it(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _solved(alpha, django_capture_on_commit_callbacks)
    path = _links(mail.outbox[0])[5]
    client = _client(alpha)

    response = client.post(path, {"score": "5", "comment": "Quick and kind"})
    assert response.status_code == 200
    assert b'data-testid="csat-thanks"' in response.content
    survey = CsatSurvey.objects.get(ticket=ticket)
    assert (survey.score, survey.comment) == (5, "Quick and kind")
    assert survey.follow_up_task_id is None
    assert Task.objects.count() == 0

    client.post(path, {"score": "4", "comment": ""})
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "")
    # One timeline entry (the first answer), one audit row per answer.
    assert Activity.objects.filter(kind="ticket_csat").count() == 1
    assert AuditEvent.objects.filter(action="ticket.csat_rated").count() == 2


def test_a_rating_out_of_range_is_refused_naming_the_field(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _solved(alpha, django_capture_on_commit_callbacks)
    path = _links(mail.outbox[0])[3]
    before = db_state(alpha)

    for score in ("0", "6", "x", ""):
        response = _client(alpha).post(path, {"score": score})
        assert response.status_code == 400
        assert b'data-testid="error-score"' in response.content
    response = _client(alpha).post(path, {"score": "3", "comment": "x" * 5001})
    assert response.status_code == 400
    assert b'data-testid="error-comment"' in response.content
    assert db_state(alpha) == before
    assert CsatSurvey.objects.get(ticket=ticket).score is None


def test_a_bad_rating_gives_the_team_lead_one_follow_up_task(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    team = Team.objects.create(tenant=alpha.tenant, name="Tier 1")
    manager = alpha.members[Role.MANAGER]
    Membership.objects.filter(pk=manager.pk).update(team=team)
    admin = fresh(alpha.members[Role.ADMIN])
    ticket = _solved(alpha, django_capture_on_commit_callbacks)
    Ticket.objects.filter(pk=ticket.pk).update(team=team)
    CsatSurvey.objects.filter(ticket=ticket).update(team=team)
    path = _links(mail.outbox[0])[1]

    _client(alpha).post(path, {"score": "1", "comment": "Nobody helped"})
    _client(alpha).post(path, {"score": "2"})  # still bad: no second task

    [task] = Task.objects.all()
    assert task.owner_id == manager.user_id
    assert task.contact_id == ticket.contact_id
    assert task.priority == Task.Priority.HIGH
    assert task.title == f"Follow up a bad rating (1/5) on ticket #{ticket.pk}"
    assert CsatSurvey.objects.get(ticket=ticket).follow_up_task_id == task.pk
    del admin


def test_without_a_team_the_workspace_manager_follows_up(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _solved(alpha, django_capture_on_commit_callbacks)
    _client(alpha).post(_links(mail.outbox[0])[2], {"score": "2"})
    [task] = Task.objects.all()
    assert task.owner_id == alpha.members[Role.MANAGER].user_id
    assert CsatSurvey.objects.get(ticket=ticket).follow_up_task_id == task.pk


def test_reopened_and_solved_again_asks_again(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = _solved(alpha, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_change_status(actor=agent, ticket=ticket, status="solved")  # no change
        services.ticket_change_status(actor=agent, ticket=ticket, status="closed")
    assert len(mail.outbox) == 1  # solved → closed is not a new solution

    other = _solved(alpha, django_capture_on_commit_callbacks, email="bob@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_change_status(actor=agent, ticket=other, status="open")
        services.ticket_reply(actor=agent, ticket=other, body="Fixed now", status="solved")
    # The surveys, besides the agent's reply itself (emailed to the customer too).
    surveys = [m for m in mail.outbox if "/portal/rate/" in m.body]
    assert len(surveys) == 3
    assert [m.body for m in mail.outbox if m not in surveys] == ["Fixed now"]
    first, second = CsatSurvey.objects.filter(ticket=other).order_by("pk")
    assert _links(surveys[1])[5] != _links(surveys[2])[5]
    # The first survey stays answerable.
    assert _client(alpha).post(_links(surveys[1])[5], {"score": "5"}).status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.score, second.score) == (5, None)


def test_a_forged_or_foreign_token_finds_nothing(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _solved(alpha, django_capture_on_commit_callbacks)
    survey = CsatSurvey.objects.get(ticket=ticket)
    forged = signing.dumps({"w": alpha.tenant.schema_name, "s": survey.pk}, salt="other")
    foreign = signing.dumps({"w": bravo.tenant.schema_name, "s": survey.pk}, salt=csat.TOKEN_SALT)
    tampered = _links(mail.outbox[0])[1].replace("/rate/", "/rate/x")
    before = db_state(alpha)
    for path in (f"/portal/rate/{forged}/", f"/portal/rate/{foreign}/", tampered):
        for method in ("get", "post"):
            response = getattr(_client(alpha), method)(path, {"score": "1"})
            assert response.status_code == 404
            assert b'data-testid="csat-invalid"' in response.content
    assert db_state(alpha) == before
    # Alpha's token on bravo's host: bravo's schema has no such survey, and the token names alpha.
    connection.set_tenant(bravo.tenant)  # type: ignore[attr-defined]
    from django.test import Client

    response = Client(HTTP_HOST=bravo.host).post(_links(mail.outbox[0])[1], {"score": "1"})
    assert response.status_code == 404


def test_results_per_agent_and_team(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    team = Team.objects.create(tenant=alpha.tenant, name="Tier 2")
    agent = alpha.members[Role.SUPPORT_AGENT]
    scores = [5, 4, 1]
    for n, score in enumerate(scores):
        ticket = _solved(alpha, django_capture_on_commit_callbacks, email=f"c{n}@example.com")
        CsatSurvey.objects.filter(ticket=ticket).update(team=team if n < 2 else None)
        _client(alpha).post(_links(mail.outbox[-1])[score], {"score": str(score)})

    results = selectors.csat_results(actor=fresh(agent))
    [by_agent] = results["agents"]
    assert (by_agent["agent_id"], by_agent["answers"], by_agent["good"], by_agent["bad"]) == (
        agent.user_id,
        3,
        2,
        1,
    )
    assert float(by_agent["average"]) == pytest.approx(10 / 3)
    assert by_agent["csat"] == 67
    teams = {row["team_id"]: (row["answers"], row["csat"], row["name"]) for row in results["teams"]}
    assert teams == {team.pk: (2, 100, "Tier 2"), None: (1, 0, "")}

    page = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant).get(
        "/service/satisfaction/"
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-agent="{agent.user_id}"' in html
    assert f'data-team="{team.pk}"><td>Tier 2</td><td>2</td><td>4.50</td><td>100%' in html


def test_the_contact_page_shows_the_satisfaction_history(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _solved(alpha, django_capture_on_commit_callbacks)
    _client(alpha).post(_links(mail.outbox[0])[4], {"score": "4", "comment": "Good <b>job</b>"})
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)

    html = record_page(client, f"/sales/contacts/{ticket.contact_id}/")

    assert 'data-testid="csat-history"' in html
    assert '<strong data-testid="csat-score">4/5</strong>' in html
    assert "Good &lt;b&gt;job&lt;/b&gt;" in html
    assert "4.0 of 5 from 1 rating" in html
