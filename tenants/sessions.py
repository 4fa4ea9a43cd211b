"""Database session engine whose rows carry the user id (Django's documented extension)."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DBStore

_KEY_CHARS = frozenset(VALID_KEY_CHARS)


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls) -> Any:
        from tenants.models import UserSession

        return UserSession

    def _validate_session_key(self, key: str | None) -> bool:
        # Only keys we could have issued reach the database: a forged cookie with a NUL byte
        # would otherwise fail the query (PostgreSQL text cannot hold NUL) with a 500.
        valid = super()._validate_session_key(key)  # type: ignore[misc]
        return bool(valid) and set(key or "") <= _KEY_CHARS

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        instance: Any = super().create_model_instance(data)
        user_id = data.get("_auth_user_id")
        instance.user_id = int(user_id) if user_id is not None else None
        return instance
