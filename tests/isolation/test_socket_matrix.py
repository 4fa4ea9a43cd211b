"""Every WebSocket route of a workspace host, opened by every kind of visitor.

Routes are read from ``crm_platform.routing`` when the tests are collected; each consumer
declares its capability (``WorkspaceConsumer.capability``). A socket refused must be closed
before it is accepted. The socket middleware reads sessions from other threads, so these tests
use the committed ``world`` and remove the sessions they create.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import URLPattern

from crm_platform.asgi import application
from crm_platform.routing import websocket_urlpatterns
from tenants.consumers import UnknownRouteConsumer, WorkspaceConsumer
from tenants.models import Membership, Tenant, User, UserSession
from tenants.permissions import allows
from tenants.roles import Role
from tests.conftest import World, workspace_client

pytestmark = pytest.mark.django_db
TIMEOUT = 5


def _routes() -> list[Any]:
    routes = []
    for pattern in websocket_urlpatterns:
        assert isinstance(pattern, URLPattern)
        consumer = getattr(pattern.callback, "consumer_class", None)
        assert consumer is not None, f"{pattern.pattern} is not a consumer route"
        if consumer is UnknownRouteConsumer:
            # The catch-all that closes any other path (tests/tenants/test_websocket.py).
            assert pattern is websocket_urlpatterns[-1]
            continue
        assert issubclass(consumer, WorkspaceConsumer), (
            f"{pattern.pattern}: every socket route's consumer subclasses WorkspaceConsumer"
        )
        routes.append(pytest.param("/" + str(pattern.pattern), consumer, id=str(pattern.pattern)))
    return routes


ROUTES = _routes()


@pytest.fixture
async def committed(world: World) -> AsyncIterator[World]:
    before = await database_sync_to_async(
        lambda: set(UserSession.objects.values_list("session_key", flat=True))
    )()
    yield world
    await database_sync_to_async(
        lambda: UserSession.objects.exclude(session_key__in=before).delete()
    )()


@database_sync_to_async
def _session(user: User, tenant: Tenant) -> str:
    client = workspace_client(user, tenant)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


async def _open(path: str, *, host: str, session_key: str | None) -> tuple[bool, Any]:
    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    if session_key is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()))
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await socket.connect(timeout=TIMEOUT)
    await socket.disconnect()
    return connected, code


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("path", "consumer"), ROUTES)
async def test_member_connects_when_their_role_allows(
    path: str, consumer: type[WorkspaceConsumer], role: str, committed: World
) -> None:
    member = committed.alpha.members[role]
    connected, code = await _open(
        path,
        host=committed.alpha.host,
        session_key=await _session(member.user, committed.alpha.tenant),
    )
    assert connected is allows(member, consumer.capability)
    if not connected:
        assert code == 4403


def test_the_matrix_covers_a_route_some_role_may_not_open() -> None:
    assert any(consumer.capability.roles != set(Role.values) for _, consumer in _pairs())


def _pairs() -> list[tuple[str, type[WorkspaceConsumer]]]:
    return [(param.values[0], param.values[1]) for param in ROUTES]


@pytest.mark.parametrize(("path", "consumer"), ROUTES)
async def test_anonymous_and_outsider_are_refused(
    path: str, consumer: type[WorkspaceConsumer], committed: World
) -> None:
    alpha, bravo = committed.alpha, committed.bravo
    outsider = await _session(bravo.owner.user, alpha.tenant)
    at_home = await _session(bravo.owner.user, bravo.tenant)
    for host, session_key in (
        (alpha.host, None),
        (alpha.host, outsider),
        # A session handed to bravo opens nothing on alpha's host.
        (alpha.host, at_home),
    ):
        assert await _open(path, host=host, session_key=session_key) == (False, 4403)


@pytest.mark.parametrize(("path", "consumer"), ROUTES)
async def test_deactivated_member_is_refused(
    path: str, consumer: type[WorkspaceConsumer], committed: World
) -> None:
    member = committed.alpha.members[Role.SUPPORT_AGENT]
    session_key = await _session(member.user, committed.alpha.tenant)
    update = database_sync_to_async(Membership.objects.filter(pk=member.pk).update)
    await update(status=Membership.Status.DEACTIVATED)
    try:
        assert await _open(path, host=committed.alpha.host, session_key=session_key) == (
            False,
            4403,
        )
    finally:
        await update(status=Membership.Status.ACTIVE)
