"""The next-response target (ADR 0060): business minutes from a customer message that follows
an agent's public reply to the next public reply, in the policy's business hours, paused with
the other clocks; warned of, breached and escalated like the first response and resolution."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from crm_modules.activities.models import Activity
from crm_modules.service import services, sla
from crm_modules.service.models import SlaTarget, Ticket
from crm_modules.service.services.customer import ticket_customer_message
from crm_modules.service.services.sla_alerts import sla_alerts_send
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

UTC = datetime.UTC
ROME = ZoneInfo("Europe/Rome")


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """December 2026; the 2nd is a Wednesday. Business hours: Mon-Fri 09:00-17:00 UTC."""
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def _targets(alpha: Workspace, next_urgent: object = 30) -> None:
    """Urgent: first response 60, next response ``next_urgent``, resolution 480 minutes."""
    targets: dict[str, tuple[object, ...]] = dict.fromkeys(("low", "normal", "high"), (60, 480))
    targets["urgent"] = (60, 480, next_urgent)
    services.sla_targets_update(actor=fresh(alpha.owner), targets=targets)


def _answered(alpha: Workspace, *, opened: datetime.datetime, replied: datetime.datetime) -> Ticket:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = services.ticket_create(
        actor=agent, subject="Сервер упал 服务器", priority="urgent",
        assignee_id=agent.user_id, now=opened,
    )  # fmt: skip
    services.ticket_reply(actor=agent, ticket=ticket, body="On it", now=replied)
    ticket.refresh_from_db()
    return ticket


def _customer(alpha: Workspace, ticket: Ticket, when: datetime.datetime, wake: bool = True) -> None:
    ticket_customer_message(
        tenant=alpha.tenant, ticket=ticket, body="Still down", now=when, wake=wake, reopen=True
    )
    ticket.refresh_from_db()


def _reply(alpha: Workspace, ticket: Ticket, when: datetime.datetime, **kwargs: Any) -> None:
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_reply(actor=agent, ticket=ticket, body="Fixed?", now=when, **kwargs)
    ticket.refresh_from_db()


def _state(ticket: Ticket, now: datetime.datetime) -> str:
    [timer] = [t for t in sla.state(ticket, now=now) if t.code == "next_response"]
    return timer.state


def test_no_clock_before_an_agent_replied_and_none_without_a_target(alpha: Workspace) -> None:
    _targets(alpha, next_urgent="")
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    _customer(alpha, ticket, at(2, 10, 30))
    # No target: the start is kept, no due time and nothing shown.
    assert ticket.next_response_started_at == at(2, 10, 30)
    assert ticket.next_response_due_at is None
    assert _state(ticket, at(2, 10, 31)) == "none"

    _targets(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    fresh_ticket = services.ticket_create(
        actor=agent, subject="New", priority="urgent", now=at(2, 11)
    )
    # A customer's message before any public reply is not a next-response wait.
    _customer(alpha, fresh_ticket, at(2, 11, 5))
    assert fresh_ticket.next_response_started_at is None
    assert fresh_ticket.next_response_due_at is None


def test_the_clock_runs_across_midnight_and_is_breached_warned_and_told(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _targets(alpha)
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    assert ticket.first_responded_at == at(2, 10, 10)
    assert ticket.next_response_due_at is None

    # Wednesday 16:40 + 30 business minutes: 20 today, 10 on Thursday from 09:00.
    _customer(alpha, ticket, at(2, 16, 40))
    assert ticket.next_response_started_at == at(2, 16, 40)
    assert ticket.next_response_due_at == at(3, 9, 10)
    assert ticket.next_response_warn_at == at(2, 16, 55)
    assert ticket.sla_alarm_at == at(2, 16, 55)
    assert ticket.next_due_at == at(3, 9, 10)
    assert _state(ticket, at(2, 17)) == "running"

    # A second message before the reply does not restart the wait.
    _customer(alpha, ticket, at(3, 9))
    assert ticket.next_response_started_at == at(2, 16, 40)
    assert ticket.next_response_due_at == at(3, 9, 10)

    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 16, 55)) == 1
    assert [m.subject for m in mail.outbox] == [
        f"SLA warning: Next response of ticket #{ticket.pk} is due 12/03/2026 9:10 a.m."
    ]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(3, 9, 10)) == 1
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["SLA breached"]
    assert "Next response" in mail.outbox[0].subject
    ticket.refresh_from_db()
    assert ticket.next_response_breached is True
    [entry] = Activity.objects.filter(kind="ticket_sla_breach")
    assert entry.data["target"] == "next_response"
    assert AuditEvent.objects.filter(action="ticket.sla_breached").count() == 1

    # The late reply ends the wait; it stays breached.
    _reply(alpha, ticket, at(3, 9, 20))
    assert ticket.next_responded_at == at(3, 9, 20)
    assert _state(ticket, at(3, 9, 21)) == "breached"
    assert ticket.next_due_at == ticket.resolution_due_at

    # The customer writes again: a new wait, not breached, met by a reply in time.
    _customer(alpha, ticket, at(3, 10))
    assert (ticket.next_response_breached, ticket.next_response_warned) == (False, False)
    assert ticket.next_response_due_at == at(3, 10, 30)
    _reply(alpha, ticket, at(3, 10, 20))
    assert _state(ticket, at(3, 10, 21)) == "met"
    assert ticket.next_response_breached is False
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(3, 10, 31)) == 0


def test_a_reply_in_time_is_met_and_nothing_is_told(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _targets(alpha)
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    _customer(alpha, ticket, at(2, 11))
    _reply(alpha, ticket, at(2, 11, 10))
    assert ticket.next_responded_at == at(2, 11, 10)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 11, 45)) == 0
    assert mail.outbox == []
    assert _state(ticket, at(2, 12)) == "met"


def test_a_late_reply_without_a_sweep_is_breached(alpha: Workspace) -> None:
    _targets(alpha)
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    _customer(alpha, ticket, at(2, 11))
    _reply(alpha, ticket, at(2, 11, 31))
    assert ticket.next_response_breached is True
    assert _state(ticket, at(2, 12)) == "breached"


def test_pending_then_the_customer_writes_the_wait_counts_from_the_message(
    alpha: Workspace,
) -> None:
    _targets(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = services.ticket_create(
        actor=agent, subject="Printer", priority="urgent", assignee_id=agent.user_id, now=at(2, 10)
    )
    _reply(alpha, ticket, at(2, 10, 10), status="pending")
    assert ticket.paused_since == at(2, 10, 10)
    # The message opens the ticket again: due 30 business minutes after it, the pause
    # before it not added.
    _customer(alpha, ticket, at(2, 11))
    assert ticket.status == "open"
    assert ticket.next_response_due_at == at(2, 11, 30)


def test_on_hold_pauses_the_wait_and_only_the_time_since_the_message_is_added(
    alpha: Workspace,
) -> None:
    _targets(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    services.ticket_change_status(actor=agent, ticket=ticket, status="on_hold", now=at(2, 10, 20))
    ticket.refresh_from_db()
    _customer(alpha, ticket, at(2, 11))
    assert ticket.status == "on_hold"
    assert _state(ticket, at(2, 11, 40)) == "paused"
    # Resumed an hour after the message: the hour is added, the 40 minutes before it are not.
    services.ticket_change_status(actor=agent, ticket=ticket, status="open", now=at(2, 12))
    ticket.refresh_from_db()
    assert ticket.next_response_due_at == at(2, 12, 30)
    assert ticket.sla_alarm_at == at(2, 12, 15)


def test_an_automatic_message_starts_no_wait(alpha: Workspace) -> None:
    _targets(alpha)
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    _customer(alpha, ticket, at(2, 11), wake=False)
    assert ticket.next_response_started_at is None


def test_a_new_priority_moves_the_next_response_due_time(alpha: Workspace) -> None:
    _targets(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    _customer(alpha, ticket, at(2, 11))
    assert ticket.next_response_due_at == at(2, 11, 30)
    services.ticket_update(
        actor=agent, ticket=ticket, changes={"priority": "high"}, now=at(2, 11, 5)
    )
    ticket.refresh_from_db()
    # High has no next-response target here.
    assert ticket.next_response_due_at is None
    assert _state(ticket, at(2, 11, 6)) == "none"


@pytest.mark.parametrize(
    ("local_start", "local_due"),
    [
        # Rome springs forward at 02:00 on 29 March 2026: two hours of business time from
        # 01:30 end at 04:30 summer time.
        (
            datetime.datetime(2026, 3, 29, 1, 30, tzinfo=ROME),
            datetime.datetime(2026, 3, 29, 4, 30, tzinfo=ROME),
        ),
        # Rome falls back at 03:00 on 25 October 2026: two hours from 01:30 end at 02:30
        # winter time (the hour from 02:00 to 03:00 runs twice).
        (
            datetime.datetime(2026, 10, 25, 1, 30, tzinfo=ROME),
            datetime.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ROME),
        ),
    ],
)
def test_the_wait_across_a_dst_change_counts_real_business_time(
    alpha: Workspace, local_start: datetime.datetime, local_due: datetime.datetime
) -> None:
    owner = fresh(alpha.owner)
    services.business_hours_update(
        actor=owner,
        time_zone="Europe/Rome",
        openings=[[d, 0, 1440] for d in range(7)],
        holidays=[],
    )
    targets: dict[str, tuple[object, ...]] = dict.fromkeys(("low", "normal", "high"), (60, 480))
    targets["urgent"] = (60, 480, 120)
    services.sla_targets_update(actor=owner, targets=targets)
    start = local_start
    ticket = _answered(
        alpha,
        opened=start - datetime.timedelta(hours=2),
        replied=start - datetime.timedelta(hours=1),
    )
    _customer(alpha, ticket, start)
    due = local_due.astimezone(UTC)
    assert ticket.next_response_due_at == due
    assert ticket.next_response_due_at - start == datetime.timedelta(hours=2)
    _reply(alpha, ticket, due - datetime.timedelta(seconds=1))
    assert ticket.next_response_breached is False


def test_only_owner_and_admin_set_next_response_targets(alpha: Workspace) -> None:
    targets: dict[str, tuple[object, ...]] = dict.fromkeys(
        ("low", "normal", "high", "urgent"), (30, 60, 45)
    )
    for role in (Role.MANAGER, Role.SUPPORT_AGENT):
        with pytest.raises(PermissionDenied):
            services.sla_targets_update(actor=fresh(alpha.members[role]), targets=targets)
    assert not SlaTarget.objects.exists()
    services.sla_targets_update(actor=fresh(alpha.members[Role.ADMIN]), targets=targets)
    assert set(SlaTarget.objects.values_list("next_response_minutes", flat=True)) == {45}
    targets["low"] = (30, 60, "  ")
    services.sla_targets_update(actor=fresh(alpha.owner), targets=targets)
    assert SlaTarget.objects.get(priority="low").next_response_minutes is None


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ((30, 60, "0"), "low_next_response"),
        ((30, 60, "lots"), "low_next_response"),
        ((30, 60, True), "low_next_response"),
        ((30, 60, 90), "low_next_response"),
    ],
)
def test_bad_next_response_targets_name_the_field(
    alpha: Workspace, value: tuple[object, ...], field: str
) -> None:
    targets: dict[str, tuple[object, ...]] = dict.fromkeys(("normal", "high", "urgent"), (30, 60))
    targets["low"] = value
    with pytest.raises(ServiceError) as error:
        services.sla_targets_update(actor=fresh(alpha.owner), targets=targets)
    assert error.value.field == field
    assert not SlaTarget.objects.exists()


def test_an_escalation_on_the_next_response_runs_on_its_breach(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _targets(alpha)
    services.sla_escalation_add(
        actor=fresh(alpha.owner), target="next_response", action="raise_priority"
    )
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    services.ticket_update(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]), ticket=ticket, changes={"priority": "high"},
        now=at(2, 10, 15),
    )  # fmt: skip
    # High: next response of 45 minutes for this test.
    SlaTarget.objects.filter(priority="high").update(next_response_minutes=45)
    _customer(alpha, ticket, at(2, 11))
    assert ticket.next_response_due_at == at(2, 11, 45)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_alerts_send(tenant=alpha.tenant, now=at(2, 11, 46)) == 1
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    [event] = AuditEvent.objects.filter(action="ticket.escalated")
    assert event.data["target"] == "next_response"


def test_the_settings_page_shows_and_saves_next_response_targets(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    page = client.get("/service/sla/").content.decode()
    assert 'name="urgent_next_response"' in page
    values = {}
    for priority in ("low", "normal", "high", "urgent"):
        values[f"{priority}_first_response"] = "60"
        values[f"{priority}_resolution"] = "480"
        values[f"{priority}_next_response"] = "120" if priority == "urgent" else ""
    response = client.post("/service/sla/", {"section": "targets", **values})
    assert response.status_code == 302
    assert dict(SlaTarget.objects.values_list("priority", "next_response_minutes")) == {
        "low": None, "normal": None, "high": None, "urgent": 120,
    }  # fmt: skip
    assert 'value="120"' in client.get("/service/sla/").content.decode()
    bad = client.post("/service/sla/", {"section": "targets", **values, "low_next_response": "x"})
    assert bad.status_code == 400
    assert 'data-field="low_next_response"' in bad.content.decode()


def test_the_ticket_page_shows_the_next_response_timer(alpha: Workspace) -> None:
    _targets(alpha)
    ticket = _answered(alpha, opened=at(2, 10), replied=at(2, 10, 10))
    _customer(alpha, ticket, datetime.datetime.now(UTC))
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    page = client.get(f"/service/{ticket.pk}/").content.decode()
    assert "Next response" in page
