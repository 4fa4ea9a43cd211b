"""The workspace notifications socket: who may connect, and what reaches an open socket when an
admin changes a member's standing.

The socket middleware and consumer query the database from other threads, which cannot see a
test's uncommitted transaction. So these tests work on the committed ``world``, make every
change from other threads too (``database_sync_to_async``: committed at once), and put back
whatever they change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from crm_platform.asgi import application
from tenants import services
from tenants.audit.models import AuditEvent
from tenants.live import all_topics
from tenants.models import Membership, Tenant, User, UserSession
from tenants.roles import Role
from tests.conftest import World, public_client, workspace_client
from tests.factories import PASSWORD, UserFactory
from tests.kit_module.module import VIEW_NOTES

NEW_PASSWORD = "another-horse-battery-staple"

# The marker makes pytest-django create the test database even when only these tests run. Its
# transaction wraps this thread's connection, which none of these tests query.
pytestmark = pytest.mark.django_db

T = TypeVar("T")
PATH = "/ws/notifications/"
TIMEOUT = 5


def _in_own_thread(work: Callable[[], T]) -> T:
    """Run work on a connection of its own, outside the test's transaction, so it commits."""

    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(run).result()


@pytest.fixture
def committed(world: World) -> Iterator[World]:
    """The committed world; sessions and audit rows the test creates are removed afterwards."""
    sessions_before = _in_own_thread(
        lambda: set(UserSession.objects.values_list("session_key", flat=True))
    )
    events_before = _in_own_thread(lambda: _last_audit_event(world.alpha.tenant))

    def clean_up() -> None:
        UserSession.objects.exclude(session_key__in=sessions_before).delete()
        with schema_context(world.alpha.tenant.schema_name):
            AuditEvent.objects.filter(id__gt=events_before).delete()

    try:
        yield world
    finally:
        _in_own_thread(clean_up)


def _last_audit_event(tenant: Tenant) -> int:
    with schema_context(tenant.schema_name):
        return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@database_sync_to_async
def _session_cookie(membership: Membership, tenant: Tenant | None = None) -> str:
    """The session key of a browser signed in as membership's user and handed over to tenant
    (by default the membership's own workspace)."""
    client = workspace_client(membership.user, tenant or membership.tenant)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def _socket(
    *, host: str, origin: str | None = None, session_key: str | None = None
) -> WebsocketCommunicator:
    headers = [(b"host", host.encode())]
    headers.append((b"origin", (origin or f"http://{host}").encode()))
    if session_key is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()))
    return WebsocketCommunicator(application, PATH, headers=headers)


def _topics(role: str) -> list[str]:
    topics = [topic.name for topic in all_topics() if role in topic.capability.roles]
    assert ("notes" in topics) is (role in VIEW_NOTES.roles)
    return topics


async def _connect_member(world: World, role: str) -> WebsocketCommunicator:
    socket = _socket(
        host="alpha.localhost", session_key=await _session_cookie(world.alpha.members[role])
    )
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    assert await socket.receive_json_from(timeout=TIMEOUT) == {
        "event": "hello",
        # Each module's topic (the test module's notes among them) reaches the roles that may
        # hear it.
        "payload": {"role": role, "topics": _topics(role)},
    }
    return socket


@database_sync_to_async
def _membership(pk: int) -> Membership:
    return Membership.objects.get(pk=pk)


@database_sync_to_async
def _set_status(membership: Membership, status: str) -> None:
    Membership.objects.filter(pk=membership.pk).update(status=status)


@asynccontextmanager
async def _restored(membership: Membership) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await database_sync_to_async(Membership.objects.filter(pk=membership.pk).update)(
            role=membership.role, status=membership.status, deactivated_at=None
        )


async def test_active_member_connects_and_is_greeted(committed: World) -> None:
    socket = await _connect_member(committed, Role.SALES_REP)
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=TIMEOUT) == {"event": "pong", "payload": {}}
    await socket.disconnect()


async def test_an_idle_socket_stays_open_and_still_hears_events(committed: World) -> None:
    """The consumer waits on the Redis channel layer with a blocking pop of 5 s; redis-py 8's
    default socket timeout of 5 s ended that wait with an error, which closed every socket
    left idle for a few seconds (the browser reconnected, over and over)."""
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    admin = committed.alpha.members[Role.ADMIN]
    member = committed.alpha.members[Role.SALES_REP]
    socket = await _connect_member(committed, Role.SALES_REP)
    assert await socket.receive_nothing(timeout=7, interval=0.5)
    async with _restored(member):
        await database_sync_to_async(services.member_change_role)(
            actor=admin, member=member, role=Role.MANAGER
        )
        assert await socket.receive_json_from(timeout=TIMEOUT) == {
            "event": "role.changed",
            "payload": {"role": "manager", "role_label": "Manager"},
        }
    await socket.disconnect()


