"""The per-user notifications socket of a workspace."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import capabilities
from tenants.capabilities import Capability
from tenants.live import frame_for, reach_for, topic_group, topics_for
from tenants.models import Membership, UserSession
from tenants.notifications import session_group, user_group, workspace_group
from tenants.permissions import allows
from tenants.policies import mfa_policy_unmet


class WorkspaceConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Base of every socket on a workspace host. The socket middleware has checked the host,
    the origin, the session and the membership; the consumer declares the capability its
    route needs, asked of ``allows`` like every page and endpoint (the isolation tests read
    it)."""

    capability: Capability = capabilities.USE_WORKSPACE

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        if not allows(self.scope.get("membership"), self.capability):
            await self.close(code=4403)
            return
        await super().websocket_connect(message)


class NotificationsConsumer(WorkspaceConsumer):
    async def connect(self) -> None:
        tenant = self.scope["tenant"]
        membership = self.scope["membership"]
        self.membership_id = membership.pk
        self.schema_name = tenant.schema_name
        self.session_key = self.scope["session_key"]
        # Pushes for the member; the revocations when the member's session ends (sign-out, new
        # password, MFA change) or the workspace is suspended or deleted; and every live topic
        # the member's role, plan and workspace allow.
        self.reach = await database_sync_to_async(reach_for)(membership)
        self.groups_joined = [
            user_group(schema_name=tenant.schema_name, user_id=membership.user_id),
            session_group(self.session_key),
            workspace_group(schema_name=tenant.schema_name),
            *(
                topic_group(schema_name=tenant.schema_name, topic=topic.name)
                for topic in topics_for(membership)
            ),
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json(
            {
                "event": "hello",
                "payload": {
                    "role": membership.role,
                    "topics": [topic.name for topic in topics_for(membership)],
                },
            }
        )

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        # A frame that is not JSON is ignored, not a crash of the socket.
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The socket only pushes; a ping answers with the member's current standing.
        if isinstance(content, dict) and content.get("type") == "ping":
            reach = await self._still_active()
            if reach is None:
                await self.close(code=4403)
                return
            self.reach = reach
            await self.send_json({"event": "pong", "payload": {}})

    async def notify(self, message: dict[str, Any]) -> None:
        frame = frame_for(message, self.reach)
        if frame is not None:
            await self.send_json(frame)

    async def session_revoke(self, message: dict[str, Any]) -> None:
        await self.send_json({"event": "session.revoked", "payload": {"reason": message["reason"]}})
        await self.close(code=4401)

    @database_sync_to_async  # type: ignore[untyped-decorator]
    def _still_active(self) -> dict[str, frozenset[int] | None] | None:
        """The member's current reach (``tenants.live.reach_for``: a team or a visibility setting
        changed since the socket opened applies from the next ping) if the member is active,
        meets the workspace's policies, and the session the socket was opened from still
        lives; None otherwise — a revocation lost on the way, or a policy turned on since the
        socket opened, is caught at the next ping."""
        with schema_context("public"):
            membership = (
                Membership.objects.filter(pk=self.membership_id, status=Membership.Status.ACTIVE)
                .select_related("user", "tenant")
                .first()
            )
            if (
                membership is None
                or mfa_policy_unmet(membership)
                or not UserSession.objects.filter(
                    session_key=self.session_key, expire_date__gt=timezone.now()
                ).exists()
            ):
                return None
            return reach_for(membership)


class UnknownRouteConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Any path no route serves: refused before the handshake completes, with 4404."""

    async def connect(self) -> None:
        await self.close(code=4404)
