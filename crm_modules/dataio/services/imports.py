"""Imports: upload → column mapping → preview → run in the background → error report → undo.

The file is kept in the workspace's S3 prefix (``workspaces/<schema>/imports/<uuid>/source``):
the worker that runs the import is another process, often on another machine, and reads it
from there (ADR 0017).
"""

from __future__ import annotations

import datetime
import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.dataio import mapping as columns
from crm_modules.dataio import reading
from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.module import (
    IMPORT_FINISHED,
    IMPORT_RECORDS,
    IMPORT_STARTED,
    IMPORT_UNDONE,
    IMPORTS_TOPIC,
)
from crm_modules.sales import api as sales
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants import live
from tenants.audit.services import audit_record
from tenants.models import Membership, Tenant
from tenants.notifications import notify_user
from tenants.permissions import require

logger = logging.getLogger("rapport.imports")

BATCH_ROWS = 1000
PREVIEW_ROWS = 10
UNDO_DAYS = 7
ENTITIES = ("contact", "company")
CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --- upload and mapping ---------------------------------------------------------------------


def import_upload(*, actor: Membership, entity: str, upload: UploadedFile[Any]) -> ImportJob:
    """Check the file (size, kind, encoding, delimiter, header), keep it in the workspace's
    storage and propose a column mapping from its headers."""
    require(actor, IMPORT_RECORDS)
    if entity not in ENTITIES:
        raise ServiceError(_("Choose what the file holds."), field="entity")
    name = (upload.name or "import.csv").rsplit("/", 1)[-1][:255]
    if upload.size is not None and upload.size > reading.MAX_FILE_BYTES:
        raise ServiceError(
            _("The file is larger than the limit of %(limit)d MB.")
            % {"limit": reading.MAX_FILE_BYTES // 1024**2},
            field="file",
            code="too_large",
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "source"
        with path.open("wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        shape = reading.detect_format(path, name)
        headers, sample = reading.read_head(path, shape, rows=PREVIEW_ROWS)
        job = ImportJob(
            entity=entity,
            file_name=name,
            file_size=path.stat().st_size,
            file_format=shape.file_format,
            encoding=shape.encoding,
            delimiter=shape.delimiter,
            headers=headers,
            sample=[[number, cells] for number, cells in sample],
            created_by=actor.user,
        )
        fields = list(sales.custom_field_list(actor=actor, entity=entity))
        job.mapping = columns.auto_map(entity, headers, fields)
        job.file_key = s3.data_file_key(
            schema_name=actor.tenant.schema_name,
            kind="imports",
            file_uuid=str(job.uuid),
            name="source",
        )
        s3.object_upload(
            schema_name=actor.tenant.schema_name,
            key=job.file_key,
            path=str(path),
            content_type=CONTENT_TYPES[shape.file_format],
        )
    job.save()
    return job


REQUIRED = {"contact": ({"first_name", "last_name", "full_name", "email"}), "company": {"name"}}


def import_configure(
    *,
    actor: Membership,
    job: ImportJob,
    mapping: dict[str, str],
    duplicates: str,
    date_format: str,
) -> ImportJob:
    require(actor, IMPORT_RECORDS)
    fields = list(sales.custom_field_list(actor=actor, entity=job.entity))
    allowed = {code for code, _label in columns.target_choices(job.entity, fields)}
    clean: dict[str, str] = {}
    for index_text, target in mapping.items():
        if not target:
            continue
        try:
            index = int(index_text)
        except ValueError:
            raise ServiceError(_("Unknown column."), field="mapping") from None
        if not 0 <= index < len(job.headers):
            raise ServiceError(_("Unknown column."), field="mapping")
        if target not in allowed:
            raise ServiceError(
                _("“%(column)s”: choose a field from the list.") % {"column": job.headers[index]},
                field=f"column_{index}",
            )
        if target in clean.values():
            raise ServiceError(
                _("“%(column)s”: another column is already imported into this field.")
                % {"column": job.headers[index]},
                field=f"column_{index}",
            )
        clean[str(index)] = target
    if not REQUIRED[job.entity] & set(clean.values()):
        message = (
            _("Choose a column for the name or the email of the contacts.")
            if job.entity == "contact"
            else _("Choose a column for the name of the companies.")
        )
        raise ServiceError(message, field="mapping", code="required")
    if duplicates not in ImportJob.Duplicates.values:
        raise ServiceError(_("Choose what to do with duplicates."), field="duplicates")
    if date_format not in columns.DATE_FORMATS:
        raise ServiceError(_("Choose the format of the dates in the file."), field="date_format")
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.MAPPING:
            raise ServiceError(_("This import has already started."), field="mapping")
        locked.mapping = clean
        locked.duplicates = duplicates
        locked.date_format = date_format
        locked.save(update_fields=["mapping", "duplicates", "date_format"])
    return locked


def import_start(*, actor: Membership, job: ImportJob) -> ImportJob:
    require(actor, IMPORT_RECORDS)
    from crm_modules.dataio import tasks

    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.MAPPING:
            raise ServiceError(_("This import has already started."), field="mapping")
        if not REQUIRED[locked.entity] & set(locked.mapping.values()):
            raise ServiceError(_("Choose the columns to import first."), field="mapping")
        locked.status = ImportJob.Status.QUEUED
        locked.save(update_fields=["status"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=IMPORT_STARTED,
            target=locked,
            data={"entity": locked.entity, "file": locked.file_name},
        )
        job_id = locked.pk
        transaction.on_commit(lambda: tasks.import_run.delay(job_id))
    return locked


# --- preview --------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    number: int
    values: list[tuple[str, str, str]]  # (target label, value as stored, problem)
    problems: list[str]


def import_preview(*, actor: Membership, job: ImportJob) -> list[PreviewRow]:
    """The first rows as they would be stored, each problem next to its field; nothing is
    written (duplicates are found when the import runs)."""
    require(actor, IMPORT_RECORDS)
    runner = _Runner(actor=actor, job=job)
    preview: list[PreviewRow] = []
    labels = dict(columns.target_choices(job.entity, runner.custom_fields))
    for number, cells in job.sample:
        outcome = runner.check_row(int(number), list(cells))
        by_field = dict(outcome.errors)
        values = []
        for index_text, target in sorted(job.mapping.items(), key=lambda item: int(item[0])):
            header = job.headers[int(index_text)]
            stored = outcome.stored.get(target, "")
            values.append((str(labels.get(target, target)), stored, by_field.pop(header, "")))
        preview.append(
            PreviewRow(
                number=int(number),
                values=values,
                problems=[reason for _column, reason in by_field.items()],
            )
        )
    return preview


# --- running --------------------------------------------------------------------------------


@dataclass
class RowOutcome:
    number: int
    errors: list[tuple[str, str]]  # (column header, reason)
    stored: dict[str, str]  # target → the value as stored, for the preview
    draft: Any = None
    company_name: str = ""
    company_domain: str = ""


def _field_column(job: ImportJob, field: str) -> str:
    """The header of the column a service error's field came from."""
    targets = {target: job.headers[int(index)] for index, target in job.mapping.items()}
    if field.startswith("custom_fields."):
        return str(targets.get(columns.CUSTOM + field.removeprefix("custom_fields."), field))
    candidates = {
        "emails": ("email", "email_2"),
        "phones": ("phone", "phone_2"),
        "first_name": ("first_name", "full_name", "last_name"),
        "owner": ("owner_email",),
        "domain": ("domain", "company_domain"),
        "name": ("name", "company"),
    }.get(field, (field,))
    for candidate in candidates:
        if candidate in targets:
            return str(targets[candidate])
    return ""


class _Runner:
    """Checks and applies the rows of one import, a batch at a time."""

    def __init__(self, *, actor: Membership, job: ImportJob) -> None:
        self.actor = actor
        self.job = job
        self.custom_fields = list(sales.custom_field_list(actor=actor, entity=job.entity))
        self.custom_types = {f.code: f.type for f in self.custom_fields}
        self.definitions = {f.code: f for f in self.custom_fields}
        members = Membership.objects.filter(
            tenant_id=actor.tenant_id, status=Membership.Status.ACTIVE
        ).values_list("user_id", "user__email")
        self.members = {user_id for user_id, _email in members}
        self.member_emails = {email.lower(): user_id for user_id, email in members}

    # -- checking one row (no writes) --

    def check_row(self, number: int, cells: list[str]) -> RowOutcome:
        job = self.job
        parsed = columns.row_values(mapping=job.mapping, headers=job.headers, row=cells)
        outcome = RowOutcome(number=number, errors=list(parsed.problems), stored={})
        values = parsed.values
        custom: dict[str, Any] = {}
        targets = {target: job.headers[int(index)] for index, target in job.mapping.items()}
        for target, value in values.items():
            if not target.startswith(columns.CUSTOM):
                continue
            code = target.removeprefix(columns.CUSTOM)
            if self.custom_types.get(code) == "date":
                try:
                    value = columns.parse_date(value, job.date_format)
                except ValueError:
                    outcome.errors.append(
                        (
                            targets[target],
                            _(
                                "“%(value)s” is not a date in the format %(format)s; choose the "
                                "file's date format on the mapping page."
                            )
                            % {
                                "value": value[:40],
                                "format": columns.DATE_FORMATS[job.date_format][1],
                            },
                        )
                    )
                    continue
            custom[code] = value
        owner_id: Any = None
        if "owner_email" in values:
            owner_id = self.member_emails.get(values["owner_email"].lower())
            if owner_id is None:
                outcome.errors.append(
                    (
                        targets["owner_email"],
                        _("No member of this workspace has the email “%(email)s”.")
                        % {"email": values["owner_email"][:100]},
                    )
                )
        if outcome.errors:
            return outcome
        draft: Any
        stored: dict[str, Any]
        fields: dict[str, Any] = {
            name: value
            for name, value in values.items()
            if name
            not in {
                "full_name",
                "email",
                "email_2",
                "phone",
                "phone_2",
                "company",
                "company_domain",
                "owner_email",
            }
            and not name.startswith(columns.CUSTOM)
        }
        if "lifecycle_stage" in fields:
            fields["lifecycle_stage"] = fields["lifecycle_stage"].lower()
        try:
            if job.entity == "contact":
                if "full_name" in values:
                    first, last = columns.split_full_name(values["full_name"])
                    fields.setdefault("first_name", first)
                    fields.setdefault("last_name", last)
                fields.setdefault("first_name", "")
                fields.setdefault("last_name", "")
                if not (fields["first_name"] or fields["last_name"]) and "email" in values:
                    fields["first_name"] = values["email"].split("@")[0][:100]
                draft = sales.contact_check_draft(
                    actor=self.actor,
                    emails=[values[k] for k in ("email", "email_2") if k in values],
                    phones=[values[k] for k in ("phone", "phone_2") if k in values],
                    owner_id=owner_id,
                    custom_fields=custom,
                    members=self.members,
                    definitions=self.definitions,
                    **fields,
                )
                outcome.company_name = values.get("company", "")
                outcome.company_domain = values.get("company_domain", "").lower()
                stored = dict(draft.fields)
                stored["email"] = draft.emails[0].email if draft.emails else ""
                stored["email_2"] = draft.emails[1].email if len(draft.emails) > 1 else ""
                stored["phone"] = draft.phones[0] if draft.phones else ""
                stored["phone_2"] = draft.phones[1] if len(draft.phones) > 1 else ""
                stored["company"] = outcome.company_name
                stored["company_domain"] = outcome.company_domain
            else:
                if "size" in fields:
                    fields["size"] = columns.company_size(fields["size"])
                draft = sales.company_check_draft(
                    actor=self.actor,
                    owner_id=owner_id,
                    custom_fields=custom,
                    members=self.members,
                    definitions=self.definitions,
                    **fields,
                )
                stored = dict(draft.fields)
        except ServiceError as exc:
            outcome.errors.append((_field_column(job, exc.field or ""), str(exc.message)))
            return outcome
        outcome.draft = draft
        for name, value in stored.items():
            if name == "custom":
                for code, item in (value or {}).items():
                    outcome.stored[columns.CUSTOM + code] = str(item)
            elif isinstance(value, list):
                outcome.stored[name] = ", ".join(str(v) for v in value)
            elif value:
                outcome.stored[name] = str(value)
        if "owner_email" in values:
            outcome.stored["owner_email"] = values["owner_email"].lower()
        return outcome

    # -- applying a batch (inside the caller's transaction) --

    def apply_batch(self, batch: list[tuple[int, list[str]]]) -> list[ImportRow]:
        outcomes = [self.check_row(number, cells) for number, cells in batch]
        valid = [o for o in outcomes if not o.errors]
        rows: list[ImportRow] = [
            ImportRow(
                job=self.job,
                number=o.number,
                outcome=ImportRow.Outcome.FAILED,
                errors=[{"column": column, "reason": reason} for column, reason in o.errors],
            )
            for o in outcomes
            if o.errors
        ]
        if self.job.entity == "contact":
            rows += self._apply_contacts(valid)
        else:
            rows += self._apply_companies(valid)
        rows.sort(key=lambda row: row.number)
        return rows

    def _existing_contacts(self, valid: list[RowOutcome]) -> tuple[dict[str, int], dict[str, int]]:
        emails = {e.email for o in valid for e in o.draft.emails}
        phones = {p for o in valid for p in o.draft.phones}
        by_email = dict(
            sales.ContactEmail.objects.filter(email__in=emails).values_list("email", "contact_id")
        )
        by_phone = dict(
            sales.ContactPhone.objects.filter(number__in=phones).values_list("number", "contact_id")
        )
        return by_email, by_phone

    def _companies_for(self, valid: list[RowOutcome]) -> dict[int, list[int]]:
        """Link each contact to its company by domain or name, creating the missing ones.
        Returns, per row number, the ids of the companies that row's import created."""
        domains = {o.company_domain for o in valid if o.company_domain}
        names = {o.company_name.lower() for o in valid if o.company_name}
        if not (domains or names):
            return {}
        by_domain: dict[str, Any] = {}
        by_name: dict[str, Any] = {}
        known = sales.Company.objects.annotate(lower_name=Lower("name")).filter(
            domain__in=domains
        ) | sales.Company.objects.annotate(lower_name=Lower("name")).filter(lower_name__in=names)
        for found in known.order_by("id"):
            if found.domain:
                by_domain.setdefault(found.domain, found)
            by_name.setdefault(found.lower_name, found)
        created: dict[int, list[int]] = {}
        missing: dict[str, tuple[RowOutcome, Any]] = {}
        for o in valid:
            company = by_domain.get(o.company_domain) if o.company_domain else None
            if company is None and o.company_name:
                company = by_name.get(o.company_name.lower())
            if company is not None:
                o.draft.company = company
                continue
            if not (o.company_name or o.company_domain):
                continue
            key = o.company_domain or o.company_name.lower()
            if key in missing:
                continue
            try:
                draft = sales.company_check_draft(
                    actor=self.actor,
                    name=o.company_name or o.company_domain,
                    domain=o.company_domain,
                    owner_id=o.draft.owner_id,
                    members=self.members,
                )
            except ServiceError as exc:
                o.errors.append(
                    (
                        _field_column(self.job, "company" if exc.field == "name" else "domain"),
                        str(exc.message),
                    )
                )
                continue
            missing[key] = (o, draft)
        new = sales.companies_bulk_create(
            actor=self.actor, drafts=[draft for _o, draft in missing.values()]
        )
        for (o, _draft), company in zip(missing.values(), new, strict=True):
            created.setdefault(o.number, []).append(company.pk)
            if company.domain:
                by_domain[company.domain] = company
            by_name[company.name.lower()] = company
        for o in valid:
            if o.draft.company is None and not o.errors:
                company = by_domain.get(o.company_domain) if o.company_domain else None
                if company is None and o.company_name:
                    company = by_name.get(o.company_name.lower())
                o.draft.company = company
        return created

    def _apply_contacts(self, valid: list[RowOutcome]) -> list[ImportRow]:
        policy = self.job.duplicates
        created_companies = self._companies_for(valid)
        by_email, by_phone = self._existing_contacts(valid)
        rows: list[ImportRow] = []
        to_create: list[RowOutcome] = []
        seen_email: dict[str, int] = {}
        seen_phone: dict[str, int] = {}
        for o in valid:
            if o.errors:
                rows.append(self._failed(o))
                continue
            keys_e = [e.email for e in o.draft.emails]
            keys_p = list(o.draft.phones)
            existing = next((by_email[k] for k in keys_e if k in by_email), None) or next(
                (by_phone[k] for k in keys_p if k in by_phone), None
            )
            earlier = next((seen_email[k] for k in keys_e if k in seen_email), None) or next(
                (seen_phone[k] for k in keys_p if k in seen_phone), None
            )
            if policy != ImportJob.Duplicates.CREATE and (existing or earlier):
                if policy == ImportJob.Duplicates.UPDATE and existing:
                    rows.append(self._update_contact(o, existing))
                else:
                    rows.append(
                        ImportRow(
                            job=self.job,
                            number=o.number,
                            outcome=ImportRow.Outcome.SKIPPED,
                            record_id=existing,
                        )
                    )
                continue
            for key in keys_e:
                seen_email.setdefault(key, o.number)
            for key in keys_p:
                seen_phone.setdefault(key, o.number)
            to_create.append(o)
        contacts = sales.contacts_bulk_create(actor=self.actor, drafts=[o.draft for o in to_create])
        for o, contact in zip(to_create, contacts, strict=True):
            rows.append(
                ImportRow(
                    job=self.job,
                    number=o.number,
                    outcome=ImportRow.Outcome.CREATED,
                    record_id=contact.pk,
                    created_companies=created_companies.get(o.number, []),
                )
            )
        # A company created for a row that ended skipped or updated still belongs to the import.
        kept = {o.number for o in to_create}
        orphans = [
            pk for number, ids in created_companies.items() if number not in kept for pk in ids
        ]
        if orphans:
            for row in rows:
                if row.number not in kept:
                    row.created_companies = [
                        pk for pk in created_companies.get(row.number, []) if pk in orphans
                    ]
        return rows

    def _failed(self, o: RowOutcome) -> ImportRow:
        return ImportRow(
            job=self.job,
            number=o.number,
            outcome=ImportRow.Outcome.FAILED,
            errors=[{"column": column, "reason": reason} for column, reason in o.errors],
        )

    def _update_contact(self, o: RowOutcome, contact_id: int) -> ImportRow:
        draft = o.draft
        contact = sales.Contact.objects.get(pk=contact_id)
        emails = list(contact.emails.order_by("-is_primary", "id").values_list("email", flat=True))
        phones = list(contact.phones.order_by("-is_primary", "id").values_list("number", flat=True))
        changes: dict[str, Any] = {
            name: value
            for name, value in draft.fields.items()
            if name != "custom" and value not in ("", [], None)
        }
        previous: dict[str, Any] = {name: getattr(contact, name) for name in changes}
        if draft.fields.get("custom"):
            changes["custom_fields"] = draft.fields["custom"]
            previous["custom"] = contact.custom
        new_emails = [e.email for e in draft.emails if e.email not in emails]
        if new_emails:
            changes["emails"] = [
                {"email": email, "primary": index == 0}
                for index, email in enumerate(emails + new_emails)
            ]
            previous["emails"] = emails
        new_phones = [p for p in draft.phones if p not in phones]
        if new_phones:
            changes["phones"] = phones + new_phones
            previous["phones"] = phones
        if draft.owner_id != contact.owner_id and "owner_email" in self.job.mapping.values():
            changes["owner"] = draft.owner_id
            previous["owner"] = contact.owner_id
        try:
            with transaction.atomic():
                sales.contact_update(actor=self.actor, contact=contact, changes=changes)
        except ServiceError as exc:
            return ImportRow(
                job=self.job,
                number=o.number,
                outcome=ImportRow.Outcome.FAILED,
                errors=[
                    {"column": _field_column(self.job, exc.field or ""), "reason": exc.message}
                ],
            )
        return ImportRow(
            job=self.job,
            number=o.number,
            outcome=ImportRow.Outcome.UPDATED,
            record_id=contact_id,
            previous=_jsonable(previous),
        )

    def _apply_companies(self, valid: list[RowOutcome]) -> list[ImportRow]:
        policy = self.job.duplicates
        domains = {o.draft.fields.get("domain") for o in valid if o.draft.fields.get("domain")}
        existing = dict(
            sales.Company.objects.filter(domain__in=domains)
            .order_by("-id")
            .values_list("domain", "id")
        )
        rows: list[ImportRow] = []
        to_create: list[RowOutcome] = []
        seen: dict[str, int] = {}
        for o in valid:
            domain = o.draft.fields.get("domain") or ""
            match = existing.get(domain) if domain else None
            if policy != ImportJob.Duplicates.CREATE and domain and (match or domain in seen):
                if policy == ImportJob.Duplicates.UPDATE and match:
                    rows.append(self._update_company(o, match))
                else:
                    rows.append(
                        ImportRow(
                            job=self.job,
                            number=o.number,
                            outcome=ImportRow.Outcome.SKIPPED,
                            record_id=match,
                        )
                    )
                continue
            if domain:
                seen[domain] = o.number
            to_create.append(o)
        created = sales.companies_bulk_create(actor=self.actor, drafts=[o.draft for o in to_create])
        rows += [
            ImportRow(
                job=self.job, number=o.number, outcome=ImportRow.Outcome.CREATED, record_id=c.pk
            )
            for o, c in zip(to_create, created, strict=True)
        ]
        return rows

    def _update_company(self, o: RowOutcome, company_id: int) -> ImportRow:
        company = sales.Company.objects.get(pk=company_id)
        changes: dict[str, Any] = {
            name: value
            for name, value in o.draft.fields.items()
            if name != "custom" and value not in ("", [], None)
        }
        previous: dict[str, Any] = {name: getattr(company, name) for name in changes}
        if o.draft.fields.get("custom"):
            changes["custom_fields"] = o.draft.fields["custom"]
            previous["custom"] = company.custom
        if "parent" in previous:
            previous["parent"] = company.parent_id
        try:
            with transaction.atomic():
                sales.company_update(actor=self.actor, company=company, changes=changes)
        except ServiceError as exc:
            return ImportRow(
                job=self.job,
                number=o.number,
                outcome=ImportRow.Outcome.FAILED,
                errors=[
                    {"column": _field_column(self.job, exc.field or ""), "reason": exc.message}
                ],
            )
        return ImportRow(
            job=self.job,
            number=o.number,
            outcome=ImportRow.Outcome.UPDATED,
            record_id=company_id,
            previous=_jsonable(previous),
        )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (value if isinstance(value, str | int | list | dict | None) else str(value))
        for name, value in values.items()
    }


def _tenant() -> Tenant:
    return Tenant.objects.get(schema_name=connection.schema_name)  # type: ignore[attr-defined]


def _actor(job: ImportJob, tenant: Tenant) -> Membership:
    """The member who started the import; their permissions are asked again as it runs."""
    return Membership.objects.select_related("tenant", "user").get(
        tenant=tenant, user_id=job.created_by_id or 0
    )


def _batches(
    rows: Iterable[tuple[int, list[str]]], after: int
) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for number, cells in rows:
        if number <= after:
            continue
        batch.append((number, cells))
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def import_run(*, job_id: int) -> None:
    """Apply every row not yet applied, a batch per transaction. The job's ``processed_rows``
    commits with the batch's records, so a worker that dies mid-batch leaves nothing of that
    batch, and the next run (Celery redelivers the task) starts after the last whole batch."""
    tenant = _tenant()
    job = ImportJob.objects.get(pk=job_id)
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
        return
    actor = _actor(job, tenant)
    ImportJob.objects.filter(pk=job.pk, started_at__isnull=True).update(started_at=timezone.now())
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    try:
        require(actor, IMPORT_RECORDS)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "source"
            s3.object_download(schema_name=tenant.schema_name, key=job.file_key, path=str(path))
            shape = reading.FileShape(job.file_format, job.encoding, job.delimiter)
            if not job.total_rows:
                job.total_rows = reading.count_rows(path, shape)
                ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
            rows = reading.iter_rows(path, shape)
            next(rows, None)  # the header
            for batch in _batches(reading.data_rows(rows), after=job.processed_rows):
                if not _apply(actor=actor, tenant=tenant, job_id=job.pk, batch=batch):
                    return
    except Exception as exc:
        logger.exception("import %s failed", job_id)
        message = exc.message if isinstance(exc, ServiceError) else _("The import stopped.")
        with transaction.atomic():
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.FAILED, failure=str(message), finished_at=timezone.now()
            )
            notify_user(
                tenant=tenant,
                user_id=actor.user_id,
                event="notification",
                payload={
                    "text": _("The import of %(file)s failed: %(reason)s")
                    % {"file": job.file_name, "reason": message},
                    "kind": "error",
                },
            )
        return
    _finish(actor=actor, tenant=tenant, job_id=job.pk)


def _apply(
    *, actor: Membership, tenant: Tenant, job_id: int, batch: list[tuple[int, list[str]]]
) -> bool:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status != ImportJob.Status.RUNNING:
            return False
        batch = [(number, cells) for number, cells in batch if number > job.processed_rows]
        if not batch:
            return True
        # Two imports into one workspace take turns batch by batch, so each sees the records
        # the other has just created when it looks for duplicates.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"import.{job.entity}"])
        rows = _Runner(actor=actor, job=job).apply_batch(batch)
        ImportRow.objects.bulk_create(rows)
        counts = dict.fromkeys(ImportRow.Outcome.values, 0)
        for row in rows:
            counts[row.outcome] += 1
        job.processed_rows = batch[-1][0]
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=job.processed_rows,
            created_count=F("created_count") + counts["created"],
            updated_count=F("updated_count") + counts["updated"],
            skipped_count=F("skipped_count") + counts["skipped"],
            error_count=F("error_count") + counts["failed"],
        )
        job.refresh_from_db()
        live.publish(
            tenant=tenant, topic=IMPORTS_TOPIC, event="import.progress", payload=_progress(job)
        )
    return True


def _progress(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "total": job.total_rows,
        "processed": job.processed_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "errors": job.error_count,
    }


def _finish(*, actor: Membership, tenant: Tenant, job_id: int) -> None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status != ImportJob.Status.RUNNING:
            return
        job.status = ImportJob.Status.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action=IMPORT_FINISHED,
            target=job,
            data={
                "created": job.created_count,
                "updated": job.updated_count,
                "skipped": job.skipped_count,
                "errors": job.error_count,
            },
        )
        live.publish(
            tenant=tenant, topic=IMPORTS_TOPIC, event="import.progress", payload=_progress(job)
        )
        notify_user(
            tenant=tenant,
            user_id=actor.user_id,
            event="notification",
            payload={
                "text": _(
                    "Import of %(file)s finished: %(created)d created, %(updated)d updated, "
                    "%(skipped)d skipped, %(errors)d not imported."
                )
                % {
                    "file": job.file_name,
                    "created": job.created_count,
                    "updated": job.updated_count,
                    "skipped": job.skipped_count,
                    "errors": job.error_count,
                },
                "kind": "success" if not job.error_count else "warning",
            },
        )


