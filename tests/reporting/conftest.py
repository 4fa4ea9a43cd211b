from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from crm_modules.activities.models import Activity
from crm_modules.sales.models import Deal, Stage
from tenants.roles import Role
from tests.conftest import Workspace
from tests.sales.conftest import fresh, in_alpha  # noqa: F401
from tests.sales.factories import DealFactory, LeadFactory, PipelineFactory, TaskFactory


@pytest.fixture
def seeded(in_alpha: Workspace) -> dict[str, Any]:  # noqa: F811
    """A small pipeline: the rep owns two open deals and one won; the owner one open and one
    lost; a lead from each of two sources; an overdue task each; activities by both."""
    rep = in_alpha.members[Role.SALES_REP].user
    owner = in_alpha.owner.user
    pipeline = PipelineFactory.create()
    stages = {s.name: s for s in pipeline.stages.all()}
    now = timezone.now()

    def deal(who: Any, stage: Stage, amount: str, status: str = "open", **kw: Any) -> Deal:
        return DealFactory.create(
            owner=who,
            pipeline=pipeline,
            stage=stage,
            amount=Decimal(amount),
            status=status,
            closed_at=now if status != "open" else None,
            **kw,
        )

    deals = [
        deal(rep, stages["New"], "100"),
        deal(rep, stages["Proposal"], "200"),
        deal(rep, stages["Won"], "1000", "won"),
        deal(owner, stages["New"], "50"),
        deal(owner, stages["Lost"], "70", "lost"),
    ]
    LeadFactory.create(owner=rep, source="web", deal=deals[2])
    LeadFactory.create(owner=owner, source="fair")
    TaskFactory.create(owner=rep, due_at=now - datetime.timedelta(days=1))
    TaskFactory.create(owner=owner, due_at=now - datetime.timedelta(days=2))
    TaskFactory.create(owner=owner, due_at=now + datetime.timedelta(days=2))
    for who, kind in ((rep, "call"), (rep, "email"), (owner, "meeting")):
        Activity.objects.create(kind=kind, subject="Hi", author=who, occurred_at=now)
    return {"pipeline": pipeline, "stages": stages, "deals": deals, "rep": rep, "owner": owner}
