"""Routing: ordered rules by channel, keywords, customer tier and language pick a team; inside
the team round-robin or least busy among available agents with the skills and room under their
cap; a queue handed out oldest first when room frees up; manual assignment wins."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from crm_modules.service import services
from crm_modules.service.models import AgentProfile, RoutingRule, TeamRouting, Ticket
from crm_modules.service.services import routing
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Team
from tenants.roles import Role
from tests.conftest import Workspace
from tests.factories import MembershipFactory, UserFactory
from tests.sales.factories import CompanyFactory, ContactFactory
from tests.service.conftest import fresh
from tests.tenants.test_live_coalesced import heard_live_events

pytestmark = pytest.mark.usefixtures("in_alpha")

WEDNESDAY_10 = datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.UTC)


def _agent(
    alpha: Workspace, team: Team, name: str, *, available: bool = True, cap: int = 5, skills=()
) -> Membership:
    member = MembershipFactory.create(
        user=UserFactory(email=f"{name}@alpha.example.com"),
        tenant=alpha.tenant,
        role=Role.SUPPORT_AGENT,
        team=team,
    )
    AgentProfile.objects.create(
        user_id=member.user_id, available=available, max_open=cap, skills=list(skills)
    )
    return member


def _manager(alpha: Workspace) -> Membership:
    return fresh(alpha.members[Role.MANAGER])


def _open(alpha: Workspace, **kwargs: object) -> Ticket:
    kwargs.setdefault("subject", "Printer on fire")
    kwargs.setdefault("now", WEDNESDAY_10)
    ticket = services.ticket_create(actor=fresh(alpha.members[Role.SUPPORT_AGENT]), **kwargs)  # type: ignore[arg-type]
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def teams(alpha: Workspace) -> dict[str, Team]:
    return {
        name: Team.objects.create(tenant=alpha.tenant, name=name)
        for name in ("Billing", "Tech", "VIP", "Russian")
    }


def _rules(alpha: Workspace, teams: dict[str, Team]) -> None:
    manager = _manager(alpha)
    routing.routing_rule_save(
        actor=manager, name="VIP", team_id=teams["VIP"].pk, tiers="Gold, platinum"
    )
    routing.routing_rule_save(
        actor=manager, name="Russian", team_id=teams["Russian"].pk, languages="ru"
    )
    routing.routing_rule_save(
        actor=manager,
        name="Invoices by mail",
        team_id=teams["Billing"].pk,
        channels="email, web",
        keywords="invoice, счёт",
    )
    routing.routing_rule_save(
        actor=manager, name="Everything else", team_id=teams["Tech"].pk, skills="Printers"
    )


def test_the_first_matching_rule_picks_the_team(alpha: Workspace, teams: dict[str, Team]) -> None:
    _rules(alpha, teams)
    gold = ContactFactory.create(custom={"tier": "GOLD"})
    silver_company = CompanyFactory.create(custom={"tier": "platinum"})
    by_company = ContactFactory.create(company=silver_company)

    cases: list[tuple[dict[str, Any], str]] = [
        ({"contact_id": gold.pk, "language": "ru"}, "VIP"),
        ({"contact_id": by_company.pk}, "VIP"),
        ({"language": "RU", "subject": "invoice"}, "Russian"),
        ({"channel": "email", "subject": "Где мой СЧЁТ?"}, "Billing"),
        ({"channel": "web", "description": "the invoice is wrong"}, "Billing"),
        # A keyword match on a channel the rule does not cover falls through.
        ({"channel": "phone", "subject": "invoice"}, "Tech"),
        ({}, "Tech"),
    ]
    for kwargs, team in cases:
        ticket = _open(alpha, **kwargs)
        assert (ticket.team_id, ticket.assignee_id) == (teams[team].pk, None), kwargs
    assert ticket.skills == ["printers"]


def test_an_inactive_rule_and_no_rule_leave_the_ticket_unrouted(
    alpha: Workspace, teams: dict[str, Team]
) -> None:
    rule = routing.routing_rule_save(
        actor=_manager(alpha), name="All", team_id=teams["Tech"].pk, is_active=False
    )
    assert (_open(alpha).team_id, rule.is_active) == (None, False)
    RoutingRule.objects.all().delete()
    ticket = _open(alpha)
    assert (ticket.team_id, ticket.queued_at) == (None, None)


def test_round_robin_gives_each_available_agent_in_turn(
    alpha: Workspace, teams: dict[str, Team]
) -> None:
    team = teams["Tech"]
    ann, bob, cid = (_agent(alpha, team, n) for n in ("ann", "bob", "cid"))
    _agent(alpha, team, "away", available=False)
    routing.routing_rule_save(actor=_manager(alpha), name="All", team_id=team.pk)

    given = [_open(alpha).assignee_id for _ in range(4)]

    assert given == [ann.user_id, bob.user_id, cid.user_id, ann.user_id]
    assert Ticket.objects.filter(status="open", queued_at__isnull=True).count() == 4
    event = AuditEvent.objects.filter(action="ticket.assigned").order_by("id").first()
    assert event is not None
    assert (event.actor_id, event.data["routed"]) == (None, True)


def test_least_busy_gives_the_agent_with_fewest_open_tickets(
    alpha: Workspace, teams: dict[str, Team]
) -> None:
    team = teams["Tech"]
    ann, bob = _agent(alpha, team, "ann"), _agent(alpha, team, "bob")
    routing.team_routing_set(actor=_manager(alpha), team_id=team.pk, method="least_busy")
    for _ in range(2):
        services.ticket_create(
            actor=fresh(alpha.owner), subject="x", assignee_id=ann.user_id, now=WEDNESDAY_10
        )
    routing.routing_rule_save(actor=_manager(alpha), name="All", team_id=team.pk)

    given = [_open(alpha).assignee_id for _ in range(3)]

    assert given == [bob.user_id, bob.user_id, ann.user_id]


def test_skills_and_caps_limit_who_gets_a_ticket_and_the_rest_waits_in_the_queue(
    alpha: Workspace, teams: dict[str, Team]
) -> None:
    team = teams["Tech"]
    _agent(alpha, team, "novice", cap=5)
    expert = _agent(alpha, team, "expert", cap=1, skills=["printers", "linux"])
    routing.routing_rule_save(
        actor=_manager(alpha),
        name="Printers",
        team_id=team.pk,
        keywords="printer",
        skills="printers",
    )

    first = _open(alpha, now=WEDNESDAY_10)
    second = _open(alpha, now=WEDNESDAY_10 + datetime.timedelta(minutes=1))
    third = _open(alpha, now=WEDNESDAY_10 + datetime.timedelta(minutes=2))

    assert first.assignee_id == expert.user_id
    assert (second.assignee_id, second.queued_at) == (
        None,
        WEDNESDAY_10 + datetime.timedelta(minutes=1),
    )
    assert (third.assignee_id, third.status) == (None, "new")

    # The expert solves the first: the oldest waiting ticket is theirs, the other still waits.
    services.ticket_change_status(actor=fresh(expert), ticket=first, status="solved")
    second.refresh_from_db()
    third.refresh_from_db()
    assert (second.assignee_id, second.queued_at, second.status) == (expert.user_id, None, "open")
    assert (third.assignee_id, third.queued_at is not None) == (None, True)


def test_a_queued_ticket_goes_out_when_an_agent_becomes_available(
    alpha: Workspace, teams: dict[str, Team]
) -> None:
    team = teams["Tech"]
    away = _agent(alpha, team, "away", available=False)
    routing.routing_rule_save(actor=_manager(alpha), name="All", team_id=team.pk)
    older = _open(alpha, now=WEDNESDAY_10)
    newer = _open(alpha, now=WEDNESDAY_10 + datetime.timedelta(minutes=5))
    profile = AgentProfile.objects.get(user_id=away.user_id)
    profile.max_open = 1
    profile.save()
    assert (older.queued_at, newer.queued_at is not None) == (WEDNESDAY_10, True)

    routing.agent_availability_set(actor=fresh(away), available=True)

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.assignee_id, older.queued_at) == (away.user_id, None)
    assert (newer.assignee_id, newer.queued_at is not None) == (None, True)

    # A higher cap lets the next one go.
    routing.agent_settings_set(actor=_manager(alpha), user_id=away.user_id, skills="", max_open=2)
    newer.refresh_from_db()
    assert newer.assignee_id == away.user_id


def test_a_queue_handed_out_at_once_is_one_live_summary(
    alpha: Workspace, teams: dict[str, Team], django_capture_on_commit_callbacks: Any
) -> None:
    team = teams["Tech"]
    away = _agent(alpha, team, "away", available=False)
    routing.routing_rule_save(actor=_manager(alpha), name="All", team_id=team.pk)
    waiting = [_open(alpha, now=WEDNESDAY_10 + datetime.timedelta(minutes=n)) for n in range(4)]

    with heard_live_events() as heard, django_capture_on_commit_callbacks(execute=True):
        routing.agent_availability_set(actor=fresh(away), available=True)

    assert sorted(Ticket.objects.filter(assignee_id=away.user_id).values_list("pk", flat=True)) == [
        ticket.pk for ticket in waiting
    ]
    assert heard == [("tickets", "ticket.updated"), ("tickets", "agent.availability")]


def test_reassigning_frees_room_and_manual_assignment_takes_a_ticket_out_of_the_queue(
    alpha: Workspace, teams: dict[str, Team]
) -> None:
    team = teams["Tech"]
    ann = _agent(alpha, team, "ann", cap=1)
    routing.routing_rule_save(actor=_manager(alpha), name="All", team_id=team.pk)
    first = _open(alpha, now=WEDNESDAY_10)
    waiting = _open(alpha, now=WEDNESDAY_10 + datetime.timedelta(minutes=1))
    later = _open(alpha, now=WEDNESDAY_10 + datetime.timedelta(minutes=2))
    assert (first.assignee_id, waiting.assignee_id, later.assignee_id) == (ann.user_id, None, None)

    # A manager gives the latest waiting ticket straight to themselves: out of the queue.
    manager = _manager(alpha)
    services.ticket_assign(actor=manager, ticket=later, assignee_id=manager.user_id)
    later.refresh_from_db()
    assert (later.assignee_id, later.queued_at) == (manager.user_id, None)

    # The first ticket goes to the manager: Ann has room, and gets the oldest waiting one.
    services.ticket_assign(actor=manager, ticket=first, assignee_id=manager.user_id)
    waiting.refresh_from_db()
    assert (waiting.assignee_id, waiting.queued_at) == (ann.user_id, None)


def test_a_manual_team_hands_out_nothing(alpha: Workspace, teams: dict[str, Team]) -> None:
    team = teams["Tech"]
    _agent(alpha, team, "ann")
    routing.team_routing_set(actor=_manager(alpha), team_id=team.pk, method="manual")
    ticket = _open(alpha, team_id=None)
    assert ticket.team_id is None
    services.ticket_assign(actor=_manager(alpha), ticket=ticket, team_id=team.pk)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.team_id, ticket.assignee_id, ticket.queued_at) == (team.pk, None, None)


def test_moving_a_ticket_to_a_team_routes_it_there(
    alpha: Workspace, teams: dict[str, Team]
) -> None:
    ann = _agent(alpha, teams["Billing"], "ann")
    ticket = _open(alpha)
    services.ticket_assign(actor=_manager(alpha), ticket=ticket, team_id=teams["Billing"].pk)
    ticket.refresh_from_db()
    assert (ticket.team_id, ticket.assignee_id, ticket.status) == (
        teams["Billing"].pk,
        ann.user_id,
        "open",
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "", "team_id": None}, "name"),
        ({"name": "x", "team_id": 999_999}, "team"),
        ({"name": "x", "channels": "email, pigeon"}, "channels"),
        ({"name": "x", "keywords": ["ok", 3]}, "keywords"),
        ({"name": "x", "languages": "a" * 11}, "languages"),
        ({"name": "x", "position": "first"}, "position"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    alpha: Workspace, teams: dict[str, Team], kwargs: dict[str, object], field: str
) -> None:
    kwargs.setdefault("team_id", teams["Tech"].pk)
    with pytest.raises(ServiceError) as error:
        routing.routing_rule_save(actor=_manager(alpha), **kwargs)  # type: ignore[arg-type]
    assert error.value.field == field
    assert not RoutingRule.objects.exists()


def test_a_foreign_workspaces_team_is_refused(
    alpha: Workspace, bravo: Workspace, teams: dict[str, Team]
) -> None:
    foreign = Team.objects.create(tenant=bravo.tenant, name="Theirs")
    with pytest.raises(ServiceError) as error:
        routing.routing_rule_save(actor=_manager(alpha), name="x", team_id=foreign.pk)
    assert error.value.field == "team"
    with pytest.raises(ServiceError):
        routing.team_routing_set(actor=_manager(alpha), team_id=foreign.pk, method="least_busy")
    assert not TeamRouting.objects.exists()


@pytest.mark.parametrize("role", [Role.SUPPORT_AGENT, Role.SALES_REP, Role.READ_ONLY])
def test_only_managers_set_routing(alpha: Workspace, teams: dict[str, Team], role: str) -> None:
    actor = fresh(alpha.members[role])
    with pytest.raises(PermissionDenied):
        routing.routing_rule_save(actor=actor, name="x", team_id=teams["Tech"].pk)
    with pytest.raises(PermissionDenied):
        routing.agent_settings_set(actor=actor, user_id=actor.user_id, skills="", max_open=3)
    assert not RoutingRule.objects.exists()
    assert not AgentProfile.objects.exists()


def test_an_agent_sets_their_own_availability_but_not_a_colleagues(
    alpha: Workspace, teams: dict[str, Team]
) -> None:
    colleague = _agent(alpha, teams["Tech"], "colleague", available=False)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    assert routing.agent_availability_set(actor=agent, available=True).available is True
    with pytest.raises(PermissionDenied):
        routing.agent_availability_set(actor=agent, available=True, user_id=colleague.user_id)
    assert AgentProfile.objects.get(user_id=colleague.user_id).available is False
    with pytest.raises(PermissionDenied):
        routing.agent_availability_set(actor=fresh(alpha.members[Role.SALES_REP]), available=True)
