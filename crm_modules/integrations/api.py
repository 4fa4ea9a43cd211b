"""The integrations facade: the API-key resolver named by ``API_KEY_RESOLVER``."""

from __future__ import annotations

import time
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied, Throttled
from rest_framework.permissions import SAFE_METHODS

from billing.plans import Feature, Limit, plan_allows, plan_limit
from crm_modules.integrations.services import api_key_match
from crm_platform.ratelimits import counter_increment
from tenants.models import Membership

__all__ = ["resolve_api_key"]


def _check_rate(tenant: Any, key_id: int) -> None:
    """Each key may make the plan's API requests per clock minute (billing's plan limits);
    beyond them the API answers 429 with Retry-After."""
    limit = plan_limit(tenant, Limit.API_REQUESTS_PER_MINUTE)
    if limit is None:
        return
    now = time.time()
    window = int(now // 60)
    bucket = f"api-key-rate:{tenant.schema_name}:{key_id}:{window}"
    if counter_increment(bucket, 120) > limit:
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
    if not plan_allows(tenant, Feature.API):
        raise PermissionDenied(
            _("The workspace's plan does not include the REST API. Ask the owner to upgrade.")
        )
    _check_rate(tenant, key.pk)
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
