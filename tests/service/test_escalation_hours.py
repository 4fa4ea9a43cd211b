"""When a breach's escalations run (ADR 0044): at once when the sweep finds the breach on time
inside business hours, else at the next opening of the ticket's calendar — across midnight,
the clocks changing, weekends and holidays. Properties over any schedule and instant, explicit
days, and the sweep deferring and later running a reassignment and a notice."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_modules.service import clock, services, sla
from crm_modules.service.clock import Schedule
from crm_modules.service.models import DeferredEscalation, Ticket
from crm_modules.service.services.sla_alerts import sla_alerts_next_at, sla_alerts_send
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace
from tests.service.conftest import fresh
from tests.service.test_clock import instants, office, schedules

UTC = datetime.UTC
SECOND = datetime.timedelta(seconds=1)
ROME = ZoneInfo("Europe/Rome")


@settings(max_examples=200, deadline=None)
@given(
    schedule=schedules(),
    now=instants,
    late=st.integers(min_value=0, max_value=7 * 24 * 3600),
)
def test_escalations_run_inside_business_hours_and_as_soon_as_they_may(
    schedule: Schedule, now: datetime.datetime, late: int
) -> None:
    due = now - datetime.timedelta(seconds=late)
    run = sla.escalation_at(due, now, schedule)
    assert run >= now
    on_time = datetime.timedelta(seconds=late) <= sla.ESCALATION_GRACE and (
        clock.is_open(due, schedule) or clock.is_open(due - SECOND, schedule)
    )
    if on_time or clock.is_open(now, schedule):
        assert run == now
    else:
        # The first instant of the next opening: open then, no business time before it.
        assert clock.is_open(run, schedule)
        assert not clock.is_open(run - SECOND, schedule)
        assert clock.business_seconds_between(now, run, schedule) == 0


def test_a_late_sweep_on_friday_night_escalates_on_monday_morning() -> None:
    schedule = office(ROME)
    due = datetime.datetime(2026, 12, 4, 17, 0, tzinfo=ROME)  # Friday, closing time
    assert sla.escalation_at(due, due + datetime.timedelta(minutes=1), schedule) == (
        due + datetime.timedelta(minutes=1)
    )
    night = datetime.datetime(2026, 12, 4, 23, 30, tzinfo=ROME)
    assert sla.escalation_at(due, night, schedule) == datetime.datetime(
        2026, 12, 7, 9, 0, tzinfo=ROME
    )
    # Monday a holiday: Tuesday.
    closed = office(ROME, holidays=frozenset({datetime.date(2026, 12, 7)}))
    assert sla.escalation_at(due, night, closed) == datetime.datetime(
        2026, 12, 8, 9, 0, tzinfo=ROME
    )


def test_the_next_opening_after_the_clocks_go_back_is_local_nine() -> None:
    """Rome leaves summer time on Sunday 25 October 2026: Monday 09:00 is 08:00 UTC, not
    07:00 as it was the Friday before."""
    schedule = office(ROME)
    due = datetime.datetime(2026, 10, 23, 17, 0, tzinfo=ROME)
    run = sla.escalation_at(due, datetime.datetime(2026, 10, 25, 2, 30, tzinfo=UTC), schedule)
    assert run == datetime.datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert run.astimezone(ROME).hour == 9


def test_a_night_shift_across_midnight_escalates_at_once() -> None:
    """Openings 22:00-24:00 and 00:00-06:00: a breach at midnight found two hours later is
    inside hours; one found at 07:00 waits for 22:00."""
    shift = Schedule(
        zone=ROME,
        week=clock.check_hours({d: [(0, 360), (1320, 1440)] for d in range(7)}),
    )
    due = datetime.datetime(2026, 3, 29, 0, 0, tzinfo=ROME)  # the night Rome springs forward
    found = datetime.datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    assert sla.escalation_at(due, found, shift) == found
    morning = datetime.datetime(2026, 3, 29, 7, 0, tzinfo=ROME)
    assert sla.escalation_at(due, morning, shift) == datetime.datetime(
        2026, 3, 29, 22, 0, tzinfo=ROME
    )


# --- the sweep --------------------------------------------------------------------------------


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """December 2026; the 2nd is a Wednesday. Business hours: Mon-Fri 09:00-17:00 UTC."""
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def _breached_at_five(alpha: Workspace) -> Ticket:
    """An urgent ticket opened at 16:00 on Wednesday: its first response is due at 17:00."""
    agent = alpha.members[Role.SUPPORT_AGENT]
    ticket = services.ticket_create(
        actor=fresh(agent),
        subject="Server down",
        priority="urgent",
        assignee_id=agent.user_id,
        now=at(2, 16),
    )
    assert ticket.first_response_due_at == at(2, 17)
    return ticket


@pytest.mark.usefixtures("in_alpha")
def test_a_breach_found_late_at_night_is_escalated_when_business_hours_start(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    lead = alpha.members[Role.MANAGER]
    services.sla_escalation_add(
        actor=fresh(alpha.owner),
        target="first_response",
        action="reassign",
        user_id=lead.user_id,
    )
    services.sla_escalation_add(
        actor=fresh(alpha.owner), target="any", action="notify", user_id=alpha.owner.user_id
    )
    ticket = _breached_at_five(alpha)

    # The sweep was down until 22:00: the assignee hears of the breach, nothing is escalated.
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 22)) == 1
    ticket.refresh_from_db()
    assert ticket.first_response_breached is True
    assert ticket.assignee_id == alpha.members[Role.SUPPORT_AGENT].user_id
    assert [m.to[0] for m in mail.outbox] == [alpha.members[Role.SUPPORT_AGENT].user.email]
    assert not AuditEvent.objects.filter(action="ticket.escalated").exists()
    row = DeferredEscalation.objects.get()
    assert (row.ticket_id, row.target, row.breached_at, row.run_at) == (
        ticket.pk,
        "first_response",
        at(2, 17),
        at(3, 9),
    )
    assert sla_alerts_next_at() == at(3, 9)

    # Before the opening nothing moves.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(3, 8, 59)) == 0
    assert mail.outbox == []

    # At 09:00 the ticket is reassigned and the owner told, once.
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(3, 9)) == 1
    ticket.refresh_from_db()
    assert ticket.assignee_id == lead.user_id
    assert [m.to[0] for m in mail.outbox] == [alpha.owner.user.email]
    events = AuditEvent.objects.filter(action="ticket.escalated").order_by("id")
    assert [(e.data["action"], e.data["breached_at"]) for e in events] == [
        ("reassign", at(2, 17).isoformat()),
        ("notify", at(2, 17).isoformat()),
    ]
    assert not DeferredEscalation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=at(3, 9, 5))
    assert AuditEvent.objects.filter(action="ticket.escalated").count() == 2


@pytest.mark.usefixtures("in_alpha")
def test_a_breach_found_on_time_at_closing_escalates_at_once(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    services.sla_escalation_add(actor=fresh(alpha.owner), target="any", action="raise_priority")
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = services.ticket_create(actor=agent, subject="Slow", priority="high", now=at(2, 13))
    assert ticket.first_response_due_at == at(2, 17)
    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=at(2, 17, 1))
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert not DeferredEscalation.objects.exists()


@pytest.mark.usefixtures("in_alpha")
def test_a_ticket_solved_before_the_opening_is_not_escalated(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    services.sla_escalation_add(actor=fresh(alpha.owner), target="any", action="raise_priority")
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = services.ticket_create(actor=agent, subject="Slow", priority="normal", now=at(2, 9))
    assert ticket.first_response_due_at == at(2, 17)
    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=at(2, 23))
    assert DeferredEscalation.objects.filter(ticket=ticket).exists()
    services.ticket_change_status(actor=agent, ticket=ticket, status="solved", now=at(3, 8))
    with django_capture_on_commit_callbacks(execute=True):
        sla_alerts_send(tenant=alpha.tenant, now=at(3, 9))
    ticket.refresh_from_db()
    assert ticket.priority == "normal"
    assert not AuditEvent.objects.filter(action="ticket.escalated").exists()
    assert not DeferredEscalation.objects.exists()
