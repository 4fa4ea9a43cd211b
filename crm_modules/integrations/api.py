"""The integrations facade: the API-key resolver named by ``API_KEY_RESOLVER``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS

from crm_modules.integrations.services import api_key_match
from tenants.models import Membership

__all__ = ["resolve_api_key"]


def resolve_api_key(request: Any, raw_key: str) -> Membership | None:
    """The member a Bearer key acts as on this workspace's host, or None. Keys live in the
    workspace's own schema, so another workspace's key is simply not found here."""
    tenant = getattr(request._request if hasattr(request, "_request") else request, "tenant", None)
    if tenant is None or getattr(tenant, "is_public", False):
        return None
    key = api_key_match(raw_key)
    if key is None or key.created_by_id is None:
        return None
    membership = (
        Membership.objects.filter(tenant=tenant, user_id=key.created_by_id)
        .select_related("tenant", "user")
        .first()
    )
    if membership is None or not membership.is_active:
        return None
    if key.read_only and request.method not in SAFE_METHODS:
        raise PermissionDenied(_("This API key may only read."))
    return membership
