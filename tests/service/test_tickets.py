"""Ticket services: every write checks the role, validates naming the field, leaves nothing
half-done, puts the ticket and its replies on the customer's shared timeline, and runs the SLA
clocks in business hours with pauses."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from crm_modules.activities.api import timeline
from crm_modules.activities.models import Activity
from crm_modules.service import services
from crm_modules.service.models import BusinessHours, Holiday, SlaTarget, Ticket, TicketMessage
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace
from tests.sales.factories import CompanyFactory, ContactFactory
from tests.service.conftest import fresh
from tests.tenants.test_live_coalesced import heard_live_events

pytestmark = pytest.mark.usefixtures("in_alpha")

UTC = datetime.UTC
# A Wednesday; the default business hours are Monday-Friday 09:00-17:00 in the workspace's
# time zone (UTC for alpha).
WEDNESDAY_10 = datetime.datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def _open(alpha: Workspace, **kwargs: object) -> Ticket:
    kwargs.setdefault("subject", "Printer on fire")
    kwargs.setdefault("now", WEDNESDAY_10)
    return services.ticket_create(actor=fresh(alpha.members[Role.SUPPORT_AGENT]), **kwargs)  # type: ignore[arg-type]


def test_a_ticket_for_a_contact_is_on_the_contact_and_company_timelines(alpha: Workspace) -> None:
    company = CompanyFactory.create(name="Acme")
    contact = ContactFactory.create(company=company)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])

    ticket = services.ticket_create(
        actor=agent,
        subject="  Не работает   вход ",
        description="Since Monday",
        priority="high",
        contact_id=contact.pk,
        tags="login, 登录, login",
        now=WEDNESDAY_10,
    )

    ticket.refresh_from_db()
    assert ticket.subject == "Не работает вход"
    assert ticket.company_id == company.pk
    assert ticket.status == "new"
    assert ticket.tags == ["login", "登录"]
    assert ticket.created_by_id == agent.user_id
    # High: 4 business hours to a first response, 16 to the solution.
    assert ticket.first_response_due_at == at(2, 14)
    assert ticket.resolution_due_at == at(4, 10)
    assert ticket.next_due_at == at(2, 14)
    for record in (contact, company, ticket):
        (entry,) = timeline(record)
        assert (entry.kind, entry.subject, entry.data) == (
            "ticket",
            ticket.subject,
            {"ticket": ticket.pk},
        )
    assert list(
        AuditEvent.objects.filter(target_id=str(ticket.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["ticket.created"]


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.MARKETER, Role.READ_ONLY])
def test_roles_that_only_read_cannot_open_a_ticket(alpha: Workspace, role: str) -> None:
    with pytest.raises(PermissionDenied):
        services.ticket_create(actor=fresh(alpha.members[role]), subject="Hello")
    assert not Ticket.objects.exists()
    assert not Activity.objects.filter(kind="ticket").exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 201}, "subject"),
        ({"subject": "Bell\u202e"}, "subject"),
        ({"priority": "critical"}, "priority"),
        ({"ticket_type": "rant"}, "type"),
        ({"channel": "pigeon"}, "channel"),
        ({"contact_id": 999999}, "contact"),
        ({"contact_id": "1; DROP TABLE"}, "contact"),
        ({"company_id": -1}, "company"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"team_id": 999999}, "team"),
        ({"description": "d" * 100_001}, "description"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    alpha: Workspace, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ServiceError) as error:
        _open(alpha, **kwargs)
    assert error.value.field == field
    assert not Ticket.objects.exists()
    assert not Activity.objects.exists()


def test_a_public_reply_fulfils_the_first_response_and_opens_the_ticket(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    ticket = _open(alpha, contact_id=contact.pk)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])

    services.ticket_reply(actor=agent, ticket=ticket, body="Looking into it", now=at(2, 11))

    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.first_responded_at == at(2, 11)
    assert ticket.first_response_breached is False
    assert ticket.next_due_at == ticket.resolution_due_at
    assert ticket.updated_at == at(2, 11)
    (message,) = TicketMessage.objects.filter(ticket=ticket)
    assert (message.kind, message.direction, message.body) == (
        "reply",
        "outbound",
        "Looking into it",
    )
    assert [a.kind for a in timeline(contact)] == ["ticket_reply", "ticket"]
    assert timeline(contact)[0].data == {"ticket": ticket.pk, "message": message.pk}


def test_an_internal_note_does_not_count_as_a_response(alpha: Workspace) -> None:
    ticket = _open(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])

    services.ticket_reply(
        actor=agent, ticket=ticket, body="Customer is VIP", public=False, now=at(2, 11)
    )

    ticket.refresh_from_db()
    assert ticket.status == "new"
    assert ticket.first_responded_at is None
    assert ticket.next_due_at == ticket.first_response_due_at
    assert TicketMessage.objects.get(ticket=ticket).direction == "internal"
    assert [a.kind for a in timeline(ticket)] == ["ticket_note", "ticket"]


def test_a_late_first_reply_is_marked_breached_for_good(alpha: Workspace) -> None:
    ticket = _open(alpha, priority="urgent")  # due within one business hour: 11:00
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])

    services.ticket_reply(actor=agent, ticket=ticket, body="Sorry", now=at(2, 11, 1))

    ticket.refresh_from_db()
    assert ticket.first_response_due_at == at(2, 11)
    assert ticket.first_response_breached is True


def test_pending_customer_pauses_the_clocks_and_resuming_shifts_them_by_business_time(
    alpha: Workspace,
) -> None:
    ticket = _open(alpha)  # normal: first response Thu 10:00, resolution Wed 9 Dec 10:00
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_reply(
        actor=agent, ticket=ticket, body="Which model?", status="pending", now=at(2, 12)
    )
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    assert ticket.paused_since == at(2, 12)
    assert ticket.next_due_at is None

    # Paused from Wednesday 12:00 to Thursday 10:00: 5 + 1 = 6 business hours.
    services.ticket_change_status(actor=agent, ticket=ticket, status="open", now=at(3, 10))

    ticket.refresh_from_db()
    assert ticket.paused_since is None
    assert ticket.paused_seconds == 6 * 3600
    assert ticket.resolution_due_at == at(9, 16)
    assert ticket.next_due_at == at(9, 16)


def test_solving_straight_from_pending_meets_the_resolution_target(alpha: Workspace) -> None:
    ticket = _open(alpha, priority="urgent")  # resolution due 8 business hours later: Thu 10:00
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_change_status(actor=agent, ticket=ticket, status="pending", now=at(2, 11))

    services.ticket_change_status(actor=agent, ticket=ticket, status="solved", now=at(7, 9))

    ticket.refresh_from_db()
    assert ticket.solved_at == at(7, 9)
    assert ticket.resolution_breached is False
    assert ticket.next_due_at is None
    assert [e.kind for e in timeline(ticket)] == ["ticket_status", "ticket_status", "ticket"]


def test_a_target_passed_before_the_pause_stays_breached(alpha: Workspace) -> None:
    ticket = _open(alpha, priority="urgent")
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_change_status(actor=agent, ticket=ticket, status="on_hold", now=at(2, 12))
    services.ticket_change_status(actor=agent, ticket=ticket, status="open", now=at(3, 12))

    ticket.refresh_from_db()
    assert ticket.first_response_breached is True
    assert ticket.resolution_breached is False


def test_a_new_priority_recomputes_the_due_times(alpha: Workspace) -> None:
    ticket = _open(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])

    services.ticket_update(
        actor=agent, ticket=ticket, changes={"priority": "urgent"}, now=at(2, 10, 5)
    )

    ticket.refresh_from_db()
    assert ticket.first_response_due_at == at(2, 11)
    assert ticket.resolution_due_at == at(3, 10)
    assert list(
        AuditEvent.objects.filter(target_id=str(ticket.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == [
        "ticket.created",
        "ticket.updated",
    ]


def test_a_closed_ticket_takes_no_reply_and_stays_closed(alpha: Workspace) -> None:
    ticket = _open(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_change_status(actor=agent, ticket=ticket, status="closed", now=at(2, 11))

    with pytest.raises(ServiceError) as error:
        services.ticket_reply(actor=agent, ticket=ticket, body="Hello again")
    assert error.value.field == "body"
    with pytest.raises(ServiceError):
        services.ticket_change_status(actor=agent, ticket=ticket, status="open")
    assert not TicketMessage.objects.exists()
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_an_empty_reply_is_refused_and_nothing_is_written(alpha: Workspace) -> None:
    ticket = _open(alpha)
    before = Activity.objects.count()
    with pytest.raises(ServiceError) as error:
        services.ticket_reply(
            actor=fresh(alpha.members[Role.SUPPORT_AGENT]), ticket=ticket, body=" \n "
        )
    assert error.value.field == "body"
    assert not TicketMessage.objects.exists()
    assert Activity.objects.count() == before


def test_an_agent_takes_a_ticket_but_gives_it_to_nobody_else(alpha: Workspace) -> None:
    ticket = _open(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    manager = alpha.members[Role.MANAGER]

    services.ticket_assign(actor=agent, ticket=ticket, assignee_id=agent.user_id, now=at(2, 11))
    ticket.refresh_from_db()
    assert (ticket.assignee_id, ticket.status) == (agent.user_id, "open")

    with pytest.raises(PermissionDenied):
        services.ticket_assign(actor=agent, ticket=ticket, assignee_id=manager.user_id)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == agent.user_id


def test_a_manager_assigns_only_to_members_who_work_tickets(alpha: Workspace) -> None:
    ticket = _open(alpha)
    manager = fresh(alpha.members[Role.MANAGER])
    agent = alpha.members[Role.SUPPORT_AGENT]

    with pytest.raises(ServiceError) as error:
        services.ticket_assign(
            actor=manager, ticket=ticket, assignee_id=alpha.members[Role.SALES_REP].user_id
        )
    assert error.value.field == "assignee"
    services.ticket_assign(actor=manager, ticket=ticket, assignee_id=agent.user_id)

    ticket.refresh_from_db()
    assert ticket.assignee_id == agent.user_id
    event = AuditEvent.objects.get(action="ticket.assigned")
    assert event.data == {"from": {"assignee_id": None}, "to": {"assignee_id": agent.user_id}}


def test_bulk_status_is_all_or_nothing(alpha: Workspace) -> None:
    tickets = [_open(alpha, subject=f"Ticket {n}") for n in range(3)]
    manager = fresh(alpha.members[Role.MANAGER])
    services.ticket_change_status(actor=manager, ticket=tickets[2], status="closed")

    with pytest.raises(ServiceError):
        services.tickets_bulk(actor=manager, ticket_ids=[t.pk for t in tickets], status="solved")
    assert sorted(Ticket.objects.values_list("status", flat=True)) == ["closed", "new", "new"]

    assert (
        services.tickets_bulk(
            actor=manager, ticket_ids=[t.pk for t in tickets[:2]], status="solved"
        )
        == 2
    )
    assert sorted(Ticket.objects.values_list("status", flat=True)) == ["closed", "solved", "solved"]


def test_a_bulk_change_is_one_live_summary_not_an_event_per_ticket_and_change(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    tickets = [_open(alpha) for _ in range(3)]
    manager = fresh(alpha.members[Role.MANAGER])
    with heard_live_events() as heard, django_capture_on_commit_callbacks(execute=True):
        changed = services.tickets_bulk(
            actor=manager,
            ticket_ids=[t.pk for t in tickets],
            priority="high",
            assignee_id=manager.user_id,
            status="pending",
        )
    assert changed == 3
    # Three changes to each of three tickets: nine events one by one.
    assert heard == [("tickets", "ticket.updated")]
    assert sorted(Ticket.objects.values_list("priority", "status")) == [("high", "pending")] * 3


def test_bulk_assign_needs_the_right_to_assign(alpha: Workspace) -> None:
    ticket = _open(alpha)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    with pytest.raises(PermissionDenied):
        services.tickets_bulk(actor=agent, ticket_ids=[ticket.pk], assignee_id=agent.user_id)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


@pytest.mark.parametrize(
    ("ids", "field"),
    [
        ([], "tickets"),
        (["abc"], "tickets"),
        ([999999], "tickets"),
        (list(range(1, 202)), "tickets"),
    ],
)
def test_bulk_with_bad_ids_names_the_field(alpha: Workspace, ids: list[object], field: str) -> None:
    with pytest.raises(ServiceError) as error:
        services.tickets_bulk(actor=fresh(alpha.owner), ticket_ids=ids, status="solved")
    assert error.value.field == field


# --- SLA settings -------------------------------------------------------------------------------


def test_business_hours_with_a_time_zone_and_holidays_drive_new_due_times(alpha: Workspace) -> None:
    admin = fresh(alpha.members[Role.ADMIN])
    services.business_hours_update(
        actor=admin,
        time_zone="Asia/Bangkok",
        openings=[[d, 8 * 60, 12 * 60] for d in range(5)],
        holidays=[["2026-12-03", "วันหยุด"]],
    )
    hours = BusinessHours.objects.get(is_default=True)
    assert (hours.time_zone, hours.openings) == ("Asia/Bangkok", [[d, 480, 720] for d in range(5)])
    assert list(Holiday.objects.values_list("date", "name")) == [
        (datetime.date(2026, 12, 3), "วันหยุด")
    ]

    # Wednesday 10:00 Bangkok is 03:00 UTC; normal: 8 business hours = 2 h Wed, Thu off, 4 h Fri,
    # 2 h Mon → Monday 7 December 10:00 Bangkok.
    ticket = _open(alpha, now=at(2, 3))
    assert ticket.first_response_due_at == at(7, 3)
    assert AuditEvent.objects.filter(action="sla.changed").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"openings": [[0, 600, 540]]}, "openings"),
        ({"openings": [[0, 540, 720], [0, 700, 800]]}, "openings"),
        ({"openings": []}, "openings"),
        ({"openings": [[0, "9", 17]]}, "openings"),
        ({"openings": [[0, 0, 1]]}, "openings"),  # one minute a week never reaches the targets
        ({"holidays": [["25/12/2026", "Xmas"]]}, "holidays"),
    ],
)
def test_bad_business_hours_name_the_field_and_change_nothing(
    alpha: Workspace, kwargs: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {
        "time_zone": "Europe/Rome",
        "openings": [[0, 540, 1020]],
        "holidays": [],
        **kwargs,
    }
    with pytest.raises(ServiceError) as error:
        services.business_hours_update(actor=fresh(alpha.owner), **values)  # type: ignore[arg-type]
    assert error.value.field == field
    assert not BusinessHours.objects.exists()
    assert not AuditEvent.objects.filter(action="sla.changed").exists()


def test_only_owner_and_admin_change_the_sla(alpha: Workspace) -> None:
    targets = dict.fromkeys(("low", "normal", "high", "urgent"), (30, 60))
    with pytest.raises(PermissionDenied):
        services.sla_targets_update(actor=fresh(alpha.members[Role.MANAGER]), targets=targets)
    assert not SlaTarget.objects.exists()

    services.sla_targets_update(actor=fresh(alpha.owner), targets=targets)
    assert sorted(
        SlaTarget.objects.values_list("priority", "first_response_minutes", "resolution_minutes")
    ) == [
        ("high", 30, 60),
        ("low", 30, 60),
        ("normal", 30, 60),
        ("urgent", 30, 60),
    ]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (("0", 60), "low_first_response"),
        ((30, "lots"), "low_resolution"),
        ((90, 60), "low_first_response"),
    ],
)
def test_bad_targets_name_the_field(
    alpha: Workspace, value: tuple[object, object], field: str
) -> None:
    targets: dict[str, tuple[object, object]] = dict.fromkeys(
        ("normal", "high", "urgent"), (30, 60)
    )
    targets["low"] = value
    with pytest.raises(ServiceError) as error:
        services.sla_targets_update(actor=fresh(alpha.owner), targets=targets)
    assert error.value.field == field
    assert not SlaTarget.objects.exists()
