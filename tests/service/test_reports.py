"""Service in reports: tickets by status and channel, first-response and resolution times, SLA
attainment, backlog age; satisfaction by agent and team — through the reporting registry."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from crm_modules.reporting.compiler import run
from crm_modules.reporting.definition import check_definition
from crm_modules.service.models import CsatSurvey, Ticket
from tenants.models import Team
from tenants.roles import Role
from tests.conftest import Workspace
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


def test_response_and_resolution_times_sla_attainment_and_backlog_age(alpha: Workspace) -> None:
    now = timezone.now()
    hour = datetime.timedelta(hours=1)
    _ticket(
        alpha,
        status="solved",
        created_at=now - 10 * hour,
        first_responded_at=now - 9 * hour,
        solved_at=now - 6 * hour,
    )
    _ticket(
        alpha,
        status="solved",
        created_at=now - 10 * hour,
        first_responded_at=now - 7 * hour,
        solved_at=now - 2 * hour,
        resolution_breached=True,
    )
    _ticket(alpha, status="open", created_at=now - datetime.timedelta(days=3))
    _ticket(alpha, status="pending", created_at=now - datetime.timedelta(days=1))

    def measured(*codes: str) -> tuple[Any, ...]:
        # A report holds at most two measures.
        [row] = _rows({"source": "tickets", "measures": [{"measure": c} for c in codes]}, alpha)
        return row

    first, resolution = measured("first_response_hours", "resolution_hours")
    attained, backlog = measured("sla_attainment", "backlog_age_days")
    (still_open,) = measured("open")
    assert first == pytest.approx(2.0)  # (1 h + 3 h) / 2
    assert resolution == pytest.approx(6.0)  # (4 h + 8 h) / 2
    assert attained == pytest.approx(75.0)  # 3 of 4 without a breach
    assert backlog == pytest.approx(2.0, abs=0.01)  # (3 d + 1 d) / 2
    assert still_open == 2


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