@pytest.mark.parametrize("handed_to", ["bravo", "alpha"])
async def test_member_of_another_workspace_is_refused(committed: World, handed_to: str) -> None:
    # Bravo's own session, or a session that claims alpha but belongs to no member of it.
    tenant = committed.bravo.tenant if handed_to == "bravo" else committed.alpha.tenant
    socket = _socket(
        host="alpha.localhost", session_key=await _session_cookie(committed.bravo.owner, tenant)
    )
    assert await socket.connect(timeout=TIMEOUT) == (False, 4403)


async def test_session_of_another_host_is_refused(committed: World) -> None:
    socket = _socket(
        host="bravo.localhost", session_key=await _session_cookie(committed.alpha.owner)
    )
    assert await socket.connect(timeout=TIMEOUT) == (False, 4403)


async def test_anonymous_is_refused(committed: World) -> None:
    assert await _socket(host="alpha.localhost").connect(timeout=TIMEOUT) == (False, 4403)
    unknown = _socket(host="alpha.localhost", session_key="no-such-session")
    assert await unknown.connect(timeout=TIMEOUT) == (False, 4403)


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://bravo.localhost", "http://localhost", "null"]
)
async def test_foreign_origin_is_refused(committed: World, origin: str) -> None:
    member = committed.alpha.members[Role.SALES_REP]
    socket = _socket(
        host="alpha.localhost",
        origin=origin,
        session_key=await _session_cookie(member),
    )
    assert await socket.connect(timeout=TIMEOUT) == (False, 4403)


async def test_deactivated_member_is_refused(committed: World) -> None:
    member = committed.alpha.members[Role.READ_ONLY]
    session_key = await _session_cookie(member)
    async with _restored(member):
        await _set_status(member, Membership.Status.DEACTIVATED)
        socket = _socket(host="alpha.localhost", session_key=session_key)
        assert await socket.connect(timeout=TIMEOUT) == (False, 4403)


async def test_role_change_reaches_the_open_socket(committed: World) -> None:
    admin = committed.alpha.members[Role.ADMIN]
    member = committed.alpha.members[Role.SALES_REP]
    socket = await _connect_member(committed, Role.SALES_REP)
    async with _restored(member):
        await database_sync_to_async(services.member_change_role)(
            actor=admin, member=member, role=Role.MANAGER
        )
        assert await socket.receive_json_from(timeout=TIMEOUT) == {
            "event": "role.changed",
            "payload": {"role": "manager", "role_label": "Manager"},
        }
        assert (await _membership(member.pk)).role == Role.MANAGER
    await socket.disconnect()


async def test_deactivation_revokes_and_closes_the_open_socket(committed: World) -> None:
    admin = committed.alpha.members[Role.ADMIN]
    member = committed.alpha.members[Role.SUPPORT_AGENT]
    bystander = await _connect_member(committed, Role.MARKETER)
    socket = await _connect_member(committed, Role.SUPPORT_AGENT)
    async with _restored(member):
        await database_sync_to_async(services.member_deactivate)(actor=admin, member=member)
        assert await socket.receive_json_from(timeout=TIMEOUT) == {
            "event": "session.revoked",
            "payload": {"reason": "deactivated"},
        }
        assert await socket.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4401,
        }
        # Only the deactivated member's socket was closed.
        assert await bystander.receive_nothing()
        await bystander.send_json_to({"type": "ping"})
        assert await bystander.receive_json_from(timeout=TIMEOUT) == {
            "event": "pong",
            "payload": {},
        }
    await bystander.disconnect()


async def test_ping_from_member_deactivated_meanwhile_closes_the_socket(committed: World) -> None:
    member = committed.alpha.members[Role.MARKETER]
    socket = await _connect_member(committed, Role.MARKETER)
    async with _restored(member):
        # Deactivated behind the socket's back (no push), as if the revoke message was lost:
        # the next ping must still find out.
        await _set_status(member, Membership.Status.DEACTIVATED)
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4403,
        }


async def test_frames_that_are_not_json_are_ignored(committed: World) -> None:
    socket = await _connect_member(committed, Role.SALES_REP)
    await socket.send_to(text_data="not json {")
    await socket.send_to(text_data='"a bare string"')
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=TIMEOUT) == {"event": "pong", "payload": {}}
    await socket.disconnect()


