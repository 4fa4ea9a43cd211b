from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.sales.models import Company, Contact, Deal, Lead
from crm_modules.sales.module import (
    CREATE_RECORDS,
    EDIT_RECORDS,
    LEAD_CONVERTED,
    LEAD_CREATED,
    LEAD_DELETED,
    LEAD_UPDATED,
    REASSIGN_RECORDS,
)
from crm_modules.sales.services import checks
from crm_modules.sales.services.companies import company_create
from crm_modules.sales.services.contacts import contact_create
from crm_modules.sales.services.custom_fields import check_custom_values, custom_carried
from crm_modules.sales.services.deals import deal_create
from crm_modules.sales.services.records import record_delete
from crm_modules.sales.services.scores import score_inputs_changed
from crm_modules.sales.services.touches import touches_carry
from crm_platform.errors import ServiceError
from crm_platform.validation import check_email, check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import allows, require

TEXT_FIELDS = {"first_name": 100, "last_name": 100, "company_name": 200, "notes": 20_000}


def _clean(changes: Mapping[str, Any], *, phone_region: str | None) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name in TEXT_FIELDS:
            # The lazy label: translated only when a message needs it (imports check many rows).
            label = getattr(Lead._meta.get_field(name), "verbose_name", name)
            clean[name] = checks.check_optional_text(
                value, field=name, max_length=TEXT_FIELDS[name], label=label
            )
        elif name == "source":
            clean[name] = check_text(
                value if isinstance(value, str) else "",
                field=name,
                max_length=100,
                label=_("Source"),
            )
        elif name == "email":
            clean[name] = check_email(value, field=name) if value else ""
        elif name == "phone":
            clean[name] = (
                checks.check_phone(value, field=name, region=phone_region) if value else ""
            )
        elif name == "tags":
            clean[name] = checks.check_tags(value)
        elif name == "status":
            clean[name] = checks.check_choice(
                value,
                field=name,
                choices=[Lead.Status.NEW, Lead.Status.WORKING, Lead.Status.DISQUALIFIED],
                blank=False,
            )
        else:
            raise ServiceError(_("This field cannot be changed here."), field=name)
    return clean


def _search_text(lead: Lead) -> str:
    return checks.searchable(
        lead.first_name,
        lead.last_name,
        lead.email,
        lead.phone,
        lead.phone.lstrip("+"),
        lead.company_name,
    )


def lead_create(
    *,
    actor: Membership,
    owner_id: Any = None,
    phone_region: str | None = None,
    custom_fields: Any = None,
    complete_custom: bool = False,
    **fields: Any,
) -> Lead:
    """``custom_fields``: values of the lead custom fields, by code; ``complete_custom``: a
    person filled the form (the new-lead page, the API), so every required one is asked
    (ADR 0053). Fields left out get their defaults (ADR 0055)."""
    require(actor, CREATE_RECORDS)
    clean = _clean({"source": fields.pop("source", ""), **fields}, phone_region=phone_region)
    if not (
        clean.get("first_name")
        or clean.get("last_name")
        or clean.get("email")
        or clean.get("company_name")
    ):
        raise ServiceError(
            _("Give the lead a name, an email or a company."), field="first_name", code="required"
        )
    clean["custom"] = check_custom_values(
        actor=actor,
        entity="lead",
        values=custom_fields or {},
        complete=complete_custom,
        new_record=True,
    )
    owner = actor.user_id if owner_id in (None, "") else checks.check_owner(actor, owner_id)
    if owner != actor.user_id:
        require(actor, REASSIGN_RECORDS)
    lead = Lead(**clean, owner_id=owner)
    lead.search_text = _search_text(lead)
    with transaction.atomic():
        lead.save()
        audit_record(tenant=actor.tenant, actor=actor.user, action=LEAD_CREATED, target=lead)
        score_inputs_changed(entity="lead", ids=[lead.pk])
    return lead


