"""Pipeline administration: rename, archive and restore a pipeline; add, change, reorder and
delete its stages. A stage that holds deals is deleted only by moving them to another stage of
the same pipeline, in the same transaction, each move recorded in the deal's stage history."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.plans import Limit, plan_limit
from crm_modules.sales.models import Deal, DealStageChange, Pipeline, Stage
from crm_modules.sales.module import (
    DEALS_TOPIC,
    MANAGE_PIPELINES,
    PIPELINE_ARCHIVED,
    PIPELINE_RESTORED,
    PIPELINE_UPDATED,
    STAGE_CREATED,
    STAGE_DELETED,
    STAGE_UPDATED,
)
from crm_modules.sales.services import checks
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.live import coalesced, publish
from tenants.models import Membership, Tenant
from tenants.permissions import require

# The key of the transaction lock that serialises adding active pipelines in a workspace
# (each workspace has its own schema; the lock is per database, so the schema is in the key).
_PIPELINES_LOCK = "sales.pipelines"


def check_pipeline_limit(tenant: Tenant) -> None:
    """Inside the transaction that adds an active pipeline (a new one, or one restored):
    refuse it if the plan's pipelines are all in use. Concurrent additions wait for each
    other, so two cannot both take the last one."""
    limit = plan_limit(tenant, Limit.PIPELINES)
    if limit is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"{_PIPELINES_LOCK}:{tenant.schema_name}"],
        )
    if Pipeline.objects.filter(archived_at__isnull=True).count() >= limit:
        raise ServiceError(
            _(
                "Your plan includes %(limit)s active pipelines, all in use. Archive one, or "
                "ask the owner to upgrade the plan."
            )
            % {"limit": limit},
            field="pipeline",
            code="plan_limit",
        )


def _check_probability(raw: Any) -> int:
    try:
        value = int(str(raw).strip()) if not isinstance(raw, bool) else -1
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= 100:
        raise ServiceError(
            _("A win probability is a whole number from 0 to 100."), field="probability"
        )
    return value


def _locked(pipeline: Pipeline) -> Pipeline:
    return Pipeline.objects.select_for_update().get(pk=pipeline.pk)


def _stage_of(pipeline: Pipeline, stage_id: Any, *, field: str = "stage") -> Stage:
    try:
        stage = Stage.objects.filter(pk=int(stage_id), pipeline=pipeline).first()
    except (TypeError, ValueError):
        stage = None
    if stage is None:
        raise ServiceError(_("Choose a stage of this pipeline."), field=field)
    return stage


def pipeline_rename(*, actor: Membership, pipeline: Pipeline, name: str) -> Pipeline:
    require(actor, MANAGE_PIPELINES)
    clean = check_text(name, field="name", max_length=100, label=_("Name"))
    with transaction.atomic():
        locked = _locked(pipeline)
        before = locked.name
        locked.name = clean
        locked.save(update_fields=["name"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=PIPELINE_UPDATED,
            target=locked,
            data={"from": before, "to": clean},
        )
    return locked


def pipeline_archive(*, actor: Membership, pipeline: Pipeline, archived: bool) -> Pipeline:
    """Archive (or restore) a pipeline: its deals stay, it takes no new deals. The last active
    pipeline cannot be archived."""
    require(actor, MANAGE_PIPELINES)
    with transaction.atomic():
        locked = _locked(pipeline)
        if archived == (locked.archived_at is not None):
            return locked
        if (
            archived
            and not Pipeline.objects.filter(archived_at__isnull=True).exclude(pk=locked.pk).exists()
        ):
            raise ServiceError(
                _("Keep at least one active pipeline."), field="pipeline", code="last"
            )
        if not archived:
            check_pipeline_limit(actor.tenant)
        locked.archived_at = timezone.now() if archived else None
        locked.save(update_fields=["archived_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=PIPELINE_ARCHIVED if archived else PIPELINE_RESTORED,
            target=locked,
        )
    return locked


def stage_add(
    *, actor: Membership, pipeline: Pipeline, name: str, probability: Any, kind: str = "open"
) -> Stage:
    require(actor, MANAGE_PIPELINES)
    clean_name = check_text(name, field="name", max_length=100, label=_("Stage name"))
    clean_probability = _check_probability(probability)
    clean_kind = checks.check_choice(kind, field="kind", choices=Stage.Kind.values, blank=False)
    with transaction.atomic():
        locked = _locked(pipeline)
        top = locked.stages.aggregate(top=Max("position"))["top"]
        stage = Stage.objects.create(
            pipeline=locked,
            name=clean_name,
            probability=clean_probability,
            kind=clean_kind,
            position=0 if top is None else top + 1,
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=STAGE_CREATED,
            target=stage,
            data={"pipeline": locked.pk},
        )
    return stage


def stage_update(
    *, actor: Membership, pipeline: Pipeline, stage_id: Any, name: str, probability: Any
) -> Stage:
    require(actor, MANAGE_PIPELINES)
    clean_name = check_text(name, field="name", max_length=100, label=_("Stage name"))
    clean_probability = _check_probability(probability)
    with transaction.atomic():
        locked = _locked(pipeline)
        stage = _stage_of(locked, stage_id)
        stage.name = clean_name
        stage.probability = clean_probability
        stage.save(update_fields=["name", "probability"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=STAGE_UPDATED,
            target=stage,
            data={"name": clean_name, "probability": clean_probability},
        )
    return stage


def stage_move(*, actor: Membership, pipeline: Pipeline, stage_id: Any, offset: int) -> None:
    """Move a stage ``offset`` places (-1 earlier, +1 later); positions are renumbered 0..n."""
    require(actor, MANAGE_PIPELINES)
    if offset not in (-1, 1):
        raise ServiceError(_("Move a stage one place at a time."), field="offset")
    with transaction.atomic():
        locked = _locked(pipeline)
        stages = list(locked.stages.order_by("position", "id"))
        stage = _stage_of(locked, stage_id)
        index = next(i for i, s in enumerate(stages) if s.pk == stage.pk)
        target = index + offset
        if not 0 <= target < len(stages):
            return
        stages[index], stages[target] = stages[target], stages[index]
        for position, item in enumerate(stages):
            item.position = position
        Stage.objects.bulk_update(stages, ["position"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=STAGE_UPDATED,
            target=stage,
            data={"position": target},
        )


def stage_delete(
    *, actor: Membership, pipeline: Pipeline, stage_id: Any, move_to: Any = None
) -> int:
    """Delete a stage. Its deals (if any) move to ``move_to``, another stage of the pipeline;
    without one, a stage holding deals is refused. Returns the number of deals moved."""
    require(actor, MANAGE_PIPELINES)
    with transaction.atomic():
        locked = _locked(pipeline)
        stage = _stage_of(locked, stage_id)
        others = locked.stages.exclude(pk=stage.pk)
        if not others.filter(kind=Stage.Kind.OPEN).exists():
            raise ServiceError(_("A pipeline needs at least one open stage."), field="stage")
        deals = list(Deal.objects.select_for_update().filter(stage=stage).order_by("id"))
        target: Stage | None = None
        if move_to not in (None, ""):
            target = _stage_of(locked, move_to, field="move_to")
            if target.pk == stage.pk:
                raise ServiceError(_("Choose another stage for its deals."), field="move_to")
        if deals and target is None:
            raise ServiceError(
                _("This stage holds deals: choose the stage they move to."),
                field="move_to",
                code="required",
            )
        if deals and target is not None:
            if target.kind == Stage.Kind.LOST:
                raise ServiceError(
                    _("Deals cannot be moved to a lost stage here: each needs its reason."),
                    field="move_to",
                )
            now = timezone.now()
            status = {Stage.Kind.WON: Deal.Status.WON}.get(
                Stage.Kind(target.kind), Deal.Status.OPEN
            )
            for deal in deals:
                deal.stage = target
                deal.status = status
                deal.stage_entered_at = now
                deal.lost_reason = ""
                deal.closed_at = now if status != Deal.Status.OPEN else None
                deal.updated_at = now
            Deal.objects.bulk_update(
                deals,
                ["stage", "status", "stage_entered_at", "lost_reason", "closed_at", "updated_at"],
            )
            DealStageChange.objects.filter(deal__in=deals, left_at__isnull=True).update(left_at=now)
            DealStageChange.objects.bulk_create(
                DealStageChange(
                    deal=deal,
                    from_stage=None,
                    to_stage=target,
                    changed_at=now,
                    changed_by=actor.user,
                )
                for deal in deals
            )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=STAGE_DELETED,
            target_repr=stage.name,
            data={
                "id": stage.pk,
                "pipeline": locked.pk,
                "moved_to": target.pk if target else None,
                "deals": [deal.pk for deal in deals],
            },
        )
        stage.delete()
        remaining = list(locked.stages.order_by("position", "id"))
        for position, item in enumerate(remaining):
            item.position = position
        Stage.objects.bulk_update(remaining, ["position"])
        # One summary naming the deals; each deal's owner decides who may hear of it.
        with coalesced():
            for deal in deals:
                publish(
                    tenant=actor.tenant,
                    topic=DEALS_TOPIC,
                    event="deal.moved",
                    payload={"id": deal.pk},
                    owners=[deal.owner_id],
                )
    return len(deals)
