"""Service in the channels that do not go through a member (ADR 0078): the customer portal,
the ticket web form, inbound email and the background sends answer only while the workspace's
plan includes the module. Nothing is deleted when it does not: tickets, mail already stored and
settings stay, and everything answers again once the plan includes service."""

from __future__ import annotations

from django.db import connection

from billing.plans import Feature, plan_allows
from crm_platform import unavailable
from tenants.models import Tenant


def service_in_plan(tenant: Tenant) -> bool:
    return plan_allows(tenant, Feature.SERVICE)


def automation_runs(tenant: Tenant) -> bool:
    """Routing rules and SLA escalations act on tickets without a member: workflow
    automation, so they run only while the plan includes both service and automation (ADR
    0081). Otherwise they are kept, shown "Paused by the plan", and do not fire."""
    return service_in_plan(tenant) and plan_allows(tenant, Feature.AUTOMATION)


def automation_paused_here() -> bool:
    """For a page: the routing rules and escalations of the current workspace are paused."""
    return not automation_runs(connection.tenant)  # type: ignore[attr-defined]


# The portal and the web form (ADR 0081: one decorator for every module's public pages).
customer_facing = unavailable.customer_facing(Feature.SERVICE)
