"""Marketing in the channels that do not go through a member (ADR 0078): the public forms take
answers, and campaigns, sequences and event triggers send, only while the workspace's plan
includes the module. Otherwise the forms answer "not available" and take nothing in, and the
sends are held — not sent, not dropped — until the plan includes marketing again."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

from billing.plans import Feature, plan_allows
from crm_platform.unavailable import not_available
from tenants.models import Tenant

# How soon a held campaign send looks at the plan again.
HELD_RETRY = datetime.timedelta(minutes=15)


def marketing_in_plan(tenant: Tenant) -> bool:
    return plan_allows(tenant, Feature.MARKETING)


def triggers_run(tenant: Tenant) -> bool:
    """Event triggers are workflow automation too: paused on a plan without either."""
    return marketing_in_plan(tenant) and plan_allows(tenant, Feature.AUTOMATION)


def current_workspace() -> Tenant:
    """For a task: the workspace whose schema is current (the task carries only the schema
    name, D6)."""
    schema: str = connection.schema_name  # type: ignore[attr-defined]
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant) and tenant.pk is not None and tenant.schema_name == schema:
        return tenant
    return Tenant.objects.get(schema_name=schema)


def marketing_in_plan_here() -> bool:
    return marketing_in_plan(current_workspace())


def customer_facing(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page or endpoint visitors reach without a member (the public forms): "not available"
    (404) and nothing taken in while the plan leaves marketing out."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not marketing_in_plan(request.tenant):  # type: ignore[attr-defined]
            wants_json = request.path.endswith(".json") or "application/json" in (
                request.headers.get("Accept", "")
            )
            return not_available(request, wants_json=wants_json)
        return view(request, *args, **kwargs)

    return wrapper
