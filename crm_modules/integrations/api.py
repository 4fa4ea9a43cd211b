"""The integrations facade: the API-key resolver named by ``API_KEY_RESOLVER``."""

from __future__ import annotations

import time
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied, Throttled
from rest_framework.permissions import SAFE_METHODS

from crm_modules.integrations.services import api_key_match
from crm_platform.ratelimits import counter_increment
from tenants.models import Membership

__all__ = ["RATE_LIMIT_PER_MINUTE", "resolve_api_key"]

# Requests a key may make per clock minute; beyond that the API answers 429 with Retry-After.
RATE_LIMIT_PER_MINUTE = 600


def _check_rate(schema: str, key_id: int) -> None:
    now = time.time()
    window = int(now // 60)
    bucket = f"api-key-rate:{schema}:{key_id}:{window}"
    if counter_increment(bucket, 120) > RATE_LIMIT_PER_MINUTE:
        raise Throttled(wait=max(1, 60 - int(now % 60)))


def resolve_api_key(request: Any, raw_key: str) -> Membership | None:
    """The member a Bearer key acts as on this workspace's host, or None. Keys live in the
    workspace's own schema, so another workspace's key is simply not found here."""
    tenant = getattr(request._request if hasattr(request, "_request") else request, "tenant", None)
    if tenant is None or getattr(tenant, "is_public", False):
        return None
    key = api_key_match(raw_key)
    if key is None or key.created_by_id is None:
        return None
    _check_rate(tenant.schema_name, key.pk)
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
