"""Two tickets routed at the same moment (the workspace's first two, so they also make its
default SLA policy at the same moment) to a team whose only agent has one free place: the
team's advisory lock serialises the decisions, so one ticket is given and the other waits.
Runs on the committed test workspace (real concurrent transactions) and removes what it made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context

from crm_modules.activities.models import Activity
from crm_modules.service import services
from crm_modules.service.models import (
    AgentProfile,
    BusinessHours,
    RoutingRule,
    SlaPolicy,
    TeamRouting,
    Ticket,
)
from crm_modules.service.services import routing
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Team, User
from tenants.roles import Role
from tests.concurrency import race
from tests.conftest import World
from tests.factories import MembershipFactory, UserFactory
from tests.sales.conftest import fresh


def test_two_tickets_routed_at_once_never_exceed_an_agents_cap(
    world: World, django_db_blocker: Any
) -> None:
    alpha = world.alpha
    schema = alpha.tenant.schema_name
    with django_db_blocker.unblock():
        team = Team.objects.create(tenant=alpha.tenant, name="Race team")
        agent = MembershipFactory.create(
            user=UserFactory(email="racer@alpha.example.com"),
            tenant=alpha.tenant,
            role=Role.SUPPORT_AGENT,
            team=team,
        )
        try:
            with schema_context(schema):
                assert not SlaPolicy.objects.exists()
                AgentProfile.objects.create(user_id=agent.user_id, available=True, max_open=1)
                routing.routing_rule_save(actor=fresh(alpha.owner), name="All", team_id=team.pk)
            _race(world, schema, agent)
        finally:
            with schema_context(schema):
                Activity.objects.all().delete()
                AuditEvent.objects.filter(action__startswith="ticket.").delete()
                Ticket.objects.all().delete()
                SlaPolicy.objects.all().delete()
                BusinessHours.objects.all().delete()
                RoutingRule.objects.all().delete()
                TeamRouting.objects.all().delete()
                AgentProfile.objects.all().delete()
            user_id = agent.user_id
            Membership.objects.filter(pk=agent.pk).delete()
            User.objects.filter(pk=user_id).delete()
            team.delete()


def _race(world: World, schema: str, agent: Membership) -> None:
    def create(subject: str) -> Callable[[Callable[[], object]], None]:
        def run(go: Callable[[], object]) -> None:
            actor = fresh(world.alpha.members[Role.SUPPORT_AGENT])
            go()
            services.ticket_create(actor=actor, subject=subject)

        return run

    race([create("one"), create("two")], schema=schema)
    with schema_context(schema):
        rows = sorted(
            (
                (assignee, queued is None)
                for assignee, queued in Ticket.objects.values_list("assignee_id", "queued_at")
            ),
            key=lambda row: row[1],
        )
    # Exactly one given, the other queued; one default policy.
    with schema_context(schema):
        assert SlaPolicy.objects.count() == 1
    assert rows == [(None, False), (agent.user_id, True)]
