"""Bulk creation of companies and contacts (imports): the same validation as
``company_create`` and ``contact_create``, row by row, then one insert per table for a whole
batch. A row that fails validation raises before anything is written, so a batch holds only
rows that will be stored whole."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import JSONField
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.sales.models import (
    Company,
    CompanyMembership,
    Contact,
    ContactEmail,
    ContactPhone,
    CustomField,
    Deal,
    Lead,
)
from crm_modules.sales.module import CREATE_RECORDS, REASSIGN_RECORDS
from crm_modules.sales.services import checks, companies, contacts
from crm_modules.sales.services.custom_fields import check_custom_values, custom_defaults
from crm_modules.sales.services.deals import deals_published
from crm_modules.sales.services.duplicates import company_name_key, contact_name_key
from crm_modules.sales.services.scores import score_inputs_changed
from crm_platform.bulk import copy_objects, copy_rows, json_for_copy, reserve_ids
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import allows, require


@dataclass
class CompanyDraft:
    fields: dict[str, Any]
    owner_id: int | None


class CompanyLink(NamedTuple):
    """The company a new contact is linked to, as a batch read it: its id and name are all
    the write needs (a model instance per linked company cost more than the lookup)."""

    pk: int
    name: str


@dataclass
class ContactDraft:
    fields: dict[str, Any]
    owner_id: int | None
    emails: list[contacts.EmailInput] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    company: Company | CompanyLink | None = None


def _owner(actor: Membership, owner_id: Any, members: Collection[int] | None) -> int | None:
    if owner_id in (None, ""):
        return actor.user_id
    if members is None:
        return checks.check_owner(actor, owner_id)
    if owner_id not in members:
        raise ServiceError(_("Choose a member of this workspace."), field="owner")
    if owner_id != actor.user_id and not allows(actor, REASSIGN_RECORDS):
        raise ServiceError(_("Your role does not allow giving records to others."), field="owner")
    return int(owner_id)


def company_check_draft(
    *,
    actor: Membership,
    owner_id: Any = None,
    custom_fields: Mapping[str, Any] | None = None,
    members: Collection[int] | None = None,
    definitions: Mapping[str, CustomField] | None = None,
    **fields: Any,
) -> CompanyDraft:
    """Validate one company as ``company_create`` does; ``members`` (the user ids of the
    workspace's active members) and ``definitions`` (its custom fields by code) when the
    caller checks many rows at once."""
    require(actor, CREATE_RECORDS)
    clean = companies._clean({"name": fields.pop("name", ""), **fields}, company=None)
    clean["custom"] = check_custom_values(
        actor=actor, entity="company", values=custom_fields or {}, definitions=definitions
    )
    return CompanyDraft(fields=clean, owner_id=_owner(actor, owner_id, members))


def contact_check_draft(
    *,
    actor: Membership,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    company: Company | None = None,
    owner_id: Any = None,
    phone_region: str | None = None,
    custom_fields: Mapping[str, Any] | None = None,
    members: Collection[int] | None = None,
    definitions: Mapping[str, CustomField] | None = None,
    **fields: Any,
) -> ContactDraft:
    """Validate one contact as ``contact_create`` does: names normalised, emails checked and
    lower-cased, phones in E.164, custom fields by type."""
    require(actor, CREATE_RECORDS)
    clean = contacts._clean(
        {
            "first_name": fields.pop("first_name", ""),
            "last_name": fields.pop("last_name", ""),
            **fields,
        }
    )
    clean_emails = contacts._check_emails(list(emails))
    clean_phones = contacts._check_phones(list(phones), region=phone_region)
    clean["custom"] = check_custom_values(
        actor=actor, entity="contact", values=custom_fields or {}, definitions=definitions
    )
    return ContactDraft(
        fields=clean,
        owner_id=_owner(actor, owner_id, members),
        emails=clean_emails,
        phones=clean_phones,
        company=company,
    )


def default_fields(entity: str) -> list[CustomField]:
    """The entity's fields in use that have a default, read once for a batch: an empty cell
    of an import gives the field nothing, so the new record takes the default (ADR 0055)."""
    return list(
        CustomField.objects.filter(
            entity=entity, archived_at__isnull=True, default_value__isnull=False
        )
    )


def companies_bulk_create(*, actor: Membership, drafts: Sequence[CompanyDraft]) -> list[Company]:
    """Insert checked companies with one COPY; the caller audits the batch as a whole."""
    require(actor, CREATE_RECORDS)
    if not drafts:
        return []
    now = timezone.now()
    rows = []
    defaults = default_fields("company")
    for draft in drafts:
        custom = custom_defaults(
            entity="company", custom=draft.fields.get("custom", {}), definitions=defaults
        )
        company = Company(
            **{**draft.fields, "custom": custom},
            owner_id=draft.owner_id,
            created_at=now,
            updated_at=now,
        )
        company.search_text = companies._search_text(company)
        company.name_key = company_name_key(company.name)
        rows.append(company)
    with transaction.atomic():
        copy_objects(Company, rows)
    return rows


def contacts_bulk_create(*, actor: Membership, drafts: Sequence[ContactDraft]) -> list[int]:
    """Insert checked contacts with their emails, phones and company history: one COPY per
    table, rows written as plain values (a model instance per row cost more than the rest of
    the write). Returns the new contacts' ids in the drafts' order. The caller audits the batch
    as a whole."""
    require(actor, CREATE_RECORDS)
    if any(d.owner_id != actor.user_id for d in drafts):
        require(actor, REASSIGN_RECORDS)
    if not drafts:
        return []
    now = timezone.now()
    ids = reserve_ids(Contact, len(drafts))
    columns, defaults, attname, json_fields = _contact_columns()
    json_prep = [(field.attname, json_for_copy(field)) for field in json_fields]
    field_defaults = default_fields("contact")
    rows = []
    for pk, draft in zip(ids, drafts, strict=True):
        values = dict(defaults)
        for name, value in draft.fields.items():
            values[attname[name]] = value
        values["custom"] = custom_defaults(
            entity="contact", custom=draft.fields.get("custom", {}), definitions=field_defaults
        )
        first, last = values["first_name"], values["last_name"]
        emails = [e.email for e in draft.emails]
        values.update(
            id=pk,
            owner_id=draft.owner_id,
            company_id=draft.company.pk if draft.company else None,
            primary_email=next((e.email for e in draft.emails if e.primary), ""),
            primary_phone=draft.phones[0] if draft.phones else "",
            search_text=contacts.search_text_for(
                first, last, emails, draft.phones, draft.company.name if draft.company else ""
            ),
            name_key=contact_name_key(first, last),
            created_at=now,
            updated_at=now,
        )
        for name, prep in json_prep:
            values[name] = prep(values[name])
        rows.append([values[name] for name in columns])
    with transaction.atomic():
        copy_rows(Contact, columns, rows)
        # Child rows as plain values too: nobody reads them back.
        copy_rows(
            ContactEmail,
            ("contact_id", "email", "is_primary"),
            (
                (pk, e.email, e.primary)
                for pk, draft in zip(ids, drafts, strict=True)
                for e in draft.emails
            ),
        )
        copy_rows(
            ContactPhone,
            ("contact_id", "number", "label", "is_primary"),
            (
                (pk, number, "", index == 0)
                for pk, draft in zip(ids, drafts, strict=True)
                for index, number in enumerate(draft.phones)
            ),
        )
        copy_rows(
            CompanyMembership,
            ("contact_id", "company_id", "job_title", "started_at", "ended_at"),
            (
                (pk, draft.company.pk, draft.fields.get("job_title", ""), now, None)
                for pk, draft in zip(ids, drafts, strict=True)
                if draft.company is not None
            ),
        )
        # New contacts are scored in the background, as one created by hand is.
        score_inputs_changed(entity="contact", ids=ids)
    return ids


@functools.cache
def _contact_columns() -> tuple[
    tuple[str, ...], dict[str, Any], dict[str, str], tuple[JSONField[Any], ...]
]:
    """The contact table's written columns (attnames), each one's default, the attname of
    each field name, and the JSON columns (prepared for COPY by ``json_for_copy``)."""
    fields = [f for f in Contact._meta.concrete_fields if not f.generated]
    columns = tuple(f.attname for f in fields)
    # Callable defaults (dict, list) are fresh per call; each row's value is prepared (JSON)
    # or copied out before the next row, so one instance per column serves every row.
    defaults = {f.attname: f.get_default() for f in fields if not f.primary_key}
    attname = {f.name: f.attname for f in fields} | {f.attname: f.attname for f in fields}
    json_fields = tuple(f for f in fields if isinstance(f, JSONField))
    return columns, defaults, attname, json_fields


def records_bulk_delete(
    *, actor: Membership, model: type[Contact | Company | Lead | Deal], ids: list[int]
) -> int:
    """Remove records an import created (undo): only the caller that created them asks."""
    from crm_modules.activities import api as timeline

    require(actor, CREATE_RECORDS)
    with transaction.atomic():
        records = list(model.objects.filter(pk__in=ids))
        timeline.timeline_delete_for_many(
            model._meta.label_lower, [record.pk for record in records]
        )
        _deleted, _by_model = model.objects.filter(pk__in=ids).delete()
        # Open boards and lists hear of the removed deals as of those deleted one by one.
        deals_published(
            tenant=actor.tenant,
            event="deal.deleted",
            deals=[record for record in records if isinstance(record, Deal)],
        )
    return len(records)
