"""Live events follow restricted record visibility: when the workspace restricts Sales reps to
their own records, a rep's open pages hear the events about their own records only — not a
deal, task or activity of someone else, not even its id. Everyone whose scope is the whole
workspace hears every event. A change of the setting reaches an open socket at its next ping.

Like the other socket tests, these work on the committed ``world`` from other threads and put
back what they change (see tests/tenants/test_websocket.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django_tenants.utils import schema_context

from crm_modules.sales.models import Task
from crm_modules.sales.services.tasks import task_create
from tenants.models import Membership, Tenant
from tenants.roles import Role
from tests.conftest import World
from tests.tenants.test_websocket import TIMEOUT, _connect_member, committed

__all__ = ["committed"]

pytestmark = pytest.mark.django_db


@database_sync_to_async
def _restrict(tenant: Tenant, on: bool) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(restrict_record_visibility=on)


@asynccontextmanager
async def _restricted(world: World) -> AsyncIterator[None]:
    await _restrict(world.alpha.tenant, True)
    try:
        yield
    finally:
        await _restrict(world.alpha.tenant, False)
        await database_sync_to_async(_delete_tasks)(world)


def _delete_tasks(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Task.objects.filter(title__startswith="Live ").delete()


@database_sync_to_async
def _task_for(world: World, owner: Membership, title: str) -> int:
    """The Owner creates a task assigned to ``owner`` (committed: events go out at once)."""
    with schema_context(world.alpha.tenant.schema_name):
        actor = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
        return task_create(actor=actor, owner_id=owner.user_id, title=title).pk


async def _events(socket: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every frame waiting on the socket (a ping's pong marks the end)."""
    await socket.send_json_to({"type": "ping"})
    frames: list[dict[str, Any]] = []
    while True:
        frame = await socket.receive_json_from(timeout=TIMEOUT)
        if frame["event"] == "pong":
            return frames
        frames.append(frame)


async def test_a_restricted_rep_hears_only_the_events_of_their_own_records(
    committed: World,
) -> None:
    rep = committed.alpha.members[Role.SALES_REP]
    async with _restricted(committed):
        rep_socket = await _connect_member(committed, Role.SALES_REP)
        owner_socket = await _connect_member(committed, Role.OWNER)
        others = await _task_for(committed, committed.alpha.owner, "Live owner's task")
        own = await _task_for(committed, rep, "Live rep's task")
        await asyncio.sleep(0.2)
        heard = [(f["event"], f["payload"]) for f in await _events(rep_socket)]
        assert heard == [("task.created", {"id": own})]
        heard_by_owner = [(f["event"], f["payload"]) for f in await _events(owner_socket)]
        assert heard_by_owner == [("task.created", {"id": others}), ("task.created", {"id": own})]
        await rep_socket.disconnect()
        await owner_socket.disconnect()


async def test_an_unrestricted_rep_hears_every_record_event_and_the_setting_applies_at_ping(
    committed: World,
) -> None:
    rep_socket = await _connect_member(committed, Role.SALES_REP)
    try:
        before = await _task_for(committed, committed.alpha.owner, "Live before")
        await asyncio.sleep(0.2)
        assert [f["payload"] for f in await _events(rep_socket)] == [{"id": before}]
        async with _restricted(committed):
            # The ping that collects the events also learns the new reach.
            assert await _events(rep_socket) == []
            await _task_for(committed, committed.alpha.owner, "Live after")
            await asyncio.sleep(0.2)
            assert await _events(rep_socket) == []
    finally:
        await rep_socket.disconnect()
