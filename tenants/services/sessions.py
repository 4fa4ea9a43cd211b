"""Ending sessions. Every event that ends a session — sign-out, sign-out everywhere, a new
password, a change of two-factor authentication — goes through ``sessions_end``, which deletes
the session rows and closes the sockets those sessions opened."""

from __future__ import annotations

from tenants.models import UserSession
from tenants.notifications import disconnect_sessions


def sessions_end(*, user_id: int, reason: str, keep: str | None = None) -> int:
    """End every session of the user on every host, except ``keep`` (the session making the
    change, when it should stay signed in); returns how many ended."""
    rows = UserSession.objects.filter(user_id=user_id)
    if keep:
        rows = rows.exclude(session_key=keep)
    keys = list(rows.values_list("session_key", flat=True))
    UserSession.objects.filter(session_key__in=keys).delete()
    disconnect_sessions(session_keys=keys, reason=reason)
    return len(keys)
