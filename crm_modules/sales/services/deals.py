from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.sales.models import Company, Contact, Deal, DealStageChange, Pipeline, Stage
from crm_modules.sales.module import (
    CREATE_RECORDS,
    DEAL_CREATED,
    DEAL_DELETED,
    DEAL_LOST,
    DEAL_MOVED,
    DEAL_UPDATED,
    DEAL_WON,
    DEALS_TOPIC,
    EDIT_RECORDS,
    MANAGE_PIPELINES,
    PIPELINE_CREATED,
    REASSIGN_RECORDS,
)
from crm_modules.sales.services import checks, events
from crm_modules.sales.services.custom_fields import check_custom_values
from crm_modules.sales.services.pipelines import check_pipeline_limit
from crm_modules.sales.services.records import record_delete
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.live import coalesced, publish
from tenants.models import Membership, Tenant
from tenants.permissions import allows, require


@dataclass(frozen=True)
class StageInput:
    name: str
    probability: int
    kind: str = Stage.Kind.OPEN


def pipeline_create(*, actor: Membership, name: str, stages: Sequence[StageInput]) -> Pipeline:
    require(actor, MANAGE_PIPELINES)
    clean_name = check_text(name, field="name", max_length=100, label=_("Name"))
    if not stages:
        raise ServiceError(
            _("A pipeline needs at least one stage."), field="stages", code="required"
        )
    clean_stages = []
    for stage in stages:
        stage_name = check_text(stage.name, field="stages", max_length=100, label=_("Stage name"))
        if not isinstance(stage.probability, int) or not 0 <= stage.probability <= 100:
            raise ServiceError(
                _("A win probability is a whole number from 0 to 100."), field="stages"
            )
        kind = checks.check_choice(
            stage.kind, field="stages", choices=Stage.Kind.values, blank=False
        )
        clean_stages.append((stage_name, stage.probability, kind))
    if not any(kind == Stage.Kind.OPEN for _name, _p, kind in clean_stages):
        raise ServiceError(_("A pipeline needs at least one open stage."), field="stages")
    with transaction.atomic():
        check_pipeline_limit(actor.tenant)
        position = (Pipeline.objects.aggregate(top=Max("position"))["top"] or 0) + 1
        pipeline = Pipeline.objects.create(name=clean_name, position=position)
        Stage.objects.bulk_create(
            Stage(pipeline=pipeline, name=n, probability=p, kind=k, position=index)
            for index, (n, p, k) in enumerate(clean_stages)
        )
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=PIPELINE_CREATED, target=pipeline
        )
    return pipeline


def _check_stage(value: Any, *, pipeline: Pipeline | None) -> Stage:
    stage = value if isinstance(value, Stage) else None
    if stage is None and value not in (None, ""):
        try:
            stage = Stage.objects.select_related("pipeline").filter(pk=int(value)).first()
        except (TypeError, ValueError):
            stage = None
    if stage is None:
        raise ServiceError(_("Choose a stage."), field="stage", code="required")
    if pipeline is not None and stage.pipeline_id != pipeline.pk:
        raise ServiceError(_("This stage belongs to another pipeline."), field="stage")
    return stage


def _check_active_pipeline(stage: Stage) -> None:
    if stage.pipeline.archived_at is not None:
        raise ServiceError(
            _("This pipeline is archived and takes no new deals."), field="stage", code="archived"
        )


def _check_company(value: Any) -> Company | None:
    if value in (None, ""):
        return None
    if isinstance(value, Company):
        return value
    try:
        company = Company.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        company = None
    if company is None:
        raise ServiceError(_("Choose an existing company."), field="company")
    return company


def _check_contacts(values: Any) -> list[Contact]:
    if values in (None, ""):
        return []
    if not isinstance(values, list | tuple):
        raise ServiceError(_("Give a list of contacts."), field="contacts")
    ids: list[int] = []
    for value in values:
        try:
            ids.append(value.pk if isinstance(value, Contact) else int(value))
        except (TypeError, ValueError):
            raise ServiceError(_("Choose existing contacts."), field="contacts") from None
    contacts = list(Contact.objects.filter(pk__in=ids))
    if len(contacts) != len(set(ids)):
        raise ServiceError(_("Choose existing contacts."), field="contacts")
    return contacts


def _status_for(stage: Stage) -> str:
    return {Stage.Kind.WON: Deal.Status.WON, Stage.Kind.LOST: Deal.Status.LOST}.get(
        Stage.Kind(stage.kind), Deal.Status.OPEN
    )


def _search_text(deal: Deal) -> str:
    return checks.searchable(deal.name, deal.company.name if deal.company else "")


