"""Escalations on SLA breach, set on the policy and run by the SLA sweep: notify a member,
reassign to a member or a team (then routed), raise the priority; only for the target named,
once per breach; a bad escalation is refused naming the field."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core import mail

from crm_modules.service import services
from crm_modules.service.models import AgentProfile, SlaEscalation, Ticket
from crm_modules.service.services.sla_alerts import sla_alerts_send
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Team
from tenants.roles import Role
from tests.conftest import Workspace
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """December 2026; the 2nd is a Wednesday. Business hours: Mon-Fri 09:00-17:00 UTC."""
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=datetime.UTC)


def _ticket(alpha: Workspace, priority: str = "urgent", **kwargs: Any) -> Ticket:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    return services.ticket_create(
        actor=agent, subject="Server down", priority=priority, now=at(2, 10), **kwargs
    )


def _escalate(alpha: Workspace, **kwargs: Any) -> SlaEscalation:
    return services.sla_escalation_add(actor=fresh(alpha.owner), **kwargs)


def test_a_breach_raises_the_priority_and_notifies_the_lead(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    lead = alpha.members[Role.MANAGER]
    agent = alpha.members[Role.SUPPORT_AGENT]
    _escalate(alpha, target="first_response", action="notify", user_id=lead.user_id)
    _escalate(alpha, target="any", action="raise_priority")
    # High: first response due 4 business hours after 10:00, at 14:00.
    ticket = _ticket(alpha, priority="high", assignee_id=agent.user_id)
    assert ticket.first_response_due_at == at(2, 14)

    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 14, 1)) == 1

    ticket.refresh_from_db()
    assert (ticket.priority, ticket.first_response_breached) == ("urgent", True)
    # The urgent resolution target (8 business hours) is counted from creation again.
    assert ticket.resolution_due_at == at(3, 10)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([agent.user.email, lead.user.email])
    actions = sorted(e.data["action"] for e in AuditEvent.objects.filter(action="ticket.escalated"))
    assert actions == ["notify", "raise_priority"]

    # Told once: the next sweep at the same minute escalates nothing again.
    mail.outbox.clear()
    sla_alerts_send(tenant=alpha.tenant, now=at(2, 14, 2))
    assert AuditEvent.objects.filter(action="ticket.escalated").count() == 2
    assert mail.outbox == []


def test_a_breach_of_another_target_does_not_escalate(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _escalate(alpha, target="resolution", action="raise_priority")
    ticket = _ticket(alpha, priority="normal")
    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=ticket.first_response_due_at)
    ticket.refresh_from_db()
    assert (ticket.first_response_breached, ticket.priority) == (True, "normal")
    assert not AuditEvent.objects.filter(action="ticket.escalated").exists()


def test_a_breach_reassigns_to_a_team_whose_routing_picks_an_agent(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    team = Team.objects.create(tenant=alpha.tenant, name="Tier 2")
    senior = alpha.members[Role.ADMIN]
    Membership.objects.filter(pk=senior.pk).update(team=team)
    AgentProfile.objects.create(user_id=senior.user_id, available=True)
    _escalate(alpha, target="any", action="reassign", team_id=team.pk)
    agent = alpha.members[Role.SUPPORT_AGENT]
    ticket = _ticket(alpha, assignee_id=agent.user_id)

    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=at(2, 11))

    ticket.refresh_from_db()
    assert (ticket.team_id, ticket.assignee_id) == (team.pk, senior.user_id)
    event = AuditEvent.objects.get(action="ticket.escalated")
    assert event.data == {
        "target": "first_response",
        "action": "reassign",
        "from": agent.user_id,
        "to": senior.user_id,
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target": "lunch", "action": "notify"}, "target"),
        ({"target": "any", "action": "shout"}, "action"),
        ({"target": "any", "action": "notify"}, "user"),
        ({"target": "any", "action": "reassign"}, "user"),
        ({"target": "any", "action": "notify", "user_id": 999_999}, "user"),
        ({"target": "any", "action": "reassign", "team_id": 999_999}, "team"),
    ],
)
def test_bad_escalations_are_refused_naming_the_field(
    alpha: Workspace, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ServiceError) as error:
        _escalate(alpha, **kwargs)
    assert error.value.field == field
    assert not SlaEscalation.objects.exists()


def test_reassigning_to_a_member_who_only_reads_is_refused(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    with pytest.raises(ServiceError) as error:
        _escalate(alpha, target="any", action="reassign", user_id=rep.user_id)
    assert error.value.field == "user"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SUPPORT_AGENT, Role.READ_ONLY])
def test_only_owner_and_admin_set_escalations(alpha: Workspace, role: str) -> None:
    with pytest.raises(PermissionDenied):
        services.sla_escalation_add(
            actor=fresh(alpha.members[role]), target="any", action="raise_priority"
        )
    assert not SlaEscalation.objects.exists()
