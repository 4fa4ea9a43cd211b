"""The plan's pipeline limit (billing's plan-limits facade): a workspace on a plan whose
active pipelines are all in use can neither add one nor restore an archived one, and is told
why; a plan without a limit is not counted."""

from __future__ import annotations

import pytest
from django.db import connection

from crm_modules.sales import services
from crm_modules.sales.models import Pipeline
from crm_modules.sales.services.deals import StageInput
from crm_platform.errors import ServiceError
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")

STAGES = [StageInput(name="New", probability=10), StageInput("Won", 100, kind="won")]


def _on_plan(alpha: Workspace, plan: str) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=plan)


def _active() -> int:
    return Pipeline.objects.filter(archived_at__isnull=True).count()


def test_starter_adds_its_one_pipeline_and_no_more(alpha: Workspace) -> None:
    _on_plan(alpha, "starter")
    assert _active() == 0
    services.pipeline_create(actor=fresh(alpha.owner), name="Sales", stages=STAGES)
    with pytest.raises(ServiceError) as refused:
        services.pipeline_create(actor=fresh(alpha.owner), name="Renewals", stages=STAGES)
    assert (refused.value.field, refused.value.code) == ("pipeline", "plan_limit")
    assert "1 active pipelines" in refused.value.message
    assert _active() == 1
    assert not Pipeline.objects.filter(name="Renewals").exists()


def test_the_pipelines_page_says_why(alpha: Workspace) -> None:
    _on_plan(alpha, "starter")
    services.pipeline_create(actor=fresh(alpha.owner), name="Sales", stages=STAGES)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post("/sales/pipelines/", {"name": "Renewals"})
    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert response.status_code == 400
    assert "upgrade the plan" in response.content.decode()
    assert not Pipeline.objects.filter(name="Renewals").exists()


def test_a_plan_without_a_limit_adds_freely_and_a_restore_is_counted(alpha: Workspace) -> None:
    _on_plan(alpha, "professional")
    owner = fresh(alpha.owner)
    extra = [services.pipeline_create(actor=owner, name=f"P{n}", stages=STAGES) for n in range(3)]
    assert _active() == 3
    services.pipeline_create(actor=owner, name="Main", stages=STAGES)
    for pipeline in extra:
        services.pipeline_archive(actor=owner, pipeline=pipeline, archived=True)
    # Down to Starter: restoring an archived pipeline would make two active.
    _on_plan(alpha, "starter")
    with pytest.raises(ServiceError) as refused:
        services.pipeline_archive(actor=fresh(alpha.owner), pipeline=extra[0], archived=False)
    assert refused.value.code == "plan_limit"
    assert Pipeline.objects.get(pk=extra[0].pk).archived_at is not None


def test_the_trial_runs_on_professional_limits(alpha: Workspace) -> None:
    _on_plan(alpha, "trial")
    for name in ("One", "Two"):
        services.pipeline_create(actor=fresh(alpha.members[Role.ADMIN]), name=name, stages=STAGES)
    assert _active() == 2
