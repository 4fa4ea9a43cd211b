"""Pushes to a member's open pages go through the channel layer (real Redis), after commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from crm_platform.errors import ServiceError
from tenants import services
from tenants.models import User
from tenants.notifications import user_group
from tenants.roles import Role
from tests.conftest import Workspace
from tests.factories import UserFactory


def _messages_to(group: str, action: Callable[[], None]) -> list[dict[str, Any]]:
    """Run action (sync, in this thread's transaction) while listening on group; return what
    arrived. One event loop for listening and receiving, as in a consumer."""

    async def scenario() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        await sync_to_async(action)()
        received = []
        try:
            while True:
                received.append(await asyncio.wait_for(layer.receive(channel), 1.0))
        except TimeoutError:
            return received

    return async_to_sync(scenario)()


def test_inviter_is_told_in_their_language_when_the_invitation_is_accepted(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    admin = alpha.members[Role.ADMIN]
    User.objects.filter(pk=admin.user_id).update(language="it")
    admin.refresh_from_db()
    invitation = services.invitation_create(
        actor=admin, email="newcomer@example.com", role=Role.SALES_REP
    )
    newcomer = UserFactory.create(email="newcomer@example.com", full_name="Nuova Persona")
    group = user_group(schema_name=alpha.tenant.schema_name, user_id=admin.user_id)

    def accept_and_commit() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.invitation_accept(invitation=invitation, user=newcomer)

    messages = _messages_to(group, accept_and_commit)

    assert len(messages) == 1
    message = messages[0]
    assert message["type"] == "notify"
    assert message["event"] == "notification"
    assert message["payload"]["kind"] == "success"
    assert "Nuova Persona" in message["payload"]["text"]
    assert "Alpha Inc" in message["payload"]["text"]


def test_nothing_is_pushed_when_the_transaction_does_not_commit(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    admin = alpha.members[Role.ADMIN]
    invitation = services.invitation_create(
        actor=admin, email="late@example.com", role=Role.SALES_REP
    )
    newcomer = UserFactory.create(email="late@example.com")
    group = user_group(schema_name=alpha.tenant.schema_name, user_id=admin.user_id)

    def accept_without_commit() -> None:
        with django_capture_on_commit_callbacks(execute=False):
            services.invitation_accept(invitation=invitation, user=newcomer)

    assert _messages_to(group, accept_without_commit) == []


def test_a_refused_acceptance_notifies_nobody(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    admin = alpha.members[Role.ADMIN]
    invitation = services.invitation_create(
        actor=admin, email="someone@example.com", role=Role.SALES_REP
    )
    stranger = UserFactory.create(email="stranger@example.com")
    group = user_group(schema_name=alpha.tenant.schema_name, user_id=admin.user_id)

    def accept_as_stranger() -> None:
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(ServiceError, match="another email address"),
        ):
            services.invitation_accept(invitation=invitation, user=stranger)

    assert _messages_to(group, accept_as_stranger) == []


def test_role_change_is_named_in_the_recipients_language(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    owner = alpha.members[Role.OWNER]
    rep = alpha.members[Role.SALES_REP]
    User.objects.filter(pk=rep.user_id).update(language="ru")
    rep.user.refresh_from_db()
    group = user_group(schema_name=alpha.tenant.schema_name, user_id=rep.user_id)

    def promote() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.member_change_role(actor=owner, member=rep, role=Role.MANAGER)

    messages = _messages_to(group, promote)

    assert [m["event"] for m in messages] == ["role.changed"]
    assert messages[0]["payload"] == {"role": "manager", "role_label": "Руководитель"}
