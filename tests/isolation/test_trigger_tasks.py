"""Event-trigger tasks carry their workspace's schema (tenant_schemas_celery): run in another
workspace with this one's ids, they find nothing and change nothing here; the sweep visits only
workspaces whose trigger alarm is due."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.marketing.models_triggers import TriggerFiring, TriggerRule
from crm_modules.marketing.triggers import engine, tasks
from tenants.alarms import alarm_at
from tenants.roles import Role
from tests.conftest import Workspace
from tests.isolation.conftest import db_state
from tests.sales.factories import ContactFactory


def _pending(workspace: Workspace) -> tuple[int, int]:
    with schema_context(workspace.tenant.schema_name):
        owner = workspace.members[Role.OWNER]
        rule = TriggerRule.objects.create(
            name="Later",
            definition={
                "when": {"event": "sales.tag_added", "match": {"tag": "x"}},
                "delay_minutes": 60,
                "actions": [{"type": "add_tag", "tag": "y"}],
            },
            listens_to="sales.tag_added",
            run_as=owner.user,
        )
        contact = ContactFactory.create(owner=owner.user)
        TriggerFiring.objects.create(
            rule=rule,
            contact=contact,
            occurrence="o",
            due_at=timezone.now() - datetime.timedelta(minutes=1),
        )
        return rule.pk, contact.pk


def test_trigger_tasks_run_for_another_workspace_touch_nothing_here(
    alpha: Workspace, bravo: Workspace
) -> None:
    _rule_id, contact_id = _pending(alpha)
    before = db_state(alpha)
    with schema_context(bravo.tenant.schema_name):
        assert (
            tasks.trigger_evaluate.run("sales.tag_added", contact_id, "o2", {"tag": "x"}, []) == 0
        )
        assert engine.run_due(now=timezone.now()) == 0
    assert db_state(alpha) == before


def test_the_sweep_runs_only_workspaces_whose_alarm_is_due(
    alpha: Workspace, bravo: Workspace
) -> None:
    _pending(alpha)
    _pending(bravo)
    with schema_context(bravo.tenant.schema_name):
        alarm_at(kind=engine.SWEEP_ALARM, at=timezone.now() - datetime.timedelta(seconds=1))
    assert tasks.trigger_sweep.run() == 1
    with schema_context(bravo.tenant.schema_name):
        assert TriggerFiring.objects.get().status == TriggerFiring.Status.DONE
    with schema_context(alpha.tenant.schema_name):
        assert TriggerFiring.objects.get().status == TriggerFiring.Status.PENDING
