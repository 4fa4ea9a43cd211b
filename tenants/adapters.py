"""allauth hooks: signup goes through the trial form, sign-out ends every session, and
redirects stay on our own public host."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from tenants.hosts import safe_local_path
from tenants.models import UserSession


class AccountAdapter(DefaultAccountAdapter):
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


def sign_out_everywhere(*, user_id: int) -> int:
    """End every session of the user, on the public host and on every workspace host."""
    deleted, _ = UserSession.objects.filter(user_id=user_id).delete()
    return deleted
