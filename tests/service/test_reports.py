"""Service in reports: tickets by status and channel, first-response and resolution times, SLA
attainment, backlog age; satisfaction by agent and team — through the reporting registry."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.utils import timezone

from crm_modules.reporting.compiler import run
from crm_modules.reporting.definition import check_definition
from crm_modules.service import services
from crm_modules.service.models import CsatSurvey, Ticket
from tenants.models import Team
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def _rows(raw: dict[str, Any], alpha: Workspace) -> list[tuple[Any, ...]]:
    result = run(check_definition(raw), fresh(alpha.owner))
    return [(*row.labels, *row.values) for row in result.rows]


def _ticket(alpha: Workspace, **fields: Any) -> Ticket:
    fields.setdefault("subject", "T")
    fields.setdefault("assignee_id", alpha.members[Role.SUPPORT_AGENT].user_id)
    return Ticket.objects.create(**fields)


def test_tickets_by_status_and_channel(alpha: Workspace) -> None:
    _ticket(alpha, status="open", channel="email")
    _ticket(alpha, status="open", channel="portal")
    _ticket(alpha, status="solved", channel="email")
    rows = _rows(
        {"source": "tickets", "group_by": [{"field": "status"}, {"field": "channel"}]}, alpha
    )
    assert sorted(rows) == [
        ("Open", "Email", 1),
        ("Open", "Portal", 1),
        ("Solved", "Email", 1),
    ]


def _worked(
    alpha: Workspace,
    opened: datetime.datetime,
    replied: datetime.datetime,
    solved: datetime.datetime,
) -> Ticket:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = services.ticket_create(actor=agent, subject="T", assignee_id=agent.user_id, now=opened)
    services.ticket_reply(actor=agent, ticket=ticket, body="On it", now=replied)
    services.ticket_change_status(actor=agent, ticket=ticket, status="solved", now=solved)
    ticket.refresh_from_db()
    return ticket


def test_response_and_resolution_times_in_business_hours_sla_attainment_and_backlog_age(
    alpha: Workspace,
) -> None:
    """Times are business hours of the ticket's calendar (Mon-Fri 09:00-17:00 UTC here), the
    SLA clock's arithmetic: a night and a weekend count nothing."""

    def dec(day: int, hour: int, minute: int = 0) -> datetime.datetime:
        return datetime.datetime(2026, 12, day, hour, minute, tzinfo=datetime.UTC)

    # Wednesday 16:00, answered Thursday 10:00 (2 business hours, 18 wall-clock hours),
    # solved Thursday 12:00 (4 business hours).
    _worked(alpha, dec(2, 16), dec(3, 10), dec(3, 12))
    # Friday 16:00, answered Monday 09:30 (1.5 business hours over the weekend), solved
    # Monday 11:00 (3 business hours).
    weekend = _worked(alpha, dec(4, 16), dec(7, 9, 30), dec(7, 11))
    assert (weekend.first_response_business_seconds, weekend.resolution_business_seconds) == (
        int(1.5 * 3600),
        3 * 3600,
    )
    now = timezone.now()
    _ticket(alpha, status="solved", resolution_breached=True)
    _ticket(alpha, status="open", created_at=now - datetime.timedelta(days=3))
    _ticket(alpha, status="pending", created_at=now - datetime.timedelta(days=1))

    def measured(*codes: str) -> tuple[Any, ...]:
        # A report holds at most two measures.
        [row] = _rows({"source": "tickets", "measures": [{"measure": c} for c in codes]}, alpha)
        return row

    first, resolution = measured("first_response_hours", "resolution_hours")
    attained, backlog = measured("sla_attainment", "backlog_age_days")
    (still_open,) = measured("open")
    assert first == pytest.approx(1.75)  # (2 h + 1.5 h) / 2
    assert resolution == pytest.approx(3.5)  # (4 h + 3 h) / 2
    assert attained == pytest.approx(80.0)  # 4 of 5 without a breach
    assert backlog == pytest.approx(2.0, abs=0.01)  # (3 d + 1 d) / 2
    assert still_open == 2

    # Reopened, the ticket's resolution time is empty again until it is solved anew.
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_change_status(actor=agent, ticket=weekend, status="open", now=dec(7, 12))
    weekend.refresh_from_db()
    assert weekend.resolution_business_seconds is None
    assert weekend.first_response_business_seconds == int(1.5 * 3600)


def test_satisfaction_by_agent_and_team(alpha: Workspace) -> None:
    team = Team.objects.create(tenant=alpha.tenant, name="Tier 1")
    agent = alpha.members[Role.SUPPORT_AGENT]
    ticket = _ticket(alpha)
    now = timezone.now()
    for score, rated_team in ((5, team), (4, team), (1, None)):
        CsatSurvey.objects.create(
            ticket=ticket, agent_id=agent.user_id, team=rated_team, score=score, rated_at=now
        )
    CsatSurvey.objects.create(ticket=ticket, agent_id=agent.user_id, team=team)  # unanswered
    rows = _rows(
        {
            "source": "csat",
            "group_by": [{"field": "team"}],
            "measures": [{"measure": "average_score"}, {"measure": "csat_percent"}],
        },
        alpha,
    )
    by_team = {row[0]: row[1:] for row in rows}
    assert float(by_team["Tier 1"][0]) == pytest.approx(4.5)
    assert by_team["Tier 1"][1] == pytest.approx(100.0)
    assert len(rows) == 2
    counts = _rows({"source": "csat", "group_by": [{"field": "team"}]}, alpha)
    assert dict(counts)["Tier 1"] == 2
    [(name, count)] = _rows({"source": "csat", "group_by": [{"field": "agent"}]}, alpha)
    assert (name, count) == (agent.user.full_name, 3)