def deal_create(
    *,
    actor: Membership,
    name: str,
    stage: Any,
    pipeline: Pipeline | None = None,
    amount: Any = None,
    currency: str | None = None,
    expected_close_date: Any = None,
    company: Any = None,
    contacts: Any = None,
    owner_id: Any = None,
    lost_reason: str = "",
    custom_fields: Any = None,
    tags: Any = None,
    complete_custom: bool = False,
) -> Deal:
    """``complete_custom``: as for ``contact_create`` (ADR 0053)."""
    require(actor, CREATE_RECORDS)
    clean_tags = checks.check_tags(tags)
    clean_name = check_text(name, field="name", max_length=200, label=_("Name"))
    clean_stage = _check_stage(stage, pipeline=pipeline)
    _check_active_pipeline(clean_stage)
    clean_amount = checks.check_amount(amount)
    clean_currency = checks.check_currency(currency, default=actor.tenant.currency)
    close_date = checks.check_date(expected_close_date, field="expected_close_date")
    clean_company = _check_company(company)
    clean_contacts = _check_contacts(contacts)
    custom = check_custom_values(
        actor=actor,
        entity="deal",
        values=custom_fields or {},
        complete=complete_custom,
        new_record=True,
    )
    reason = checks.check_optional_text(
        lost_reason, field="lost_reason", max_length=200, label=_("Lost reason")
    )
    if clean_stage.kind == Stage.Kind.LOST and not reason:
        raise ServiceError(_("Say why the deal was lost."), field="lost_reason", code="required")
    owner = actor.user_id if owner_id in (None, "") else checks.check_owner(actor, owner_id)
    if owner != actor.user_id:
        require(actor, REASSIGN_RECORDS)
    now = timezone.now()
    status = _status_for(clean_stage)
    with transaction.atomic():
        deal = Deal(
            name=clean_name,
            pipeline_id=clean_stage.pipeline_id,
            stage=clean_stage,
            status=status,
            amount=clean_amount,
            currency=clean_currency,
            expected_close_date=close_date,
            company=clean_company,
            owner_id=owner,
            lost_reason=reason,
            custom=custom,
            tags=clean_tags,
            stage_entered_at=now,
            closed_at=now if status != Deal.Status.OPEN else None,
        )
        deal.search_text = _search_text(deal)
        deal.save()
        deal.contacts.set(clean_contacts)
        DealStageChange.objects.create(
            deal=deal, from_stage=None, to_stage=clean_stage, changed_at=now, changed_by=actor.user
        )
        audit_record(tenant=actor.tenant, actor=actor.user, action=DEAL_CREATED, target=deal)
        publish(
            tenant=actor.tenant,
            topic=DEALS_TOPIC,
            event="deal.created",
            payload={"id": deal.pk, "stage": clean_stage.pk},
            owners=[deal.owner_id],
        )
    return deal


DEAL_FIELDS = frozenset(
    {
        "name",
        "amount",
        "currency",
        "expected_close_date",
        "company",
        "contacts",
        "custom_fields",
        "tags",
    }
)


def deals_published(*, tenant: Tenant, event: str, deals: Iterable[Deal]) -> None:
    """Record events for many deals written at once (an import's batch, its undo): one
    summary naming them, each with its owner, so a member restricted to their own records hears
    of theirs only (ADR 0066); within a ``live.coalesced()`` block they join its summary."""
    by_owner: dict[int | None, list[int]] = {}
    for deal in deals:
        by_owner.setdefault(deal.owner_id, []).append(deal.pk)
    with coalesced():
        for owner, ids in by_owner.items():
            publish(
                tenant=tenant, topic=DEALS_TOPIC, event=event, payload={"ids": ids}, owners=[owner]
            )