# --- error report and undo -----------------------------------------------------------------


def import_error_lines(job: ImportJob) -> Iterator[tuple[int, str, str]]:
    """(row, column, reason) for every row not imported, in file order."""
    failed = (
        ImportRow.objects.filter(job=job, outcome=ImportRow.Outcome.FAILED)
        .order_by("number")
        .values_list("number", "errors")
    )
    for number, errors in failed.iterator(chunk_size=2000):
        for error in errors:
            yield number, error.get("column", ""), error.get("reason", "")


def import_can_undo(job: ImportJob) -> bool:
    return (
        job.status == ImportJob.Status.DONE
        and job.finished_at is not None
        and timezone.now() - job.finished_at <= datetime.timedelta(days=UNDO_DAYS)
    )


def import_undo(*, actor: Membership, job: ImportJob) -> ImportJob:
    """Remove what the import created and restore what it updated (within 7 days), in the
    background."""
    require(actor, IMPORT_RECORDS)
    from crm_modules.dataio import tasks

    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.DONE:
            raise ServiceError(_("Only a finished import can be undone."), field="status")
        if not import_can_undo(locked):
            raise ServiceError(
                _("An import can be undone for %(days)d days after it finished.")
                % {"days": UNDO_DAYS},
                field="status",
            )
        locked.status = ImportJob.Status.UNDOING
        locked.save(update_fields=["status"])
        job_id = locked.pk
        transaction.on_commit(lambda: tasks.import_undo_run.delay(job_id))
    return locked