@pytest.mark.parametrize("path", ["/ws/notifications", "/ws/", "/ws/nope/", "/"])
async def test_unknown_route_closes_cleanly(committed: World, path: str) -> None:
    member = committed.alpha.members[Role.SALES_REP]
    headers = [
        (b"host", b"alpha.localhost"),
        (b"origin", b"http://alpha.localhost"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={await _session_cookie(member)}".encode()),
    ]
    socket = WebsocketCommunicator(application, path, headers=headers)
    assert await socket.connect(timeout=TIMEOUT) == (False, 4404)


@pytest.mark.parametrize(
    "origin",
    ["http://alpha.localhost:9999", "https://alpha.localhost", "ws://alpha.localhost"],
)
async def test_origin_must_match_scheme_host_and_port(committed: World, origin: str) -> None:
    member = committed.alpha.members[Role.SALES_REP]
    socket = _socket(
        host="alpha.localhost", origin=origin, session_key=await _session_cookie(member)
    )
    assert await socket.connect(timeout=TIMEOUT) == (False, 4403)


# --- every event that ends a session closes that session's sockets ----------------------------


def _browser(membership: Membership) -> tuple[Client, str]:
    client = workspace_client(membership.user, membership.tenant)
    return client, str(client.cookies[settings.SESSION_COOKIE_NAME].value)


async def _open(session_key: str, host: str = "alpha.localhost") -> WebsocketCommunicator:
    socket = _socket(host=host, session_key=session_key)
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    assert (await socket.receive_json_from(timeout=TIMEOUT))["event"] == "hello"
    return socket


async def _assert_revoked(socket: WebsocketCommunicator, reason: str) -> None:
    assert await socket.receive_json_from(timeout=TIMEOUT) == {
        "event": "session.revoked",
        "payload": {"reason": reason},
    }
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4401}


async def test_workspace_sign_out_closes_the_open_socket(committed: World) -> None:
    member = committed.alpha.members[Role.SALES_REP]
    client, key = await database_sync_to_async(_browser)(member)
    socket = await _open(key)
    response = await database_sync_to_async(client.post)("/signout/")
    assert response.status_code == 302
    await _assert_revoked(socket, "signed_out")


async def test_public_sign_out_closes_the_workspace_sockets(committed: World) -> None:
    member = committed.alpha.members[Role.MANAGER]
    _client, key = await database_sync_to_async(_browser)(member)
    socket = await _open(key)
    public = await database_sync_to_async(public_client)(member.user)
    response = await database_sync_to_async(public.post)("/accounts/logout/")
    assert response.status_code == 302
    await _assert_revoked(socket, "signed_out")


async def test_password_change_closes_the_open_sockets(committed: World) -> None:
    member = committed.alpha.members[Role.MARKETER]
    _client, key = await database_sync_to_async(_browser)(member)
    socket = await _open(key)
    public = await database_sync_to_async(public_client)(member.user)
    try:
        response = await database_sync_to_async(public.post)(
            "/accounts/password/change/",
            {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert response.status_code == 302
        await _assert_revoked(socket, "password_changed")
    finally:
        await database_sync_to_async(_reset_password)(member.user)


def _reset_password(user: User) -> None:
    # On the world's own object: later tests sign in with it (force_login), and a session
    # carries a hash of the stored password, which must be the one in the database.
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])


async def test_mfa_change_closes_the_sockets_of_other_sessions(committed: World) -> None:
    member = committed.alpha.members[Role.SUPPORT_AGENT]
    _client, key = await database_sync_to_async(_browser)(member)
    socket = await _open(key)

    def set_up_totp() -> None:
        public = public_client(member.user)
        asked = public.get("/accounts/2fa/totp/activate/")
        public.post(asked["Location"], {"password": PASSWORD})
        secret = public.get("/accounts/2fa/totp/activate/").context["form"].secret
        code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
        done = public.post("/accounts/2fa/totp/activate/", {"code": code})
        assert done.status_code == 302
        # The session that made the change stays signed in.
        assert public.get("/workspaces/").status_code == 200

    try:
        await database_sync_to_async(set_up_totp)()
        await _assert_revoked(socket, "mfa_changed")
    finally:
        await database_sync_to_async(Authenticator.objects.filter(user=member.user).delete)()


async def test_workspace_suspension_closes_every_open_socket(committed: World) -> None:
    tenant = committed.alpha.tenant
    socket = await _connect_member(committed, Role.READ_ONLY)
    try:
        owner = committed.alpha.owner
        await database_sync_to_async(
            lambda: services.workspace_suspend(
                tenant=tenant, actor=User.objects.get(pk=owner.user_id)
            )
        )()
        await _assert_revoked(socket, "suspended")
    finally:
        await database_sync_to_async(Tenant.objects.filter(pk=tenant.pk).update)(
            state=Tenant.State.ACTIVE
        )


