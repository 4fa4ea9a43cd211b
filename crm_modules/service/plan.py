"""Service in the channels that do not go through a member (ADR 0078): the customer portal,
the ticket web form, inbound email and the background sends answer only while the workspace's
plan includes the module. Nothing is deleted when it does not: tickets, mail already stored and
settings stay, and everything answers again once the plan includes service."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from billing.plans import Feature, plan_allows
from crm_platform.unavailable import not_available
from tenants.models import Tenant


def service_in_plan(tenant: Tenant) -> bool:
    return plan_allows(tenant, Feature.SERVICE)


def customer_facing(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page customers reach without a member (the portal, the web form): "not available"
    (404) and nothing taken in while the plan leaves service out."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not service_in_plan(request.tenant):  # type: ignore[attr-defined]
            return not_available(request)
        return view(request, *args, **kwargs)

    return wrapper
