"""The presence socket of ticket pages (ADR 0037): a page says which ticket it shows and
whether its member is writing a reply; every page on that ticket hears who is there.

Frames from the page: ``{"type": "presence", "ticket": <id>, "state": "viewing"|"replying"}``
(also the heartbeat) and ``{"type": "leave"}``. Frames to the page: ``presence`` with the
people on the ticket, ``presence.error`` when the ticket is not one the member may see.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django_tenants.utils import schema_context

from crm_modules.service.models import Ticket
from crm_modules.service.module import VIEW_TICKETS, WORK_TICKETS
from crm_modules.service.presence import (
    STATES,
    presence_group,
    presence_leave,
    presence_list,
    presence_touch,
)
from tenants.consumers import WorkspaceConsumer
from tenants.models import User
from tenants.permissions import allows


class TicketPresenceConsumer(WorkspaceConsumer):
    capability = VIEW_TICKETS

    async def connect(self) -> None:
        self.schema_name = self.scope["tenant"].schema_name
        self.membership = self.scope["membership"]
        self.ticket_id: int | None = None
        await self.accept()

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "leave":
            await self._leave()
            return
        if kind != "presence":
            return
        ticket_id = content.get("ticket")
        state = content.get("state", "viewing")
        if (
            not isinstance(ticket_id, int)
            or isinstance(ticket_id, bool)
            or state not in STATES
            or (state == "replying" and not allows(self.membership, WORK_TICKETS))
            or not await self._may_see(ticket_id)
        ):
            await self.send_json({"event": "presence.error", "payload": {"ticket": ticket_id}})
            return
        if self.ticket_id != ticket_id:
            await self._leave()
            self.ticket_id = ticket_id
            await self.channel_layer.group_add(self._group(), self.channel_name)
        await database_sync_to_async(presence_touch)(
            schema_name=self.schema_name,
            ticket_id=ticket_id,
            user_id=self.membership.user_id,
            state=state,
        )
        await self._broadcast()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def presence_changed(self, message: dict[str, Any]) -> None:
        if message["ticket"] == self.ticket_id:
            await self.send_json({"event": "presence", "payload": message["payload"]})

    def _group(self) -> str:
        assert self.ticket_id is not None  # noqa: S101 - only called while watching
        return presence_group(schema_name=self.schema_name, ticket_id=self.ticket_id)

    async def _leave(self) -> None:
        if self.ticket_id is None:
            return
        group = self._group()
        await database_sync_to_async(presence_leave)(
            schema_name=self.schema_name, ticket_id=self.ticket_id, user_id=self.membership.user_id
        )
        await self._broadcast()
        await self.channel_layer.group_discard(group, self.channel_name)
        self.ticket_id = None

    async def _broadcast(self) -> None:
        ticket_id = self.ticket_id
        assert ticket_id is not None  # noqa: S101
        people = await self._people(ticket_id)
        await self.channel_layer.group_send(
            self._group(),
            {
                "type": "presence.changed",
                "ticket": ticket_id,
                "payload": {"ticket": ticket_id, "people": people},
            },
        )

    @database_sync_to_async  # type: ignore[untyped-decorator]
    def _may_see(self, ticket_id: int) -> bool:
        if not allows(self.membership, VIEW_TICKETS):
            return False
        with schema_context(self.schema_name):
            return Ticket.objects.filter(pk=ticket_id).exists()

    @database_sync_to_async  # type: ignore[untyped-decorator]
    def _people(self, ticket_id: int) -> list[dict[str, Any]]:
        entries = presence_list(schema_name=self.schema_name, ticket_id=ticket_id)
        names = dict(
            User.objects.filter(pk__in=[user for user, _state in entries]).values_list(
                "pk", "full_name"
            )
        )
        return [
            {"user": user, "name": names.get(user) or "", "state": state}
            for user, state in entries
            if user in names
        ]