async def test_workspace_deletion_closes_every_open_socket(committed: World) -> None:
    def doomed() -> tuple[Tenant, str]:
        owner = UserFactory.create()
        tenant = services.workspace_create(owner=owner, company_name="Doomed", slug="doomed-ws")
        membership = Membership.objects.select_related("user", "tenant").get(tenant=tenant)
        return tenant, _browser(membership)[1]

    tenant, key = await database_sync_to_async(doomed)()
    socket = await _open(key, host="doomed-ws.localhost")
    await database_sync_to_async(services.workspace_delete)(tenant=tenant, actor=None)
    await _assert_revoked(socket, "deleted")


async def test_ping_after_the_session_ended_closes_the_socket(committed: World) -> None:
    member = committed.alpha.members[Role.SALES_REP]
    _client, key = await database_sync_to_async(_browser)(member)
    socket = await _open(key)
    # Removed behind the socket's back (no push), as if the revocation was lost.
    await database_sync_to_async(UserSession.objects.filter(session_key=key).delete)()
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4403}


async def test_socket_of_an_admin_without_mfa_is_refused_once_the_policy_is_on(
    committed: World,
) -> None:
    """Workspace policies hold at every connect, not only when entering the workspace."""
    tenant = committed.alpha.tenant
    admin_key = await _session_cookie(committed.alpha.members[Role.ADMIN])
    rep_key = await _session_cookie(committed.alpha.members[Role.SALES_REP])
    socket = await _open(admin_key)
    await socket.disconnect()
    set_policy = database_sync_to_async(
        lambda on: Tenant.objects.filter(pk=tenant.pk).update(require_mfa_for_admins=on)
    )
    await set_policy(True)
    try:
        refused = _socket(host="alpha.localhost", session_key=admin_key)
        assert await refused.connect(timeout=TIMEOUT) == (False, 4403)
        other = await _open(rep_key)
        await other.disconnect()
    finally:
        await set_policy(False)


async def test_ping_after_the_mfa_policy_was_turned_on_closes_an_admins_socket(
    committed: World,
) -> None:
    tenant = committed.alpha.tenant
    socket = await _connect_member(committed, Role.ADMIN)
    set_policy = database_sync_to_async(
        lambda on: Tenant.objects.filter(pk=tenant.pk).update(require_mfa_for_admins=on)
    )
    await set_policy(True)
    try:
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4403,
        }
    finally:
        await set_policy(False)


async def test_turning_the_mfa_policy_on_closes_sockets_of_admins_without_mfa(
    committed: World,
) -> None:
    tenant = committed.alpha.tenant
    owner = committed.alpha.owner
    admin = await _connect_member(committed, Role.ADMIN)
    rep = await _connect_member(committed, Role.SALES_REP)

    def turn_on() -> None:
        Authenticator.objects.create(
            user_id=owner.user_id, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
        )
        services.workspace_update_settings(
            actor=Membership.objects.select_related("user", "tenant").get(pk=owner.pk),
            name="Alpha Inc",
            time_zone="UTC",
            currency="USD",
            require_mfa_for_admins=True,
        )

    try:
        await database_sync_to_async(turn_on)()
        await _assert_revoked(admin, "mfa_required")
        assert await rep.receive_nothing()
        await rep.disconnect()
    finally:
        await database_sync_to_async(Tenant.objects.filter(pk=tenant.pk).update)(
            require_mfa_for_admins=False
        )
        await database_sync_to_async(Authenticator.objects.filter(user_id=owner.user_id).delete)()


async def test_promotion_to_admin_under_the_mfa_policy_closes_the_members_socket(
    committed: World,
) -> None:
    tenant = committed.alpha.tenant
    admin, member = committed.alpha.members[Role.ADMIN], committed.alpha.members[Role.MANAGER]
    socket = await _connect_member(committed, Role.MANAGER)
    set_policy = database_sync_to_async(
        lambda on: Tenant.objects.filter(pk=tenant.pk).update(require_mfa_for_admins=on)
    )
    await set_policy(True)
    try:
        async with _restored(member):
            await database_sync_to_async(services.member_change_role)(
                actor=admin, member=member, role=Role.ADMIN
            )
            assert (await socket.receive_json_from(timeout=TIMEOUT))["event"] == "role.changed"
            await _assert_revoked(socket, "mfa_required")
    finally:
        await set_policy(False)


async def test_the_channel_layer_serves_hundreds_of_sockets_at_once(committed: World) -> None:
    """Every socket of a process joins and leaves its groups through the layer's connection
    pool, one connection per command in flight; redis-py 8 caps a pool at 100 connections by
    default and refuses the next one, so a page reload by many viewers at once failed."""
    layer = get_channel_layer()
    assert layer is not None
    channels = [f"{await layer.new_channel()}" for _ in range(300)]
    await asyncio.gather(*(layer.group_add("alpha.test.many", name) for name in channels))
    await asyncio.gather(*(layer.group_discard("alpha.test.many", name) for name in channels))
    await layer.flush()
