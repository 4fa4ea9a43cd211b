"""The reminder sweep enters only the workspaces whose reminder alarm is due (tenants/alarms.py),
and after each visit sets the alarm to that workspace's next reminder."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.sales import services
from crm_modules.sales.models import Task
from crm_modules.sales.services.reminders import REMIND_BEFORE, REMINDER_ALARM
from crm_modules.sales.tasks import send_task_reminders
from tenants.alarms import alarm_at, alarm_reset, alarms_due
from tenants.models import WorkspaceAlarm
from tests.conftest import Workspace
from tests.sales.conftest import fresh
from tests.sales.factories import TaskFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def alarm(workspace: Workspace) -> WorkspaceAlarm | None:
    return WorkspaceAlarm.objects.filter(
        kind=REMINDER_ALARM, schema_name=workspace.tenant.schema_name
    ).first()


def test_creating_a_task_sets_the_alarm_to_its_reminder_time_and_keeps_the_earliest(
    alpha: Workspace,
) -> None:
    now = timezone.now()
    later = now + datetime.timedelta(days=2)
    sooner = now + datetime.timedelta(hours=3)
    services.task_create(actor=fresh(alpha.owner), title="Later", due_at=later)
    assert alarm(alpha).due_at == later - REMIND_BEFORE  # type: ignore[union-attr]
    services.task_create(actor=fresh(alpha.owner), title="Sooner", due_at=sooner)
    services.task_create(actor=fresh(alpha.owner), title="Latest", due_at=later)
    assert alarm(alpha).due_at == sooner - REMIND_BEFORE  # type: ignore[union-attr]
    services.task_create(actor=fresh(alpha.owner), title="No due time")
    # One reminder alarm for the workspace (other modules' alarms may stand beside it).
    assert (
        WorkspaceAlarm.objects.filter(
            kind=REMINDER_ALARM, schema_name=alpha.tenant.schema_name
        ).count()
        == 1
    )


def test_rescheduling_a_task_sets_the_alarm(alpha: Workspace) -> None:
    now = timezone.now()
    task = TaskFactory.create(owner=alpha.owner.user, due_at=now + datetime.timedelta(days=9))
    assert alarm(alpha) is None
    soon = now + datetime.timedelta(hours=1)
    services.task_update(actor=fresh(alpha.owner), task=task, changes={"due_at": soon})
    assert alarm(alpha).due_at == soon - REMIND_BEFORE  # type: ignore[union-attr]


def test_the_sweep_enters_only_workspaces_whose_alarm_is_due(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    services.task_create(actor=fresh(alpha.owner), title="Due", due_at=now)
    with schema_context(bravo.tenant.schema_name):
        # Written past the services (as an old row would be): no alarm, so no visit.
        TaskFactory.create(owner=bravo.owner.user, due_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_task_reminders() == 1
    with schema_context(bravo.tenant.schema_name):
        assert Task.objects.get().reminded_at is None
    # Once bravo's alarm is set, the next sweep goes there too.
    alarm_at(kind=REMINDER_ALARM, at=now - REMIND_BEFORE, schema_name=bravo.tenant.schema_name)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_task_reminders() == 1
    with schema_context(bravo.tenant.schema_name):
        assert Task.objects.get().reminded_at is not None


def test_after_a_visit_the_alarm_moves_to_the_next_task_or_goes(alpha: Workspace) -> None:
    now = timezone.now()
    services.task_create(actor=fresh(alpha.owner), title="Now", due_at=now)
    tomorrow = now + datetime.timedelta(days=1)
    later = services.task_create(actor=fresh(alpha.owner), title="Tomorrow", due_at=tomorrow)
    assert send_task_reminders() == 1
    assert alarm(alpha).due_at == tomorrow - REMIND_BEFORE  # type: ignore[union-attr]
    # Nothing due: the sweep does not enter the workspace at all.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "crm_modules.sales.tasks.task_reminders_send",
            lambda **_: pytest.fail("entered a workspace with nothing due"),
        )
        assert send_task_reminders() == 0
    services.task_complete(actor=fresh(alpha.owner), task=later)
    Task.objects.filter(pk=later.pk).update(done=True)
    WorkspaceAlarm.objects.update(due_at=now)
    assert send_task_reminders() == 0
    assert alarm(alpha) is None


def test_a_time_set_while_the_sweep_worked_is_not_overwritten(alpha: Workspace) -> None:
    now = timezone.now()
    alarm_at(kind=REMINDER_ALARM, at=now - datetime.timedelta(minutes=1))
    [(tenant, version)] = alarms_due(kind=REMINDER_ALARM, now=now)
    assert tenant == alpha.tenant
    soon = now + datetime.timedelta(minutes=30)
    services.task_create(actor=fresh(alpha.owner), title="Meanwhile", due_at=soon)
    assert not alarm_reset(
        kind=REMINDER_ALARM, schema_name=alpha.tenant.schema_name, version=version, next_at=None
    )
    assert alarm(alpha).due_at == now - datetime.timedelta(minutes=1)  # type: ignore[union-attr]


def test_the_alarm_of_a_workspace_that_no_longer_exists_is_dropped(alpha: Workspace) -> None:
    now = timezone.now()
    alarm_at(kind=REMINDER_ALARM, at=now, schema_name="ws_gone_long_ago")
    assert alarms_due(kind=REMINDER_ALARM, now=now) == []
    assert not WorkspaceAlarm.objects.filter(schema_name="ws_gone_long_ago").exists()
