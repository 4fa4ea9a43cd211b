"""allauth hooks: signup goes through the trial form, sign-out and a new password end every
session (and close its sockets), and redirects stay on our own public host."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction
from django.http import HttpRequest

from tenants.hosts import safe_local_path
from tenants.services.sessions import sessions_end


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the trial signup or by accepting an invitation.
        return False

    def is_safe_url(self, url: str | None) -> bool:
        return bool(url) and safe_local_path(url, default="") == url

    def logout(self, request: HttpRequest) -> None:
        user_id = request.user.pk if request.user.is_authenticated else None
        super().logout(request)
        if user_id is not None:
            sign_out_everywhere(user_id=user_id)

    def set_password(self, user: Any, password: str) -> None:
        # Change and reset alike: sessions signed in with the old password end, and their
        # sockets close (the current one is signed out by ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE).
        super().set_password(user, password)
        user_id = user.pk
        transaction.on_commit(lambda: sessions_end(user_id=user_id, reason="password_changed"))


def sign_out_everywhere(*, user_id: int) -> int:
    """End every session of the user, on the public host and on every workspace host."""
    return sessions_end(user_id=user_id, reason="signed_out")


def mfa_changed(*, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """allauth.mfa's authenticator added / removed / reset: every other session of the person
    ends; the one making the change stays signed in."""
    keep = request.session.session_key if request is not None else None
    sessions_end(user_id=user.pk, reason="mfa_changed", keep=keep)
