"""ASGI middleware for WebSockets: Host → workspace, session → user, active membership.

Every database call runs inside ``schema_context`` in its own thread, because a pooled
connection remembers the schema of whatever last used it (D6). A socket that fails any check
is closed before it is accepted.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import constant_time_compare
from django_tenants.utils import schema_context

from tenants.hosts import workspace_origin
from tenants.middleware import SESSION_WORKSPACE_KEY
from tenants.models import Domain, Membership, Tenant
from tenants.policies import mfa_policy_unmet
from tenants.sessions import SessionStore

Scope = dict[str, Any]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _host(scope: Scope) -> str:
    """The Host header's domain if it is well-formed and one we serve, else ""; the same
    checks Django makes of an HTTP request's host."""
    domain, _port = split_domain_port(_header(scope, b"host").lower())
    return domain if domain and validate_host(domain, settings.ALLOWED_HOSTS) else ""


def _same_origin(scope: Scope, host: str) -> bool:
    """The Origin header is exactly our page's origin on this host: scheme, host and port, as
    the browser serialises it (no path, no trailing slash)."""
    return _header(scope, b"origin").lower() == workspace_origin(host)


def _cookie(scope: Scope, name: str) -> str:
    # Django's own lenient parser: a malformed header yields no session, never an error.
    return parse_cookie(_header(scope, b"cookie")).get(name, "")


@database_sync_to_async  # type: ignore[untyped-decorator]
def resolve(host: str, session_key: str) -> tuple[Tenant, Membership] | None:
    with schema_context("public"):
        domain = Domain.objects.select_related("tenant").filter(domain=host).first()
        if domain is None or domain.tenant.state == Tenant.State.SPARE:
            return None
        tenant = domain.tenant
        session = SessionStore(session_key=session_key or None)
        if session.get(SESSION_WORKSPACE_KEY) != tenant.pk:
            return None
        user_id = session.get(SESSION_KEY)
        backend_path = session.get(BACKEND_SESSION_KEY)
        if user_id is None or backend_path not in settings.AUTHENTICATION_BACKENDS:
            return None
        user = load_backend(backend_path).get_user(user_id)
        if user is None or not constant_time_compare(
            session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
        ):
            return None
        membership = (
            Membership.objects.filter(user=user, tenant=tenant, status=Membership.Status.ACTIVE)
            .select_related("user", "tenant")
            .first()
        )
        if membership is None or mfa_policy_unmet(membership):
            return None
        return tenant, membership


class WorkspaceSocketMiddleware:
    def __init__(self, inner: Any):
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        host = _host(scope)
        # Cookies are sent cross-origin on WebSocket handshakes; only our own page may connect.
        if not host or not _same_origin(scope, host):
            return await self._deny(send)
        session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
        resolved = await resolve(host, session_key)
        if resolved is None:
            return await self._deny(send)
        tenant, membership = resolved
        scope = dict(
            scope,
            tenant=tenant,
            membership=membership,
            user=membership.user,
            session_key=session_key,
        )
        return await self.inner(scope, receive, send)

    @staticmethod
    async def _deny(send: Any) -> None:
        await send({"type": "websocket.close", "code": 4403})
