"""Request types for views: what the middleware has attached by the time a view runs."""

from __future__ import annotations

from django.http import HttpRequest

from tenants.models import Membership, Tenant, User


class TenantRequest(HttpRequest):
    """Any request: WorkspaceHostMiddleware has set the tenant (the public one on BASE_DOMAIN)."""

    tenant: Tenant


class WorkspaceRequest(TenantRequest):
    """A request on a workspace host from an active member (MembershipMiddleware)."""

    membership: Membership
    user: User