def import_undo_run(*, job_id: int) -> None:
    tenant = _tenant()
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportJob.Status.UNDOING:
        return
    actor = _actor(job, tenant)
    model = sales.Contact if job.entity == "contact" else sales.Company
    rows = ImportRow.objects.filter(job=job)
    with transaction.atomic():
        for row in rows.filter(outcome=ImportRow.Outcome.UPDATED).order_by("-number"):
            record = model.objects.filter(pk=row.record_id or 0).first()
            if record is None:
                continue
            changes = dict(row.previous)
            if "custom" in changes:
                record.custom = changes.pop("custom")
                record.save(update_fields=["custom"])
            if changes:
                if job.entity == "contact":
                    sales.contact_update(actor=actor, contact=record, changes=changes)  # type: ignore[arg-type]
                else:
                    sales.company_update(actor=actor, company=record, changes=changes)  # type: ignore[arg-type]
        created = [
            pk
            for pk in rows.filter(outcome=ImportRow.Outcome.CREATED).values_list(
                "record_id", flat=True
            )
            if pk is not None
        ]
        companies = [pk for ids in rows.values_list("created_companies", flat=True) for pk in ids]
        removed = sales.records_bulk_delete(actor=actor, model=model, ids=created)
        if companies:
            removed_companies = sales.records_bulk_delete(
                actor=actor, model=sales.Company, ids=companies
            )
        else:
            removed_companies = 0
        job.status = ImportJob.Status.UNDONE
        job.undone_at = timezone.now()
        job.save(update_fields=["status", "undone_at"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action=IMPORT_UNDONE,
            target=job,
            data={"removed": removed, "removed_companies": removed_companies},
        )
        live.publish(
            tenant=tenant, topic=IMPORTS_TOPIC, event="import.progress", payload=_progress(job)
        )
