"""One import's rows: each checked as the sales services would (nothing written), then a
batch applied — duplicates found set-based, companies linked or created, new records written
in bulk, existing ones updated one savepoint each — with what each row became."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.dataio import mapping as columns
from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.services import activity_rows, pipeline_rows
from crm_modules.dataio.services.row_log import LoggedRow
from crm_modules.sales import api as sales
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import require

# Targets that are not fields of the record itself (its emails, phones, company, owner, note).
NOT_RECORD_FIELDS = frozenset(
    {
        "full_name",
        "email",
        "email_2",
        "phone",
        "phone_2",
        "company",
        "company_domain",
        "owner_email",
        "note",
    }
)


@dataclass
class RowOutcome:
    number: int
    errors: list[tuple[str, str]]  # (column header, reason)
    stored: dict[str, str]  # target → the value as stored, for the preview
    draft: Any = None
    company_name: str = ""
    company_domain: str = ""
    # A deal row named its currency (a column, or a symbol or code in the amount).
    currency_named: bool = False
    # The row's note for the timeline of the record it creates or updates.
    note: str = ""


def _any(column: str, values: Collection[str]) -> Q:
    """``column`` is one of ``values``, sent as one array (``= ANY(%s)``): a batch's 1,000
    values as one parameter, where ``__in`` has Django and psycopg handle a placeholder per
    value. ``column`` is SQL of the queried table (a column name or an expression of one)."""
    # Only this module's fixed column names are formatted in; the values are a parameter.
    sql = f"{column} = ANY(%s)"
    return Q(RawSQL(sql, [list(values)], output_field=BooleanField()))  # noqa: S611


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
        "company_name": ("company",),
        "currency": ("currency", "amount"),
    }.get(field, (field,))
    for candidate in candidates:
        if candidate in targets:
            return str(targets[candidate])
    return ""


class Runner:
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
        self.lead_status_labels = {
            str(code): str(sales.Lead.Status(code).label) for code in sales.LEAD_IMPORT_STATUSES
        }
        self.contact_references = pipeline_rows.ContactReferences()
        self.activity_links = activity_rows.Links()
        if job.entity == "activity" or "note" in job.mapping.values():
            require(actor, timeline.LOG_ACTIVITY)
        self._pipelines: pipeline_rows.Pipelines | None = None
        # Rows checked ahead (in a thread, while the previous batch was written) by a runner
        # with the same ``check_inputs``, by row number: ``apply_batch`` takes them as checked.
        self.checked: dict[int, RowOutcome] = {}
        # The header of each mapped target's column (read for every row's messages).
        self.headers_of = {target: job.headers[int(index)] for index, target in job.mapping.items()}

    def check_inputs(self) -> list[Any]:
        """Everything ``check_row`` reads besides the row itself: two runners with equal inputs
        check a row alike, so one's outcomes serve the other."""
        job = self.job
        return [
            job.entity,
            job.mapping,
            job.headers,
            job.date_format,
            job.file_name,
            sorted(self.members),
            self.member_emails,
            self.lead_status_labels,
            [
                [getattr(definition, f.attname) for f in sales.CustomField._meta.concrete_fields]
                for definition in self.custom_fields
            ],
        ]

    def pipelines(self) -> pipeline_rows.Pipelines:
        if self._pipelines is None:
            self._pipelines = pipeline_rows.Pipelines()
        return self._pipelines

    # -- checking one row (no writes) --

    def check_row(self, number: int, cells: list[str]) -> RowOutcome:
        job = self.job
        parsed = columns.row_values(mapping=job.mapping, headers=job.headers, row=cells)
        outcome = RowOutcome(number=number, errors=list(parsed.problems), stored={})
        values = parsed.values
        custom: dict[str, Any] = {}
        targets = self.headers_of
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
            if name not in NOT_RECORD_FIELDS and not name.startswith(columns.CUSTOM)
        }
        if "lifecycle_stage" in fields:
            fields["lifecycle_stage"] = fields["lifecycle_stage"].lower()
        try:
            outcome.note = activity_rows.check_note(values)
            if job.entity == "activity":
                draft, stored = activity_rows.check_activity(self, outcome, values)
            elif job.entity == "lead":
                draft, stored = pipeline_rows.check_lead(self, outcome, values, owner_id, custom)
            elif job.entity == "deal":
                draft, stored = pipeline_rows.check_deal(self, outcome, values, owner_id, custom)
            elif job.entity == "contact":
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
        if outcome.note:
            outcome.stored["note"] = outcome.note
        return outcome

    # -- applying a batch (inside the caller's transaction) --

    def apply_batch(self, batch: list[tuple[int, list[str]]]) -> list[LoggedRow]:
        if self.job.entity in ("deal", "activity"):
            pipeline_rows.prefetch_deal_references(self, batch)
        checked, self.checked = self.checked, {}
        outcomes = [
            checked[number] if number in checked else self.check_row(number, cells)
            for number, cells in batch
        ]
        valid = [o for o in outcomes if not o.errors]
        rows: list[LoggedRow] = [
            LoggedRow(
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
        elif self.job.entity == "lead":
            rows += pipeline_rows.apply_leads(self, valid)
        elif self.job.entity == "deal":
            rows += pipeline_rows.apply_deals(self, valid)
        elif self.job.entity == "activity":
            rows += activity_rows.apply_activities(self, valid)
        else:
            rows += self._apply_companies(valid)
        activity_rows.write_notes(self, valid, rows)
        rows.sort(key=lambda row: row.number)
        return rows

    def _existing_contacts(self, valid: list[RowOutcome]) -> tuple[dict[str, int], dict[str, int]]:
        emails = {e.email for o in valid for e in o.draft.emails}
        phones = {p for o in valid for p in o.draft.phones}
        by_email = dict(
            sales.ContactEmail.objects.filter(_any("email", emails)).values_list(
                "email", "contact_id"
            )
        )
        by_phone = dict(
            sales.ContactPhone.objects.filter(_any("number", phones)).values_list(
                "number", "contact_id"
            )
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
            _any("domain", domains) | _any("lower(name)", names)
        )
        # Id and name are all a new contact's link needs: no model instance per company. A
        # deal's draft is a model's (``Deal.company``), so deals read instances.
        found: Any
        if self.job.entity == "contact":
            for pk, name, domain, lower_name in known.order_by("id").values_list(
                "id", "name", "domain", "lower_name"
            ):
                found = sales.CompanyLink(pk, name)
                if domain:
                    by_domain.setdefault(domain, found)
                by_name.setdefault(lower_name, found)
        else:
            for found in known.only("id", "name", "domain").order_by("id"):
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

    def _apply_contacts(self, valid: list[RowOutcome]) -> list[LoggedRow]:
        policy = self.job.duplicates
        created_companies = self._companies_for(valid)
        by_email, by_phone = self._existing_contacts(valid)
        rows: list[LoggedRow] = []
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
                        LoggedRow(
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
        contact_ids = sales.contacts_bulk_create(
            actor=self.actor, drafts=[o.draft for o in to_create]
        )
        for o, contact_id in zip(to_create, contact_ids, strict=True):
            rows.append(
                LoggedRow(
                    job=self.job,
                    number=o.number,
                    outcome=ImportRow.Outcome.CREATED,
                    record_id=contact_id,
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

    def _failed(self, o: RowOutcome) -> LoggedRow:
        return LoggedRow(
            job=self.job,
            number=o.number,
            outcome=ImportRow.Outcome.FAILED,
            errors=[{"column": column, "reason": reason} for column, reason in o.errors],
        )

    def _update_contact(self, o: RowOutcome, contact_id: int) -> LoggedRow:
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
            return LoggedRow(
                job=self.job,
                number=o.number,
                outcome=ImportRow.Outcome.FAILED,
                errors=[
                    {"column": _field_column(self.job, exc.field or ""), "reason": exc.message}
                ],
            )
        return LoggedRow(
            job=self.job,
            number=o.number,
            outcome=ImportRow.Outcome.UPDATED,
            record_id=contact_id,
            previous=_jsonable(previous),
        )

    def _apply_companies(self, valid: list[RowOutcome]) -> list[LoggedRow]:
        policy = self.job.duplicates
        domains = {o.draft.fields.get("domain") for o in valid if o.draft.fields.get("domain")}
        existing = dict(
            sales.Company.objects.filter(domain__in=domains)
            .order_by("-id")
            .values_list("domain", "id")
        )
        rows: list[LoggedRow] = []
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
                        LoggedRow(
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
            LoggedRow(
                job=self.job, number=o.number, outcome=ImportRow.Outcome.CREATED, record_id=c.pk
            )
            for o, c in zip(to_create, created, strict=True)
        ]
        return rows

    def _update_company(self, o: RowOutcome, company_id: int) -> LoggedRow:
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
            return LoggedRow(
                job=self.job,
                number=o.number,
                outcome=ImportRow.Outcome.FAILED,
                errors=[
                    {"column": _field_column(self.job, exc.field or ""), "reason": exc.message}
                ],
            )
        return LoggedRow(
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
