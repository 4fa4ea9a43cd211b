"""Push a message to one user's open pages in one workspace, over the channel layer.

Any module may call ``notify_user``; it is sent after the current transaction commits.
Group names carry the schema so a message can never reach another workspace (D6).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from tenants.models import Tenant


def user_group(*, schema_name: str, user_id: int) -> str:
    return f"{schema_name}.user.{user_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def notify_user(*, tenant: Tenant, user_id: int, event: str, payload: dict[str, Any]) -> None:
    group = user_group(schema_name=tenant.schema_name, user_id=user_id)
    message = {"type": "notify", "event": event, "payload": payload}
    transaction.on_commit(lambda: _send(group, message))


def disconnect_user(*, tenant: Tenant, user_id: int, reason: str) -> None:
    """Close the user's open sockets in this workspace (after commit)."""
    group = user_group(schema_name=tenant.schema_name, user_id=user_id)
    message = {"type": "session.revoke", "reason": reason}
    transaction.on_commit(lambda: _send(group, message))
