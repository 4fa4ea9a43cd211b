"""Workflow automation is a plan feature (ADR 0078): configuring it — score thresholds that act
on records, marketing's event triggers — belongs to the plans with ``Feature.AUTOMATION``; on
a plan without it the rules are kept, shown paused by the plan, and do not run. And what the
plans sell but the product does not have yet (SSO, field-level security) is shown as coming
soon, never as included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from billing.plans import NOT_BUILT, PLANS, Feature, plans_with
from crm_modules.marketing.module import MANAGE_TRIGGERS
from crm_modules.sales.models import Contact, Task
from crm_modules.scoring import services as scoring
from crm_modules.scoring.models import ScoreThreshold
from crm_modules.scoring.module import MANAGE_THRESHOLDS
from crm_platform.errors import PermissionDenied
from tenants.models import Plan, Tenant
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory

PLAN_MESSAGE = "plan does not include this"
WEBINAR_RULE = {
    "entity": "contact",
    "name": "Webinar",
    "kind": "field",
    "field": "source",
    "operator": "eq",
    "value": "webinar",
    "points": 20,
}
THRESHOLD = {
    "entity": "contact",
    "min_score": 20,
    "lifecycle_stage": "qualified",
    "task_title": "Call this hot lead",
}


def _on_plan(workspace: Workspace, plan: str) -> None:
    Tenant.objects.filter(pk=workspace.tenant.pk).update(plan=plan)
    workspace.tenant.plan = plan


@pytest.fixture
def in_alpha(alpha: Workspace) -> Workspace:
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    return alpha


def test_automation_configuration_belongs_to_the_plans_with_automation() -> None:
    assert MANAGE_THRESHOLDS.plans == plans_with(Feature.AUTOMATION)
    assert MANAGE_TRIGGERS.plans == plans_with(Feature.AUTOMATION) & plans_with(Feature.MARKETING)
    assert Plan.STARTER not in MANAGE_THRESHOLDS.plans


def test_starter_cannot_add_or_delete_a_threshold_and_is_told_it_is_the_plan(
    in_alpha: Workspace,
) -> None:
    alpha = in_alpha
    kept = scoring.threshold_create(actor=fresh(alpha.owner), data=THRESHOLD)
    _on_plan(alpha, Plan.STARTER)

    with pytest.raises(PermissionDenied) as refused:
        scoring.threshold_create(actor=fresh(alpha.owner), data={**THRESHOLD, "min_score": 50})
    assert PLAN_MESSAGE in str(refused.value)
    with pytest.raises(PermissionDenied):
        scoring.threshold_delete(actor=fresh(alpha.owner), threshold=kept)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post("/scoring/thresholds/new/", {**THRESHOLD, "min_score": "50"})
    assert response.status_code == 403
    assert 'data-testid="plan-forbidden"' in response.content.decode()
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert list(ScoreThreshold.objects.values_list("min_score", flat=True)) == [20]


@contextmanager
def _committed(capture: Callable[..., Any]) -> Iterator[None]:
    with capture(execute=True):
        yield


@pytest.mark.parametrize("plan", [Plan.STARTER, Plan.PROFESSIONAL])
def test_thresholds_act_only_while_the_plan_includes_automation_and_show_paused(
    in_alpha: Workspace, plan: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    alpha = in_alpha
    owner = fresh(alpha.owner)
    scoring.threshold_create(actor=owner, data=THRESHOLD)
    contact = ContactFactory.create(owner=alpha.owner.user, source="webinar")
    _on_plan(alpha, plan)
    owner = fresh(alpha.owner)

    with _committed(django_capture_on_commit_callbacks):
        scoring.rule_create(actor=owner, data=WEBINAR_RULE)  # scores are computed again

    contact = Contact.objects.get(pk=contact.pk)
    tasks = Task.objects.filter(contact=contact).count()
    page = workspace_client(alpha.owner.user, alpha.tenant).get("/scoring/").content.decode()
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert contact.score == 20  # scoring itself is in every plan
    if plan == Plan.STARTER:
        assert (contact.lifecycle_stage, tasks) == ("lead", 0)
        assert 'data-testid="thresholds-paused"' in page
        assert 'data-testid="threshold-new"' not in page
        assert ScoreThreshold.objects.count() == 1  # kept
    else:
        assert (contact.lifecycle_stage, tasks) == ("qualified", 1)
        assert 'data-testid="thresholds-paused"' not in page
        assert 'data-testid="threshold-new"' in page


def test_trigger_rules_are_not_configured_on_a_plan_without_automation(
    alpha: Workspace,
) -> None:
    _on_plan(alpha, Plan.STARTER)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get("/marketing/triggers/new/")
    assert response.status_code == 403
    assert 'data-testid="plan-forbidden"' in response.content.decode()


# --- sold, not built ------------------------------------------------------------------------------


def test_sso_and_field_security_are_not_listed_as_included_anywhere() -> None:
    assert {Feature.SSO, Feature.FIELD_SECURITY} == NOT_BUILT
    for spec in PLANS:
        included = " ".join(str(line) for line in spec.highlights)
        assert "sign-on" not in included
        assert "field-level" not in included
    enterprise = next(spec for spec in PLANS if spec.code == Plan.ENTERPRISE)
    assert sorted(str(line) for line in enterprise.coming_soon) == [
        "Field-level security",
        "Single sign-on",
    ]


def test_the_pricing_page_shows_them_as_coming_soon_in_the_visitors_language() -> None:
    english = Client(HTTP_HOST="localhost").get("/pricing/").content.decode()
    assert "Single sign-on (coming soon)" in english
    assert "Field-level security (coming soon)" in english
    assert "Single sign-on and field-level security" not in english
    russian = (
        Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ru").get("/pricing/").content.decode()
    )
    assert 'data-testid="coming-soon-enterprise"' in russian
    assert "(coming soon)" not in russian


def test_the_billing_page_shows_them_as_coming_soon(alpha: Workspace) -> None:
    page = workspace_client(alpha.owner.user, alpha.tenant).get("/billing/").content.decode()
    assert 'data-testid="coming-soon-enterprise"' in page
    assert "Single sign-on (coming soon)" in page
