"""Two people moving one deal at the same moment: the row lock serialises them. Runs on the
committed test workspaces (real concurrent transactions) and removes what it made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context

from crm_modules.activities.models import Activity
from crm_modules.sales import services
from crm_modules.sales.models import DealStageChange
from tenants.audit.models import AuditEvent
from tests.concurrency import race
from tests.conftest import Workspace, World
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory


def test_two_people_moving_one_deal_at_once_are_serialised(
    world: World, django_db_blocker: Any
) -> None:
    alpha = world.alpha
    schema = alpha.tenant.schema_name
    with django_db_blocker.unblock():
        _race(alpha, schema)


def _race(alpha: Workspace, schema: str) -> None:
    with schema_context(schema):
        deal = DealFactory.create()
        stages = {s.position: s for s in deal.pipeline.stages.all()}

    def move(position: int) -> Callable[[Callable[[], object]], None]:
        def run(go: Callable[[], object]) -> None:
            go()
            services.deal_move_stage(
                actor=fresh(alpha.owner), deal=deal, stage=stages[position], lost_reason="x"
            )

        return run

    try:
        race([move(1), move(3)], schema=schema)
        with schema_context(schema):
            changes = list(DealStageChange.objects.filter(deal=deal).order_by("id"))
            deal.refresh_from_db()
            # The second move started from the stage the first one left: the history is a chain.
            assert len(changes) == 2
            assert changes[0].from_stage_id == stages[0].pk
            assert changes[1].from_stage_id == changes[0].to_stage_id
            assert deal.stage_id == changes[1].to_stage_id
            assert Activity.objects.filter(kind="stage_change").count() == 2
    finally:
        with schema_context(schema):
            Activity.objects.all().delete()
            AuditEvent.objects.filter(action__startswith="deal.").delete()
            pipeline = deal.pipeline
            deal.delete()
            pipeline.delete()
