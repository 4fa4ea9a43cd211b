"""Bulk creation of companies and contacts (imports): the same validation as
``company_create`` and ``contact_create``, row by row, then one insert per table for a whole
batch. A row that fails validation raises before anything is written, so a batch holds only
rows that will be stored whole."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import JSONField, Model
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
from crm_modules.sales.services.custom_fields import check_custom_values
from crm_modules.sales.services.duplicates import company_name_key, contact_name_key
from crm_modules.sales.services.scores import score_inputs_changed
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import allows, require


@dataclass
class CompanyDraft:
    fields: dict[str, Any]
    owner_id: int | None


@dataclass
class ContactDraft:
    fields: dict[str, Any]
    owner_id: int | None
    emails: list[contacts.EmailInput] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    company: Company | None = None


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


def _copy_insert(model: type[Model], objects: Sequence[Model]) -> None:
    """Insert ``objects`` with COPY (D21): ids are drawn from the table's sequence first, so
    each object knows its primary key as ``bulk_create`` would have told it."""
    if not objects:
        return
    meta = model._meta
    # Generated columns (the search pieces) are computed by PostgreSQL, never written.
    fields = [field for field in meta.concrete_fields if not field.generated]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objects)],
        )
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
        columns = ", ".join(quote(str(field.column)) for field in fields)
        # Only JSON needs Django's preparation (a Jsonb adapter); psycopg copies the rest as is.
        prepared = [
            (field.attname, isinstance(field, JSONField), field.get_db_prep_save)
            for field in fields
        ]
        with cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row(
                    [
                        prep(getattr(obj, name), connection) if as_json else getattr(obj, name)
                        for name, as_json, prep in prepared
                    ]
                )


def companies_bulk_create(*, actor: Membership, drafts: Sequence[CompanyDraft]) -> list[Company]:
    """Insert checked companies with one COPY; the caller audits the batch as a whole."""
    require(actor, CREATE_RECORDS)
    now = timezone.now()
    rows = []
    for draft in drafts:
        company = Company(**draft.fields, owner_id=draft.owner_id, created_at=now, updated_at=now)
        company.search_text = companies._search_text(company)
        company.name_key = company_name_key(company.name)
        rows.append(company)
    with transaction.atomic():
        _copy_insert(Company, rows)
    return rows


def contacts_bulk_create(*, actor: Membership, drafts: Sequence[ContactDraft]) -> list[Contact]:
    """Insert checked contacts with their emails, phones and company history: one COPY per
    table. The caller audits the batch as a whole."""
    require(actor, CREATE_RECORDS)
    if any(d.owner_id != actor.user_id for d in drafts):
        require(actor, REASSIGN_RECORDS)
    now = timezone.now()
    rows = []
    for draft in drafts:
        contact = Contact(
            **draft.fields,
            owner_id=draft.owner_id,
            company=draft.company,
            created_at=now,
            updated_at=now,
        )
        contact.primary_email = next((e.email for e in draft.emails if e.primary), "")
        contact.primary_phone = draft.phones[0] if draft.phones else ""
        contact.search_text = contacts._search_text(
            contact, [e.email for e in draft.emails], draft.phones
        )
        contact.name_key = contact_name_key(contact.first_name, contact.last_name)
        rows.append(contact)
    with transaction.atomic():
        _copy_insert(Contact, rows)
        _copy_insert(
            ContactEmail,
            [
                ContactEmail(contact=contact, email=e.email, is_primary=e.primary)
                for contact, draft in zip(rows, drafts, strict=True)
                for e in draft.emails
            ],
        )
        _copy_insert(
            ContactPhone,
            [
                ContactPhone(contact=contact, number=number, is_primary=index == 0)
                for contact, draft in zip(rows, drafts, strict=True)
                for index, number in enumerate(draft.phones)
            ],
        )
        _copy_insert(
            CompanyMembership,
            [
                CompanyMembership(
                    contact=contact,
                    company=draft.company,
                    job_title=contact.job_title,
                    started_at=now,
                )
                for contact, draft in zip(rows, drafts, strict=True)
                if draft.company is not None
            ],
        )
        # New contacts are scored in the background, as one created by hand is.
        score_inputs_changed(entity="contact", ids=[contact.pk for contact in rows])
    return rows


def records_bulk_delete(
    *, actor: Membership, model: type[Contact | Company | Lead | Deal], ids: list[int]
) -> int:
    """Remove records an import created (undo): only the caller that created them asks."""
    from crm_modules.activities import api as timeline

    require(actor, CREATE_RECORDS)
    with transaction.atomic():
        records = list(model.objects.filter(pk__in=ids))
        for record in records:
            timeline.timeline_delete_for(record)
        _deleted, _by_model = model.objects.filter(pk__in=ids).delete()
    return len(records)
