"""Live presence on a ticket: every page open on the ticket hears who views it and who writes a
reply, over the presence socket; entries live in Redis under the workspace's prefix with a
TTL and lapse without heartbeats; a ticket the member may not see is refused."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from crm_modules.service import presence
from crm_modules.service.models import Ticket
from crm_platform.asgi import application
from tenants.models import Membership, UserSession
from tenants.roles import Role
from tests.conftest import World, workspace_client

pytestmark = pytest.mark.django_db
T = TypeVar("T")
PATH = "/ws/service/presence/"
TIMEOUT = 5


def _in_own_thread(work: Callable[[], T]) -> T:
    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(run).result()


@pytest.fixture
def ticket(world: World) -> Iterator[Ticket]:
    schema = world.alpha.tenant.schema_name
    sessions = _in_own_thread(
        lambda: set(UserSession.objects.values_list("session_key", flat=True))
    )

    def make() -> Ticket:
        with schema_context(schema):
            return Ticket.objects.create(subject="Live")

    made = _in_own_thread(make)
    try:
        yield made
    finally:

        def clean() -> None:
            UserSession.objects.exclude(session_key__in=sessions).delete()
            with schema_context(schema):
                Ticket.objects.filter(pk=made.pk).delete()

        _in_own_thread(clean)
        get_redis_connection("default").delete(
            presence.presence_key(schema_name=schema, ticket_id=made.pk)
        )


@database_sync_to_async
def _cookie(member: Membership) -> str:
    client = workspace_client(member.user, member.tenant)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


async def _socket(world: World, role: str) -> WebsocketCommunicator:
    member = world.alpha.members[role]
    host = world.alpha.host
    socket = WebsocketCommunicator(
        application,
        PATH,
        headers=[
            (b"host", host.encode()),
            (b"origin", f"http://{host}".encode()),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={await _cookie(member)}".encode()),
        ],
    )
    connected, _code = await socket.connect(timeout=TIMEOUT)
    assert connected
    return socket


def _people(frame: dict[str, Any]) -> list[tuple[int, str]]:
    assert frame["event"] == "presence"
    return [(p["user"], p["state"]) for p in frame["payload"]["people"]]


async def test_pages_on_a_ticket_hear_who_views_and_who_replies(
    world: World, ticket: Ticket
) -> None:
    agent_id = world.alpha.members[Role.SUPPORT_AGENT].user_id
    rep_id = world.alpha.members[Role.SALES_REP].user_id
    agent = await _socket(world, Role.SUPPORT_AGENT)
    rep = await _socket(world, Role.SALES_REP)
    try:
        await agent.send_json_to({"type": "presence", "ticket": ticket.pk, "state": "viewing"})
        assert _people(await agent.receive_json_from(TIMEOUT)) == [(agent_id, "viewing")]

        await rep.send_json_to({"type": "presence", "ticket": ticket.pk, "state": "viewing"})
        expected = sorted([(agent_id, "viewing"), (rep_id, "viewing")])
        assert _people(await rep.receive_json_from(TIMEOUT)) == expected
        assert _people(await agent.receive_json_from(TIMEOUT)) == expected

        await agent.send_json_to({"type": "presence", "ticket": ticket.pk, "state": "replying"})
        expected = sorted([(agent_id, "replying"), (rep_id, "viewing")])
        assert _people(await rep.receive_json_from(TIMEOUT)) == expected
        assert _people(await agent.receive_json_from(TIMEOUT)) == expected

        # The key carries the workspace's schema and lapses without heartbeats.
        schema = world.alpha.tenant.schema_name
        key = presence.presence_key(schema_name=schema, ticket_id=ticket.pk)
        assert key == f"{schema}:service:presence:{ticket.pk}"
        redis = get_redis_connection("default")
        assert 0 < redis.ttl(key) <= presence.TTL
        assert (
            presence.presence_list(
                schema_name=schema, ticket_id=ticket.pk, now=time.time() + presence.TTL + 1
            )
            == []
        )

        await agent.disconnect()
        assert _people(await rep.receive_json_from(TIMEOUT)) == [(rep_id, "viewing")]
    finally:
        await rep.disconnect()
        await agent.disconnect()


async def test_a_reader_cannot_say_they_reply_and_a_missing_ticket_is_refused(
    world: World, ticket: Ticket
) -> None:
    rep = await _socket(world, Role.SALES_REP)
    schema = world.alpha.tenant.schema_name
    try:
        await rep.send_json_to({"type": "presence", "ticket": ticket.pk, "state": "replying"})
        assert await rep.receive_json_from(TIMEOUT) == {
            "event": "presence.error",
            "payload": {"ticket": ticket.pk},
        }
        # A ticket of no workspace here (bravo's ids are not alpha's tickets).
        await rep.send_json_to(
            {"type": "presence", "ticket": ticket.pk + 10_000, "state": "viewing"}
        )
        assert (await rep.receive_json_from(TIMEOUT))["event"] == "presence.error"
        await rep.send_json_to({"type": "presence", "ticket": "1", "state": "viewing"})
        assert (await rep.receive_json_from(TIMEOUT))["event"] == "presence.error"
        assert await rep.receive_nothing(0.2)
        redis = get_redis_connection("default")
        assert redis.exists(presence.presence_key(schema_name=schema, ticket_id=ticket.pk)) == 0
        assert (
            redis.exists(presence.presence_key(schema_name=schema, ticket_id=ticket.pk + 10_000))
            == 0
        )
    finally:
        await rep.disconnect()


def test_presence_keys_of_two_workspaces_never_meet(world: World) -> None:
    alpha = world.alpha.tenant.schema_name
    bravo = world.bravo.tenant.schema_name
    try:
        presence.presence_touch(schema_name=alpha, ticket_id=1, user_id=7, state="viewing")
        assert presence.presence_list(schema_name=bravo, ticket_id=1) == []
        assert presence.presence_list(schema_name=alpha, ticket_id=1) == [(7, "viewing")]
        presence.presence_leave(schema_name=alpha, ticket_id=1, user_id=7)
        assert presence.presence_list(schema_name=alpha, ticket_id=1) == []
    finally:
        get_redis_connection("default").delete(
            presence.presence_key(schema_name=alpha, ticket_id=1)
        )
