"""Marketing in the channels that do not go through a member (ADR 0078): the public forms take
answers, and campaigns, sequences and event triggers send, only while the workspace's plan
includes the module. Otherwise the forms answer "not available" and take nothing in, and the
sends are held — not sent, not dropped — until the plan includes marketing again."""

from __future__ import annotations

from django.db import connection

from billing.plans import Feature, plan_allows
from crm_platform import unavailable
from tenants.models import Tenant


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


# The public forms (ADR 0081: one decorator for every module's public pages).
customer_facing = unavailable.customer_facing(Feature.MARKETING)
