"""Bulk creation of leads and deals (imports): the same validation as ``lead_create`` and
``deal_create``, row by row, then one COPY per table for a whole batch. A row that fails
validation raises before anything is written."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.sales.models import (
    Company,
    Contact,
    CustomField,
    Deal,
    DealStageChange,
    Lead,
    Stage,
)
from crm_modules.sales.module import CREATE_RECORDS, REASSIGN_RECORDS
from crm_modules.sales.services import checks, deals, leads
from crm_modules.sales.services.bulk_import import _owner, default_fields
from crm_modules.sales.services.custom_fields import check_custom_values, custom_defaults
from crm_modules.sales.services.scores import score_inputs_changed
from crm_platform.bulk import copy_objects
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.models import Membership
from tenants.permissions import require

# Lead statuses an import may set (a converted lead is made by converting, never imported).
LEAD_IMPORT_STATUSES = (Lead.Status.NEW, Lead.Status.WORKING, Lead.Status.DISQUALIFIED)


@dataclass
class LeadDraft:
    fields: dict[str, Any]
    owner_id: int | None


@dataclass
class DealDraft:
    fields: dict[str, Any]
    owner_id: int | None
    stage: Stage
    company: Company | None = None
    contacts: list[Contact] = field(default_factory=list)


def lead_check_draft(
    *,
    actor: Membership,
    owner_id: Any = None,
    members: Collection[int] | None = None,
    phone_region: str | None = None,
    custom_fields: Mapping[str, Any] | None = None,
    definitions: Mapping[str, CustomField] | None = None,
    **fields: Any,
) -> LeadDraft:
    """Validate one lead as ``lead_create`` does."""
    require(actor, CREATE_RECORDS)
    clean = leads._clean({"source": fields.pop("source", ""), **fields}, phone_region=phone_region)
    clean["custom"] = check_custom_values(
        actor=actor, entity="lead", values=custom_fields or {}, definitions=definitions
    )
    if not (
        clean.get("first_name")
        or clean.get("last_name")
        or clean.get("email")
        or clean.get("company_name")
    ):
        raise ServiceError(
            _("Give the lead a name, an email or a company."), field="first_name", code="required"
        )
    return LeadDraft(fields=clean, owner_id=_owner(actor, owner_id, members))


def leads_bulk_create(*, actor: Membership, drafts: Sequence[LeadDraft]) -> list[Lead]:
    """Insert checked leads with one COPY; they are scored in the background. The caller
    audits the batch as a whole."""
    require(actor, CREATE_RECORDS)
    if any(d.owner_id != actor.user_id for d in drafts):
        require(actor, REASSIGN_RECORDS)
    now = timezone.now()
    rows = []
    defaults = default_fields("lead")
    for draft in drafts:
        custom = custom_defaults(
            entity="lead", custom=draft.fields.get("custom", {}), definitions=defaults
        )
        lead = Lead(
            **{**draft.fields, "custom": custom},
            owner_id=draft.owner_id,
            created_at=now,
            updated_at=now,
        )
        lead.search_text = leads._search_text(lead)
        rows.append(lead)
    with transaction.atomic():
        copy_objects(Lead, rows)
        score_inputs_changed(entity="lead", ids=[lead.pk for lead in rows])
    return rows


def deal_check_draft(
    *,
    actor: Membership,
    name: Any,
    stage: Stage,
    amount: Any = None,
    currency: Any = None,
    expected_close_date: Any = None,
    lost_reason: Any = "",
    company: Company | None = None,
    contacts: Sequence[Contact] = (),
    owner_id: Any = None,
    custom_fields: Mapping[str, Any] | None = None,
    members: Collection[int] | None = None,
    definitions: Mapping[str, CustomField] | None = None,
) -> DealDraft:
    """Validate one deal as ``deal_create`` does; the stage (and so the pipeline), company and
    contacts were found by the caller."""
    require(actor, CREATE_RECORDS)
    clean_name = check_text(name, field="name", max_length=200, label=_("Name"))
    deals._check_active_pipeline(stage)
    reason = checks.check_optional_text(
        lost_reason, field="lost_reason", max_length=200, label=_("Lost reason")
    )
    if stage.kind == Stage.Kind.LOST and not reason:
        raise ServiceError(_("Say why the deal was lost."), field="lost_reason", code="required")
    clean = {
        "name": clean_name,
        "amount": checks.check_amount(amount),
        "currency": checks.check_currency(currency, default=actor.tenant.currency),
        "expected_close_date": checks.check_date(expected_close_date, field="expected_close_date"),
        "lost_reason": reason if stage.kind == Stage.Kind.LOST else "",
        "custom": check_custom_values(
            actor=actor, entity="deal", values=custom_fields or {}, definitions=definitions
        ),
    }
    return DealDraft(
        fields=clean,
        owner_id=_owner(actor, owner_id, members),
        stage=stage,
        company=company,
        contacts=list(contacts),
    )


def deals_bulk_create(*, actor: Membership, drafts: Sequence[DealDraft]) -> list[Deal]:
    """Insert checked deals with their contacts and first stage-history row: one COPY per
    table. The caller audits the batch as a whole."""
    require(actor, CREATE_RECORDS)
    if any(d.owner_id != actor.user_id for d in drafts):
        require(actor, REASSIGN_RECORDS)
    now = timezone.now()
    rows = []
    defaults = default_fields("deal")
    for draft in drafts:
        status = deals._status_for(draft.stage)
        custom = custom_defaults(
            entity="deal", custom=draft.fields.get("custom", {}), definitions=defaults
        )
        deal = Deal(
            **{**draft.fields, "custom": custom},
            pipeline_id=draft.stage.pipeline_id,
            stage=draft.stage,
            status=status,
            company=draft.company,
            owner_id=draft.owner_id,
            stage_entered_at=now,
            closed_at=now if status != Deal.Status.OPEN else None,
            created_at=now,
            updated_at=now,
        )
        deal.search_text = deals._search_text(deal)
        rows.append(deal)
    links = Deal.contacts.through
    with transaction.atomic():
        copy_objects(Deal, rows)
        copy_objects(
            links,
            [
                links(deal_id=deal.pk, contact_id=contact.pk)
                for deal, draft in zip(rows, drafts, strict=True)
                for contact in {c.pk: c for c in draft.contacts}.values()
            ],
        )
        copy_objects(
            DealStageChange,
            [
                DealStageChange(
                    deal=deal,
                    from_stage=None,
                    to_stage=draft.stage,
                    changed_at=now,
                    changed_by=actor.user,
                )
                for deal, draft in zip(rows, drafts, strict=True)
            ],
        )
        # Open boards and lists hear of the new deals as of those created one by one.
        deals.deals_published(tenant=actor.tenant, event="deal.created", deals=rows)
    return rows
