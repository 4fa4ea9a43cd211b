"""Which modules a plan includes (billing/plans.py) is enforced by the one permission question:
a module's capabilities belong to the plans with its feature, so on Starter the service and
marketing pages, their API, their navigation entries and their services are refused, saying
it is the plan, not the role; a trial and the plans that include them reach them."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from billing.plans import Feature, plans_with
from crm_modules.marketing import services as marketing_services
from crm_modules.service.module import VIEW_TICKETS
from crm_platform.errors import PermissionDenied
from tenants.models import Membership, Plan, Tenant
from tenants.permissions import allows
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client

PLAN_MESSAGE = "plan does not include this"


def _on_plan(alpha: Workspace, plan: str) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=plan)


def test_the_plans_with_a_feature_come_from_the_plan_table() -> None:
    assert plans_with(Feature.SERVICE) == {
        Plan.TRIAL,
        Plan.PROFESSIONAL,
        Plan.ENTERPRISE,
    }
    assert plans_with(Feature.SSO) == {Plan.ENTERPRISE}
    assert VIEW_TICKETS.plans == plans_with(Feature.SERVICE)


@pytest.mark.parametrize("path", ["/service/", "/marketing/segments/", "/integrations/api-keys/"])
def test_starter_pages_of_modules_outside_the_plan_say_so(alpha: Workspace, path: str) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.get(path).status_code == 200
    _on_plan(alpha, Plan.STARTER)
    response = client.get(path)
    assert response.status_code == 403
    page = response.content.decode()
    assert 'data-testid="plan-forbidden"' in page
    assert "Your role does not allow this" not in page


def test_a_role_refusal_still_names_the_role(alpha: Workspace) -> None:
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    response = rep.get("/integrations/api-keys/")
    assert response.status_code == 403
    assert 'data-testid="plan-forbidden"' not in response.content.decode()


def test_starter_api_of_a_module_outside_the_plan_answers_403_naming_the_plan(
    alpha: Workspace,
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.get("/api/v1/service/tickets/").status_code == 200
    _on_plan(alpha, Plan.STARTER)
    response = client.get("/api/v1/service/tickets/")
    assert response.status_code == 403
    assert PLAN_MESSAGE in response.json()["error"]["message"]
    # Sales is in every plan.
    assert client.get("/api/v1/sales/contacts/").status_code == 200


def test_starter_navigation_leaves_out_the_modules_outside_the_plan(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)

    def hrefs() -> set[str]:
        page = client.get("/").content.decode()
        return set(re.findall(r'<a class="nav-link" href="([^"]+)"', page))

    before = hrefs()
    _on_plan(alpha, Plan.STARTER)
    after = hrefs()
    left_out = before - after
    assert any(href.startswith("/service/") for href in left_out), before
    assert any(href.startswith("/marketing/") for href in left_out), before
    assert "/integrations/api-keys/" in left_out
    assert not any(href.startswith(("/service/", "/marketing/")) for href in after)
    assert any(href.startswith("/sales/") for href in after)


def test_starter_services_of_a_module_outside_the_plan_refuse_naming_the_plan(
    alpha: Workspace,
) -> None:
    _on_plan(alpha, Plan.STARTER)
    owner = Membership.objects.select_related("tenant", "user").get(pk=alpha.owner.pk)
    assert not allows(owner, VIEW_TICKETS)
    connection.set_tenant(owner.tenant)  # type: ignore[attr-defined]
    with pytest.raises(PermissionDenied) as refused:
        marketing_services.segment_create(actor=owner, name="Milan", kind="static")
    assert PLAN_MESSAGE in str(refused.value)


@pytest.mark.parametrize("plan", [Plan.TRIAL, Plan.PROFESSIONAL, Plan.ENTERPRISE])
def test_the_plans_with_the_modules_reach_them(alpha: Workspace, plan: str) -> None:
    _on_plan(alpha, plan)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.get("/service/").status_code == 200
    assert client.get("/marketing/segments/").status_code == 200
