"""Push a message to one user's open pages in one workspace, over the channel layer.

Any module may call ``notify_user``; it is sent after the current transaction commits.
Group names carry the schema so a message can never reach another workspace (D6).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction

from tenants import live_sender
from tenants.models import Tenant


def user_group(*, schema_name: str, user_id: int) -> str:
    return f"{schema_name}.user.{user_id}"


def session_group(session_key: str) -> str:
    """The sockets opened from one browser session. Named by a digest: the key is a secret."""
    digest = hashlib.sha256(session_key.encode()).hexdigest()[:40]
    return f"public.session.{digest}"


def workspace_group(*, schema_name: str) -> str:
    """Every socket open on one workspace."""
    return f"{schema_name}.workspace"


def _send(group: str, message: dict[str, Any]) -> None:
    live_sender.send(group, message)


def notify_user(*, tenant: Tenant, user_id: int, event: str, payload: dict[str, Any]) -> None:
    group = user_group(schema_name=tenant.schema_name, user_id=user_id)
    message = {"type": "notify", "event": event, "payload": payload}
    transaction.on_commit(lambda: _send(group, message))


def disconnect_user(*, tenant: Tenant, user_id: int, reason: str) -> None:
    """Close the user's open sockets in this workspace (after commit)."""
    group = user_group(schema_name=tenant.schema_name, user_id=user_id)
    message = {"type": "session.revoke", "reason": reason}
    transaction.on_commit(lambda: _send(group, message))


def disconnect_sessions(*, session_keys: list[str], reason: str) -> None:
    """Close the sockets opened from these sessions, on every workspace host (after commit)."""
    message = {"type": "session.revoke", "reason": reason}
    groups = [session_group(key) for key in session_keys]

    def send_all() -> None:
        for group in groups:
            _send(group, message)

    if groups:
        transaction.on_commit(send_all)


def disconnect_workspace(*, tenant: Tenant, reason: str) -> None:
    """Close every socket open on the workspace (after commit)."""
    group = workspace_group(schema_name=tenant.schema_name)
    message = {"type": "session.revoke", "reason": reason}
    transaction.on_commit(lambda: _send(group, message))
