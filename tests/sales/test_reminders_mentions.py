"""Task reminders (the Celery beat sweep) and @mentions in timeline entries: each reaches the
member's open pages and inbox, in their language, and never anyone outside the workspace."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core import mail
from django.utils import timezone

from crm_modules.activities.models import Activity
from crm_modules.sales import services
from crm_modules.sales.models import Task
from crm_modules.sales.services.reminders import task_reminders_send
from crm_modules.sales.tasks import send_task_reminders
from crm_platform.errors import ServiceError
from tenants.models import Membership, User
from tenants.notifications import user_group
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory, TaskFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


@pytest.fixture
def inbox_of(alpha: Workspace) -> Iterator[Any]:
    """A probe channel in a member's notification group; returns what reached it."""
    layer = get_channel_layer()
    assert layer is not None
    joined: list[tuple[str, str]] = []

    def join(member: Membership) -> str:
        channel = f"probe-{secrets.token_hex(4)}"
        group = user_group(schema_name=alpha.tenant.schema_name, user_id=member.user_id)
        async_to_sync(layer.group_add)(group, channel)
        joined.append((group, channel))
        return channel

    yield join
    for group, channel in joined:
        async_to_sync(layer.group_discard)(group, channel)


def _receive(channel: str) -> dict[str, Any]:
    layer = get_channel_layer()
    assert layer is not None
    message: dict[str, Any] = async_to_sync(layer.receive)(channel)
    return message


def test_a_task_due_soon_is_reminded_once_in_the_assignees_language(
    alpha: Workspace, inbox_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rep = alpha.members[Role.SALES_REP]
    User.objects.filter(pk=rep.user_id).update(language="it", time_zone="Europe/Rome")
    now = timezone.now()
    due = TaskFactory.create(
        owner=rep.user, title="Chiamare Anna", due_at=now + datetime.timedelta(minutes=10)
    )
    TaskFactory.create(owner=rep.user, title="Later", due_at=now + datetime.timedelta(hours=2))
    TaskFactory.create(owner=rep.user, title="Done", due_at=now, done=True)
    channel = inbox_of(rep)
    with django_capture_on_commit_callbacks(execute=True):
        assert task_reminders_send(tenant=alpha.tenant, now=now) == 1
    assert Task.objects.get(pk=due.pk).reminded_at == now
    [message] = mail.outbox
    assert message.to == [rep.user.email]
    assert message.subject.startswith("Attività in scadenza")
    assert "Chiamare Anna" in message.body
    pushed = _receive(channel)
    assert pushed["event"] == "notification"
    assert "Chiamare Anna" in pushed["payload"]["text"]
    with django_capture_on_commit_callbacks(execute=True):
        assert task_reminders_send(tenant=alpha.tenant, now=now) == 0
    assert len(mail.outbox) == 1


def test_a_new_due_time_is_reminded_again(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    now = timezone.now()
    task = TaskFactory.create(owner=alpha.owner.user, due_at=now, reminded_at=now)
    services.task_update(
        actor=actor, task=task, changes={"due_at": now + datetime.timedelta(days=1)}
    )
    assert Task.objects.get(pk=task.pk).reminded_at is None


def test_the_beat_sweep_reminds_each_workspace_in_its_own_schema(
    alpha: Workspace, bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["sales-task-reminders"]["task"] == (
        "crm_modules.sales.tasks.send_task_reminders"
    )
    services.task_create(actor=fresh(alpha.owner), title="Call", due_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert send_task_reminders() == 1
    # bravo's owner is a member of bravo only: nothing reached them.
    assert [m.to for m in mail.outbox] == [[alpha.owner.user.email]]
    assert bravo.owner.user.email not in {m.to[0] for m in mail.outbox}


def test_a_deactivated_assignee_is_not_reminded(alpha: Workspace) -> None:
    agent = alpha.members[Role.SUPPORT_AGENT]
    TaskFactory.create(owner=agent.user, due_at=timezone.now())
    Membership.objects.filter(pk=agent.pk).update(status=Membership.Status.DEACTIVATED)
    assert task_reminders_send(tenant=alpha.tenant) == 0
    assert mail.outbox == []
    assert Task.objects.get().reminded_at is not None


# --- @mentions ------------------------------------------------------------------------------


def test_a_mentioned_colleague_is_notified_live_and_by_email(
    alpha: Workspace, inbox_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    manager = alpha.members[Role.MANAGER]
    contact = ContactFactory.create(first_name="Giulia", last_name="Romano")
    channel = inbox_of(manager)
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    body = f"Can you call her back, @{manager.user.email.upper()}?"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/sales/contacts/{contact.pk}/log/", {"kind": "note", "body": body})
    assert response.status_code == 302
    assert Activity.objects.get().data == {"mentions": [manager.user_id]}
    pushed = _receive(channel)
    assert "mentioned you on Giulia Romano" in pushed["payload"]["text"]
    assert pushed["payload"]["url"].endswith(f"/sales/contacts/{contact.pk}/")
    [message] = mail.outbox
    assert message.to == [manager.user.email]


@pytest.mark.parametrize("who", ["stranger", "other_workspace", "deactivated"])
def test_only_active_members_of_the_workspace_can_be_mentioned(
    alpha: Workspace, bravo: Workspace, who: str, django_capture_on_commit_callbacks: Any
) -> None:
    agent = alpha.members[Role.SUPPORT_AGENT]
    email = {
        "stranger": "nobody@example.com",
        "other_workspace": bravo.owner.user.email,
        "deactivated": agent.user.email,
    }[who]
    if who == "deactivated":
        Membership.objects.filter(pk=agent.pk).update(status=Membership.Status.DEACTIVATED)
    contact = ContactFactory.create()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ServiceError) as refused:
        services.record_log_activity(
            actor=fresh(alpha.owner), record=contact, kind="note", body=f"FYI @{email}"
        )
    assert refused.value.field == "body"
    assert email.lower() in refused.value.message
    assert not Activity.objects.exists()
    assert mail.outbox == []


def test_an_email_address_without_at_sign_is_not_a_mention(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    services.record_log_activity(
        actor=fresh(alpha.owner), record=contact, kind="note", body="Wrote to nobody@example.com"
    )
    assert Activity.objects.get().data == {}
