from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.sales.models import Company, LifecycleStage
from crm_modules.sales.module import (
    COMPANY_CREATED,
    COMPANY_DELETED,
    COMPANY_UPDATED,
    CREATE_RECORDS,
    EDIT_RECORDS,
    REASSIGN_RECORDS,
)
from crm_modules.sales.services import checks
from crm_modules.sales.services.contacts import contacts_company_renamed
from crm_modules.sales.services.custom_changes import changed_codes, custom_values_changed
from crm_modules.sales.services.custom_fields import check_custom_values
from crm_modules.sales.services.duplicates import company_name_key
from crm_modules.sales.services.records import record_delete
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import allows, require

COMPANY_FIELDS = (
    "name",
    "domain",
    "website",
    "industry",
    "size",
    "parent",
    "lifecycle_stage",
    "tags",
    "notes",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
)


def _clean(changes: Mapping[str, Any], *, company: Company | None) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "name":
            clean[name] = check_text(value, field="name", max_length=200, label=_("Name"))
        elif name == "domain":
            clean[name] = checks.check_domain(value)
        elif name == "website":
            clean[name] = checks.check_url(value)
        elif name == "industry":
            clean[name] = checks.check_optional_text(
                value, field=name, max_length=100, label=_("Industry")
            )
        elif name == "size":
            clean[name] = checks.check_choice(value, field=name, choices=Company.Size.values)
        elif name == "lifecycle_stage":
            clean[name] = checks.check_choice(value, field=name, choices=LifecycleStage.values)
        elif name == "tags":
            clean[name] = checks.check_tags(value)
        elif name == "notes":
            clean[name] = checks.check_optional_text(
                value, field=name, max_length=20_000, label=_("Notes")
            )
        elif name == "parent":
            clean[name] = _check_parent(value, company=company)
        elif name in ("street", "city", "region", "postal_code"):
            model_field = Company._meta.get_field(name)
            clean[name] = checks.check_optional_text(
                value,
                field=name,
                max_length=getattr(model_field, "max_length", 100),
                label=getattr(model_field, "verbose_name", name),  # translated when shown
            )
        elif name == "country":
            clean[name] = _check_country(value)
        else:
            raise ServiceError(_("This field cannot be changed here."), field=name)
    return clean


def _check_country(value: Any) -> str:
    code = (value or "").strip().upper() if isinstance(value, str | None) else "?"
    if code and (len(code) != 2 or not code.isalpha() or not code.isascii()):
        raise ServiceError(_("Enter a two-letter country code such as IT."), field="country")
    return code


def _check_parent(value: Any, *, company: Company | None) -> Company | None:
    if value in (None, ""):
        return None
    parent = value if isinstance(value, Company) else Company.objects.filter(pk=_int(value)).first()
    if parent is None:
        raise ServiceError(_("Choose an existing company."), field="parent")
    if company is not None:
        # Walk up from the new parent: a company may not end up its own ancestor.
        seen: set[int] = set()
        node: Company | None = parent
        while node is not None and node.pk not in seen:
            if node.pk == company.pk:
                raise ServiceError(
                    _("A company cannot be a parent of itself or of its own parent."),
                    field="parent",
                )
            seen.add(node.pk)
            node = node.parent
    return parent


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _search_text(company: Company) -> str:
    return checks.searchable(company.name, company.domain, company.city)


def company_create(
    *,
    actor: Membership,
    owner_id: Any = None,
    custom_fields: Any = None,
    complete_custom: bool = False,
    **fields: Any,
) -> Company:
    """``complete_custom``: as for ``contact_create`` (ADR 0053)."""
    require(actor, CREATE_RECORDS)
    clean = _clean({"name": fields.pop("name", ""), **fields}, company=None)
    clean["custom"] = check_custom_values(
        actor=actor,
        entity="company",
        values=custom_fields or {},
        complete=complete_custom,
        new_record=True,
    )
    owner = actor.user_id if owner_id in (None, "") else checks.check_owner(actor, owner_id)
    if owner != actor.user_id:
        require(actor, REASSIGN_RECORDS)
    company = Company(**clean, owner_id=owner)
    company.search_text = _search_text(company)
    company.name_key = company_name_key(company.name)
    with transaction.atomic():
        company.save()
        audit_record(tenant=actor.tenant, actor=actor.user, action=COMPANY_CREATED, target=company)
    return company


def company_update(
    *,
    actor: Membership,
    company: Company,
    changes: Mapping[str, Any],
    expected_updated_at: datetime.datetime | None = None,
) -> Company:
    changes = dict(changes)
    owner_id = changes.pop("owner", changes.pop("owner_id", company.owner_id))
    custom_fields = changes.pop("custom_fields", None)
    require(actor, EDIT_RECORDS, company)
    clean = _clean(changes, company=company)
    new_owner = checks.check_owner(actor, owner_id) if owner_id != company.owner_id else owner_id
    with transaction.atomic():
        locked = Company.objects.select_for_update().get(pk=company.pk)
        require(actor, EDIT_RECORDS, locked)
        checks.check_unchanged_since(locked, expected_updated_at)
        if new_owner != locked.owner_id and not allows(actor, REASSIGN_RECORDS, locked):
            raise ServiceError(
                _("Your role does not allow giving records to others."), field="owner"
            )
        if custom_fields is not None:
            clean["custom"] = check_custom_values(
                actor=actor, entity="company", values=custom_fields, current=locked.custom
            )
            custom_values_changed(
                entity="company",
                ids=[locked.pk],
                codes=changed_codes(locked.custom, clean["custom"]),
            )
        for name, value in clean.items():
            setattr(locked, name, value)
        renamed = "name" in clean and clean["name"] != company.name
        locked.owner_id = new_owner
        locked.search_text = _search_text(locked)
        locked.name_key = company_name_key(locked.name)
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*clean, "owner", "search_text", "name_key", "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=COMPANY_UPDATED,
            target=locked,
            data={
                "fields": sorted([*clean, *(["owner"] if new_owner != company.owner_id else [])])
            },
        )
        if renamed:
            contacts_company_renamed(company_ids=[locked.pk])
    return locked


def company_delete(*, actor: Membership, company: Company) -> None:
    record_delete(actor=actor, record=company, action=COMPANY_DELETED)
