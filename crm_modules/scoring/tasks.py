"""Background scoring: a changed record is scored again at once (interactive queue); every
record of a kind after a rule change, and every night for the time-based rules (bulk queue)."""

from __future__ import annotations

from celery import shared_task
from django_tenants.utils import schema_context

from crm_modules.scoring import services
from crm_modules.scoring.models import ScoringRule
from tenants.models import Tenant


@shared_task
def rescore(*, entity: str, ids: list[int] | None = None) -> int:
    return services.scores_recompute(entity=entity, ids=ids)


def on_inputs_changed(entity: str, ids: list[int] | None) -> None:
    """Sales says (after commit) that these records' scoring inputs changed. Without an active
    rule there is nothing to compute (a bulk import then queues no task per record)."""
    if not ScoringRule.objects.filter(entity=entity, active=True).exists():
        return
    if ids is None:
        rescore.apply_async(kwargs={"entity": entity}, queue="bulk")
    else:
        rescore.apply_async(kwargs={"entity": entity, "ids": ids})


@shared_task(queue="bulk")
def rescore_every_workspace() -> int:
    """Nightly: engagement windows and inactivity move with the calendar."""
    scored = 0
    workspaces = Tenant.objects.exclude(state=Tenant.State.SPARE).exclude(schema_name="public")
    for schema_name in workspaces.values_list("schema_name", flat=True):
        with schema_context(schema_name):
            for entity in ("contact", "lead"):
                scored += services.scores_recompute(entity=entity)
    return scored