def deal_update(
    *,
    actor: Membership,
    deal: Deal,
    changes: Mapping[str, Any],
    expected_updated_at: datetime.datetime | None = None,
) -> Deal:
    """Change a deal's fields; its stage moves only through ``deal_move_stage``."""
    changes = dict(changes)
    owner_id = changes.pop("owner", changes.pop("owner_id", deal.owner_id))
    require(actor, EDIT_RECORDS, deal)
    unknown = set(changes) - DEAL_FIELDS
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    clean: dict[str, Any] = {}
    if "name" in changes:
        clean["name"] = check_text(changes["name"], field="name", max_length=200, label=_("Name"))
    if "amount" in changes:
        clean["amount"] = checks.check_amount(changes["amount"])
        if deal.line_items.exists() and clean["amount"] != deal.amount:
            raise ServiceError(
                _("This deal's amount is the sum of its line items: change those instead."),
                field="amount",
                code="computed",
            )
    if "currency" in changes:
        clean["currency"] = checks.check_currency(
            changes["currency"], default=actor.tenant.currency
        )
    if "expected_close_date" in changes:
        clean["expected_close_date"] = checks.check_date(
            changes["expected_close_date"], field="expected_close_date"
        )
    if "company" in changes:
        clean["company"] = _check_company(changes["company"])
    if "tags" in changes:
        clean["tags"] = checks.check_tags(changes["tags"])
    contacts = _check_contacts(changes["contacts"]) if "contacts" in changes else None
    custom_fields = changes.get("custom_fields")
    new_owner = checks.check_owner(actor, owner_id) if owner_id != deal.owner_id else owner_id
    with transaction.atomic():
        locked = (
            Deal.objects.select_for_update(of=("self",)).select_related("company").get(pk=deal.pk)
        )
        require(actor, EDIT_RECORDS, locked)
        checks.check_unchanged_since(locked, expected_updated_at)
        owner_changed = new_owner != locked.owner_id
        if owner_changed and not allows(actor, REASSIGN_RECORDS, locked):
            raise ServiceError(
                _("Your role does not allow giving records to others."), field="owner"
            )
        if custom_fields is not None:
            clean["custom"] = check_custom_values(
                actor=actor, entity="deal", values=custom_fields, current=locked.custom
            )
        for name, value in clean.items():
            setattr(locked, name, value)
        previous_owner = locked.owner_id
        locked.owner_id = new_owner
        locked.search_text = _search_text(locked)
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*clean, "owner", "search_text", "updated_at"])
        if contacts is not None:
            locked.contacts.set(contacts)
        if owner_changed:
            timeline.activity_log(
                kind=timeline.OWNER_CHANGE.code,
                author=actor.user,
                concerns=[locked],
                data={"from": previous_owner, "to": new_owner},
            )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=DEAL_UPDATED,
            target=locked,
            data={
                "fields": sorted(
                    [
                        *clean,
                        *(["contacts"] if contacts is not None else []),
                        *(["owner"] if owner_changed else []),
                    ]
                )
            },
        )
        publish(
            tenant=actor.tenant,
            topic=DEALS_TOPIC,
            event="deal.updated",
            payload={"id": locked.pk},
            # The former owner's open pages hear it too: the deal leaves their board.
            owners=[locked.owner_id, previous_owner],
        )
    return locked


def deal_move_stage(*, actor: Membership, deal: Deal, stage: Any, lost_reason: str = "") -> Deal:
    """Move a deal to another stage of its pipeline: one stage-history row and one timeline
    entry on the deal, its contacts and its company. Two people moving the same deal at once
    are serialised by the row lock; the second move starts from the first one's stage."""
    require(actor, EDIT_RECORDS, deal)
    target = _check_stage(stage, pipeline=None)
    reason = checks.check_optional_text(
        lost_reason, field="lost_reason", max_length=200, label=_("Lost reason")
    )
    if target.kind == Stage.Kind.LOST and not reason:
        raise ServiceError(_("Say why the deal was lost."), field="lost_reason", code="required")
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        require(actor, EDIT_RECORDS, locked)
        if target.pipeline_id != locked.pipeline_id:
            raise ServiceError(_("This stage belongs to another pipeline."), field="stage")
        if target.pk == locked.stage_id:
            return locked
        now = timezone.now()
        previous_stage = Stage.objects.get(pk=locked.stage_id)
        status = _status_for(target)
        locked.stage = target
        locked.status = status
        locked.stage_entered_at = now
        locked.lost_reason = reason if status == Deal.Status.LOST else ""
        locked.closed_at = now if status != Deal.Status.OPEN else None
        locked.updated_at = now
        locked.save(
            update_fields=[
                "stage",
                "status",
                "stage_entered_at",
                "lost_reason",
                "closed_at",
                "updated_at",
            ]
        )
        DealStageChange.objects.filter(deal=locked, left_at__isnull=True).update(left_at=now)
        DealStageChange.objects.create(
            deal=locked,
            from_stage=previous_stage,
            to_stage=target,
            changed_at=now,
            changed_by=actor.user,
        )
        contacts = list(locked.contacts.all())
        concerns: list[Any] = [locked, *contacts]
        if locked.company_id is not None:
            concerns.append(("sales.company", locked.company_id))
        if status == Deal.Status.WON:
            events.deal_won(deal=locked, contact_ids=[contact.pk for contact in contacts])
        timeline.activity_log(
            kind=timeline.STAGE_CHANGE.code,
            author=actor.user,
            concerns=concerns,
            subject=f"{locked.name}: {previous_stage.name} → {target.name}",
            occurred_at=now,
            data={
                "deal": locked.pk,
                "from": previous_stage.pk,
                "to": target.pk,
                "lost_reason": locked.lost_reason,
            },
        )
        action = {Deal.Status.WON: DEAL_WON, Deal.Status.LOST: DEAL_LOST}.get(
            Deal.Status(status), DEAL_MOVED
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=action,
            target=locked,
            data={"from": previous_stage.pk, "to": target.pk},
        )
        publish(
            tenant=actor.tenant,
            topic=DEALS_TOPIC,
            event="deal.moved",
            payload={"id": locked.pk, "from": previous_stage.pk, "to": target.pk},
            owners=[locked.owner_id],
        )
    return locked


def deal_delete(*, actor: Membership, deal: Deal) -> None:
    record_delete(actor=actor, record=deal, action=DEAL_DELETED)
    publish(
        tenant=actor.tenant,
        topic=DEALS_TOPIC,
        event="deal.deleted",
        payload={"id": deal.pk},
        owners=[deal.owner_id],
    )