def test_top_categories_by_type_and_by_tag(alpha: Workspace) -> None:
    _ticket(alpha, type="problem", tags=["billing", "refund"])
    _ticket(alpha, type="problem", tags=["billing"])
    _ticket(alpha, type="question", tags=["billing", "доставка"])
    _ticket(alpha, type="question", tags=[])
    _ticket(alpha, type="incident", tags=["ราคา"], assignee_id=alpha.owner.user_id)

    by_type = _rows({"source": "tickets", "group_by": [{"field": "type"}]}, alpha)
    assert sorted(by_type) == [("Incident", 1), ("Problem", 2), ("Question", 2)]

    by_tag = _rows(
        {
            "source": "ticket_tags",
            "group_by": [{"field": "tag"}],
            "measures": [{"measure": "tickets"}],
        },
        alpha,
    )
    assert sorted(by_tag, key=lambda row: (-row[1], row[0])) == [
        ("billing", 3),
        ("refund", 1),
        ("доставка", 1),
        ("ราคา", 1),
    ]
    by_tag_and_type = _rows(
        {"source": "ticket_tags", "group_by": [{"field": "tag"}, {"field": "type"}]}, alpha
    )
    assert ("billing", "Problem", 2) in by_tag_and_type
    assert ("billing", "Question", 1) in by_tag_and_type


def test_ticket_custom_fields_filter_and_group_in_reports_and_the_builder(
    alpha: Workspace,
) -> None:
    from crm_modules.sales import services as sales_services
    from tests.conftest import workspace_client

    owner = fresh(alpha.owner)
    sales_services.custom_field_create(
        actor=owner, entity="ticket", code="product", label="Prodotto", type="select",
        options=["Cloud", "On premise"],
    )  # fmt: skip
    sales_services.custom_field_create(
        actor=owner, entity="ticket", code="seats", label="Seats", type="number"
    )
    # A contact field of the same code is not a ticket field.
    sales_services.custom_field_create(
        actor=owner, entity="contact", code="region", label="Region", type="text"
    )
    _ticket(alpha, custom={"product": "Cloud", "seats": 40})
    _ticket(alpha, custom={"product": "Cloud", "seats": 5})
    _ticket(alpha, custom={"product": "On premise", "seats": 90})
    _ticket(alpha)
    rows = _rows(
        {
            "source": "tickets",
            "filters": [{"field": "custom.seats", "op": "gte", "value": "10"}],
            "group_by": [{"field": "custom.product"}],
        },
        alpha,
    )
    assert sorted(rows) == [("Cloud", 1), ("On premise", 1)]

    builder = workspace_client(alpha.owner.user, alpha.tenant).get(
        "/reporting/builder/", {"source": "tickets"}
    )
    page = builder.content.decode()
    assert 'value="custom.product"' in page
    assert "Prodotto" in page
    assert 'value="custom.region"' not in page


def test_next_response_breaches_are_counted_rated_in_attainment_and_drilled(
    alpha: Workspace,
) -> None:
    """Next-response breaches stand beside the first-response and resolution ones: a field to
    group, filter and drill by, a count and a rate of each target, and in SLA attainment."""
    now = timezone.now()
    late = _ticket(alpha, subject="Late again", status="open", next_response_started_at=now,
                   next_response_breached=True)  # fmt: skip
    _ticket(alpha, status="open", next_response_started_at=now)
    _ticket(alpha, status="open", first_response_breached=True)
    _ticket(alpha, status="solved", resolution_breached=True)
    _ticket(alpha, status="open")

    def measured(*codes: str) -> tuple[Any, ...]:
        [row] = _rows({"source": "tickets", "measures": [{"measure": c} for c in codes]}, alpha)
        return row

    assert measured("next_response_breaches", "next_response_breach_rate") == (
        1,
        pytest.approx(50.0),  # 1 of the 2 tickets that ran the clock
    )
    assert measured("first_response_breaches", "first_response_breach_rate") == (
        1,
        pytest.approx(20.0),
    )
    assert measured("resolution_breaches", "resolution_breach_rate") == (1, pytest.approx(20.0))
    assert measured("sla_attainment") == (pytest.approx(40.0),)  # 2 of 5 without a breach

    rows = _rows({"source": "tickets", "group_by": [{"field": "next_response_breached"}]}, alpha)
    assert sorted(rows, key=str) == sorted([("Yes", 1), ("No", 4)], key=str)

    client = workspace_client(alpha.owner.user, alpha.tenant)
    definition = {
        "source": "tickets",
        "filters": [{"field": "next_response_breached", "op": "is", "value": True}],
    }
    page = client.get("/reporting/drill/", {"d": json.dumps(definition)})
    assert page.status_code == 200
    body = page.content.decode()
    assert f"#{late.pk} Late again" in body
    # Only the breached one.
    assert body.count('<li class="list-row"><a href="/service/') == 1