def lead_update(
    *,
    actor: Membership,
    lead: Lead,
    changes: Mapping[str, Any],
    expected_updated_at: datetime.datetime | None = None,
    phone_region: str | None = None,
) -> Lead:
    changes = dict(changes)
    owner_id = changes.pop("owner", changes.pop("owner_id", lead.owner_id))
    custom_fields = changes.pop("custom_fields", None)
    require(actor, EDIT_RECORDS, lead)
    clean = _clean(changes, phone_region=phone_region)
    new_owner = checks.check_owner(actor, owner_id) if owner_id != lead.owner_id else owner_id
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        require(actor, EDIT_RECORDS, locked)
        checks.check_unchanged_since(locked, expected_updated_at)
        if locked.status == Lead.Status.CONVERTED:
            raise ServiceError(
                _("A converted lead cannot be changed."), field="status", code="converted"
            )
        if new_owner != locked.owner_id and not allows(actor, REASSIGN_RECORDS, locked):
            raise ServiceError(
                _("Your role does not allow giving records to others."), field="owner"
            )
        if custom_fields is not None:
            # Applied to the values read under the lock: a concurrent save of other fields
            # is kept.
            clean["custom"] = check_custom_values(
                actor=actor, entity="lead", values=custom_fields, current=locked.custom
            )
        for name, value in clean.items():
            setattr(locked, name, value)
        locked.owner_id = new_owner
        locked.search_text = _search_text(locked)
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*clean, "owner", "search_text", "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=LEAD_UPDATED,
            target=locked,
            data={"fields": sorted(clean)},
        )
        score_inputs_changed(entity="lead", ids=[locked.pk])
    return locked


@dataclass(frozen=True)
class Conversion:
    lead: Lead
    contact: Contact
    company: Company | None
    deal: Deal | None


def lead_convert(
    *,
    actor: Membership,
    lead: Lead,
    contact: Contact | None = None,
    company: Company | None = None,
    create_company: bool = True,
    deal_name: str = "",
    deal_stage: Any = None,
    deal_amount: Any = None,
) -> Conversion:
    """Turn a lead into a contact (new, or ``contact`` linked), a company (``company``, or a new
    one from the lead's company name) and, with ``deal_stage``, a deal, in one transaction;
    the lead's history is shared with each of them. Any failure leaves nothing behind.
    The records it creates take the lead's custom-field values that fit a field of theirs
    with the same code (``custom_carried``), and the defaults of their other fields; the
    lead keeps all its values (ADR 0055)."""
    require(actor, EDIT_RECORDS, lead)
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        require(actor, EDIT_RECORDS, locked)
        if locked.status == Lead.Status.CONVERTED:
            raise ServiceError(
                _("This lead is already converted."), field="status", code="converted"
            )
        if company is None and create_company and locked.company_name:
            company = Company.objects.filter(name=locked.company_name).order_by(
                "pk"
            ).first() or company_create(
                actor=actor,
                name=locked.company_name,
                custom_fields=_carried(actor, locked, "company"),
            )
        if contact is None:
            contact = contact_create(
                actor=actor,
                first_name=locked.first_name,
                last_name=locked.last_name or ("" if locked.first_name else locked.email),
                emails=[locked.email] if locked.email else [],
                phones=[locked.phone] if locked.phone else [],
                company=company,
                source=locked.source,
                lifecycle_stage="qualified",
                custom_fields=_carried(actor, locked, "contact"),
            )
        deal = None
        if deal_stage not in (None, ""):
            deal = deal_create(
                actor=actor,
                name=deal_name or str(locked),
                stage=deal_stage,
                amount=deal_amount,
                company=company,
                contacts=[contact],
                custom_fields=_carried(actor, locked, "deal"),
            )
        now = timezone.now()
        locked.status = Lead.Status.CONVERTED
        locked.converted_at = now
        locked.contact = contact
        locked.company = company
        locked.deal = deal
        locked.updated_at = now
        locked.save(
            update_fields=["status", "converted_at", "contact", "company", "deal", "updated_at"]
        )
        touches_carry(lead=locked, contact=contact)
        targets: list[Any] = [contact, *([company] if company else []), *([deal] if deal else [])]
        for target in targets:
            timeline.timeline_share(source=locked, target=target)
        timeline.activity_log(
            kind=timeline.CONVERSION.code,
            author=actor.user,
            concerns=[locked, *targets],
            subject=str(locked),
            occurred_at=now,
            data={
                "contact": contact.pk,
                "company": company.pk if company else None,
                "deal": deal.pk if deal else None,
            },
        )
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=LEAD_CONVERTED,
            target=locked,
            data={
                "contact": contact.pk,
                "company": company.pk if company else None,
                "deal": deal.pk if deal else None,
            },
        )
    return Conversion(lead=locked, contact=contact, company=company, deal=deal)


def _carried(actor: Membership, lead: Lead, target: str) -> dict[str, Any]:
    return custom_carried(actor=actor, values=lead.custom, source="lead", target=target)


def lead_delete(*, actor: Membership, lead: Lead) -> None:
    record_delete(actor=actor, record=lead, action=LEAD_DELETED)
