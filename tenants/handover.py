"""One-time, short-lived, signed tokens that hand a signed-in session to a workspace host (D5)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from tenants.models import Tenant, User

SALT = "rapport.handover"


def handover_token_mint(*, user: User, tenant: Tenant) -> str:
    payload = {
        "u": user.pk,
        "t": tenant.pk,
        "n": secrets.token_urlsafe(16),
        # A password change in between invalidates the token.
        "h": user.get_session_auth_hash()[:16],
    }
    return signing.dumps(payload, salt=SALT, compress=False)


def handover_token_redeem(*, token: str, tenant: Tenant) -> User | None:
    """The user the token was minted for, or None if forged, expired, replayed or misdirected."""
    max_age = settings.HANDOVER_MAX_AGE_SECONDS
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("t") != tenant.pk:
        return None
    # Single use: the first redeemer claims the nonce (atomic in Redis).
    if not cache.add(f"handover-nonce:{payload.get('n')}", 1, timeout=max_age * 2):
        return None
    user_id = payload.get("u")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.get_session_auth_hash()[:16] != payload.get("h"):
        return None
    return user
