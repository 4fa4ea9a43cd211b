"""The SLA re-choice task (ADR 0061) carries its workspace's schema (tenant_schemas_celery):
run in another workspace with this one's ids, it finds nothing and changes nothing here."""

from __future__ import annotations

import datetime

from django_tenants.utils import schema_context

from crm_modules.service import services, tasks
from crm_modules.service.models import Ticket
from tenants.roles import Role
from tests.conftest import Workspace
from tests.isolation.conftest import db_state
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory

WEEK = [[d, 0, 1440] for d in range(7)]


def _gold_ticket_on_the_default_policy(workspace: Workspace) -> tuple[int, int]:
    """A gold customer's open ticket, and a Gold policy saved after it whose task has not run
    (the test's transaction never commits)."""
    with schema_context(workspace.tenant.schema_name):
        contact = ContactFactory.create(custom={"tier": "gold"})
        ticket = services.ticket_create(
            actor=fresh(workspace.members[Role.SUPPORT_AGENT]),
            subject="Down",
            contact_id=contact.pk,
            now=datetime.datetime(2026, 12, 2, 10, tzinfo=datetime.UTC),
        )
        services.sla_policy_save(
            actor=fresh(workspace.owner), name="Gold", time_zone="UTC", openings=WEEK,
            holidays=[], targets=dict.fromkeys(("low", "normal", "high", "urgent"), (30, 240)),
            tiers="gold",
        )  # fmt: skip
        return contact.pk, ticket.pk


def test_the_sla_reapply_task_run_for_another_workspace_touches_nothing_here(
    alpha: Workspace, bravo: Workspace
) -> None:
    contact_id, ticket_id = _gold_ticket_on_the_default_policy(alpha)
    before = db_state(alpha)
    with schema_context(bravo.tenant.schema_name):
        assert tasks.reapply_sla_policies.run(contacts=[contact_id], companies=[]) == 0
        assert tasks.reapply_sla_policies.run() == 0
    assert db_state(alpha) == before
    # Run in its own workspace, the same task does change the ticket.
    with schema_context(alpha.tenant.schema_name):
        assert tasks.reapply_sla_policies.run(contacts=[contact_id], companies=[]) == 1
        ticket = Ticket.objects.select_related("sla_policy").get(pk=ticket_id)
        assert ticket.sla_policy.name == "Gold"  # type: ignore[union-attr]
