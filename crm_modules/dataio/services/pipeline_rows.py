"""Rows of lead and deal imports: each checked as ``lead_create`` / ``deal_create`` would (the
deal's pipeline and stage found by name, its amount read with its currency, its contacts by
email or name), then a batch applied — duplicates found set-based, companies linked or
created, new records written in bulk, existing ones updated one savepoint each."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm_modules.dataio import mapping as columns
from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.services.row_log import LoggedRow
from crm_modules.sales import api as sales
from crm_platform.errors import ServiceError

if TYPE_CHECKING:
    from crm_modules.dataio.services.rows import RowOutcome, Runner


def name_key(text: str) -> str:
    """Names compared as people read them: case, spaces and punctuation aside (combining marks
    kept, so Thai and Devanagari names do not collapse)."""
    return "".join(
        char
        for char in unicodedata.normalize("NFC", text).casefold()
        if char.isalnum() or unicodedata.category(char).startswith("M")
    )


def _listing(names: list[str]) -> str:
    shown = ", ".join(f"“{name}”" for name in names[:12])
    return shown + (", …" if len(names) > 12 else "")


class Pipelines:
    """The workspace's pipelines and their stages, read once per batch."""

    def __init__(self) -> None:
        self.pipelines = list(sales.Pipeline.objects.order_by("position", "id"))
        stages = list(sales.Stage.objects.select_related("pipeline").order_by("position", "id"))
        self.stages: dict[int, list[Any]] = {p.pk: [] for p in self.pipelines}
        for stage in stages:
            self.stages.setdefault(stage.pipeline_id, []).append(stage)
        self.active = [p for p in self.pipelines if p.archived_at is None]

    def pipeline(self, raw: str) -> Any:
        key = name_key(raw)
        found = [p for p in self.pipelines if name_key(p.name) == key]
        if not found:
            raise ServiceError(
                _("No pipeline is named “%(name)s”. The pipelines are: %(names)s.")
                % {"name": raw[:100], "names": _listing([p.name for p in self.active])},
                field="pipeline",
            )
        active = [p for p in found if p.archived_at is None]
        if not active:
            raise ServiceError(
                _("The pipeline “%(name)s” is archived and takes no new deals.")
                % {"name": found[0].name},
                field="pipeline",
            )
        return active[0]

    def stage(self, raw: str, pipeline: Any) -> Any:
        if pipeline is None:
            if not self.active:
                raise ServiceError(
                    _("This workspace has no pipeline yet: create one before importing deals."),
                    field="stage",
                )
            if not raw:
                pipeline = self.active[0]
            else:
                key = name_key(raw)
                having = [
                    p
                    for p in self.active
                    if any(name_key(s.name) == key for s in self.stages[p.pk])
                ]
                if len(having) > 1 and self.active[0] not in having:
                    raise ServiceError(
                        _(
                            "Several pipelines have a stage named “%(name)s” (%(pipelines)s): "
                            "add a column with the pipeline's name."
                        )
                        % {"name": raw[:100], "pipelines": _listing([p.name for p in having])},
                        field="stage",
                    )
                pipeline = self.active[0] if not having or self.active[0] in having else having[0]
        stages = self.stages.get(pipeline.pk, [])
        if not raw:
            if not stages:
                raise ServiceError(_("Choose a stage."), field="stage", code="required")
            return stages[0]
        key = name_key(raw)
        for stage in stages:
            if name_key(stage.name) == key:
                return stage
        raise ServiceError(
            _(
                "The pipeline “%(pipeline)s” has no stage named “%(name)s”. "
                "Its stages are: %(names)s."
            )
            % {
                "pipeline": pipeline.name,
                "name": raw[:100],
                "names": _listing([s.name for s in stages]),
            },
            field="stage",
        )


class ContactReferences:
    """Contacts a deal row names, by email or by name; found for a whole batch at once and
    remembered (a miss too) so each row's check asks nothing more."""

    def __init__(self) -> None:
        self.by_email: dict[str, Any] = {}
        self.by_name: dict[str, list[Any]] = {}

    def load(self, *, emails: set[str], names: set[str]) -> None:
        emails = {e for e in emails if e not in self.by_email}
        if emails:
            found = (
                sales.ContactEmail.objects.filter(email__in=emails)
                .select_related("contact")
                .order_by("contact_id")
            )
            for item in found:
                self.by_email.setdefault(item.email, item.contact)
            for email in emails:
                self.by_email.setdefault(email, None)
        keys = {_contact_key(n) for n in names} - set(self.by_name)
        keys.discard("")
        if keys:
            # Name keys are indexed in their own table (ADR 0064).
            named = sales.ContactNameKey.objects.filter(name_key__in=keys).values("contact_id")
            for contact in sales.Contact.objects.filter(pk__in=named).order_by("id")[:5000]:
                self.by_name.setdefault(contact.name_key, []).append(contact)
            for key in keys:
                self.by_name.setdefault(key, [])


def _contact_key(name: str) -> str:
    first, last = columns.split_full_name(name)
    return sales.contact_name_key(first, last)


def _references(values: dict[str, str]) -> tuple[list[str], list[str]]:
    """(emails, names) a row's contact columns name; "Ana (ana@x.es)" counts as the email."""
    emails = [
        e.lower() for e in columns.split_references(values.get("contact_email", ""), commas=True)
    ]
    names: list[str] = []
    for item in columns.split_references(values.get("contact_name", ""), commas=False):
        embedded = columns.embedded_email(item)
        if embedded:
            emails.append(embedded.lower())
        else:
            names.append(item)
    return list(dict.fromkeys(emails)), names


# --- checking one row -----------------------------------------------------------------------


def check_lead(
    runner: Runner,
    outcome: RowOutcome,
    values: dict[str, str],
    owner_id: Any,
    custom: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    fields: dict[str, Any] = {
        name: values[name]
        for name in ("first_name", "last_name", "email", "phone", "source", "notes")
        if name in values
    }
    if "full_name" in values:
        first, last = columns.split_full_name(values["full_name"])
        fields.setdefault("first_name", first)
        fields.setdefault("last_name", last)
    if "company" in values:
        fields["company_name"] = values["company"]
    # A lead needs a source: the file it came from, when no column gives one.
    fields.setdefault("source", runner.job.file_name[:100])
    if "status" in values:
        status = columns.lead_status(values["status"], runner.lead_status_labels)
        if status is None:
            if columns.header_key(values["status"]) in columns.CONVERTED_STATUSES:
                raise ServiceError(
                    _(
                        "A converted lead cannot be imported: import it as a contact, or "
                        "choose another status."
                    ),
                    field="status",
                )
            raise ServiceError(
                _("“%(value)s” is not a lead status. Use one of: %(choices)s.")
                % {
                    "value": values["status"][:100],
                    "choices": _listing(list(runner.lead_status_labels.values())),
                },
                field="status",
            )
        fields["status"] = status
    draft = sales.lead_check_draft(
        actor=runner.actor,
        owner_id=owner_id,
        members=runner.members,
        custom_fields=custom,
        definitions=runner.definitions,
        **fields,
    )
    stored = dict(draft.fields)
    stored["company"] = stored.pop("company_name", "")
    if "status" in stored:
        stored["status"] = runner.lead_status_labels.get(stored["status"], stored["status"])
    return draft, stored


def check_deal(
    runner: Runner,
    outcome: RowOutcome,
    values: dict[str, str],
    owner_id: Any,
    custom: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    pipelines = runner.pipelines()
    pipeline = pipelines.pipeline(values["pipeline"]) if "pipeline" in values else None
    stage = pipelines.stage(values.get("stage", ""), pipeline)
    amount: str | None = None
    currency = values.get("currency", "")
    if "amount" in values:
        try:
            amount, named = columns.parse_amount(values["amount"])
        except ValueError:
            raise ServiceError(
                _("“%(value)s” is not an amount: write a number such as 1250.00 or 1.250,00 €.")
                % {"value": values["amount"][:40]},
                field="amount",
            ) from None
        if named and currency and named != currency.strip().upper():
            raise ServiceError(
                _("The amount is in %(named)s but the currency column says %(currency)s.")
                % {"named": named, "currency": currency[:10]},
                field="amount",
            )
        currency = currency or named
    outcome.currency_named = bool(currency)
    close_date = ""
    if "expected_close_date" in values:
        try:
            close_date = columns.parse_date(values["expected_close_date"], runner.job.date_format)
        except ValueError:
            raise ServiceError(
                _(
                    "“%(value)s” is not a date in the format %(format)s; choose the file's date "
                    "format on the mapping page."
                )
                % {
                    "value": values["expected_close_date"][:40],
                    "format": columns.DATE_FORMATS[runner.job.date_format][1],
                },
                field="expected_close_date",
            ) from None
    emails, names = _references(values)
    references = runner.contact_references
    references.load(emails=set(emails), names=set(names))
    by_email: list[Any] = []
    for email in emails:
        found = references.by_email.get(email)
        if found is None:
            raise ServiceError(
                _("No contact has the email “%(email)s”: import the contacts first.")
                % {"email": email[:100]},
                field="contact_email",
            )
        by_email.append(found)
    by_name: list[Any] = []
    for name in names:
        matches = references.by_name.get(_contact_key(name), [])
        if not matches:
            raise ServiceError(
                _("No contact is named “%(name)s”: import the contacts first.")
                % {"name": name[:100]},
                field="contact_name",
            )
        if len({c.pk for c in matches}) > 1:
            raise ServiceError(
                _("Several contacts are named “%(name)s”: give their emails instead.")
                % {"name": name[:100]},
                field="contact_name",
            )
        by_name.append(matches[0])
    contacts = by_email + by_name
    draft = sales.deal_check_draft(
        actor=runner.actor,
        name=values.get("name", ""),
        stage=stage,
        amount=amount,
        currency=currency or None,
        expected_close_date=close_date or None,
        lost_reason=values.get("lost_reason", ""),
        contacts=contacts,
        owner_id=owner_id,
        custom_fields=custom,
        members=runner.members,
        definitions=runner.definitions,
    )
    outcome.company_name = values.get("company", "")
    outcome.company_domain = values.get("company_domain", "").lower()
    stored = dict(draft.fields)
    stored["pipeline"] = stage.pipeline.name
    stored["stage"] = stage.name
    stored["amount"] = f"{draft.fields['amount']} {draft.fields['currency']}"
    stored.pop("currency")
    stored["currency"] = draft.fields["currency"] if "currency" in values else ""
    stored["company"] = outcome.company_name
    stored["company_domain"] = outcome.company_domain
    # Each contact column shows whom it linked ("Name (email)" cells count as names).
    in_email_column = {
        e.lower() for e in columns.split_references(values.get("contact_email", ""), commas=True)
    }
    linked = list(zip(emails, by_email, strict=True))
    stored["contact_email"] = ", ".join(str(c) for e, c in linked if e in in_email_column)
    stored["contact_name"] = ", ".join(
        [str(c) for e, c in linked if e not in in_email_column] + [str(c) for c in by_name]
    )
    return draft, stored


def prefetch_deal_references(runner: Runner, batch: list[tuple[int, list[str]]]) -> None:
    """Find every contact a batch of deal rows names with two queries, before the rows are
    checked one by one."""
    emails: set[str] = set()
    names: set[str] = set()
    for _number, cells in batch:
        parsed = columns.row_values(
            mapping=runner.job.mapping, headers=runner.job.headers, row=cells
        )
        row_emails, row_names = _references(parsed.values)
        emails.update(row_emails)
        names.update(row_names)
    runner.contact_references.load(emails=emails, names=names)


# --- applying a batch -----------------------------------------------------------------------


def _row(job: ImportJob, o: RowOutcome, outcome: str, record_id: int | None) -> LoggedRow:
    return LoggedRow(job=job, number=o.number, outcome=outcome, record_id=record_id)


def _failed(runner: Runner, o: RowOutcome, exc: ServiceError) -> LoggedRow:
    from crm_modules.dataio.services.rows import _field_column

    return LoggedRow(
        job=runner.job,
        number=o.number,
        outcome=ImportRow.Outcome.FAILED,
        errors=[{"column": _field_column(runner.job, exc.field or ""), "reason": exc.message}],
    )


def apply_leads(runner: Runner, valid: list[RowOutcome]) -> list[LoggedRow]:
    """A lead is a duplicate of one with the same email, else the same phone."""
    job = runner.job
    policy = job.duplicates
    emails = {o.draft.fields["email"] for o in valid if o.draft.fields.get("email")}
    phones = {o.draft.fields["phone"] for o in valid if o.draft.fields.get("phone")}
    by_email: dict[str, int] = {}
    by_phone: dict[str, int] = {}
    if emails:
        for email, pk in (
            sales.Lead.objects.filter(email__in=emails).order_by("id").values_list("email", "id")
        ):
            by_email.setdefault(email, pk)
    if phones:
        for phone, pk in (
            sales.Lead.objects.filter(phone__in=phones).order_by("id").values_list("phone", "id")
        ):
            by_phone.setdefault(phone, pk)
    rows: list[LoggedRow] = []
    to_create: list[RowOutcome] = []
    seen: set[tuple[str, str]] = set()
    for o in valid:
        keys = [
            (kind, o.draft.fields[kind]) for kind in ("email", "phone") if o.draft.fields.get(kind)
        ]
        existing = by_email.get(o.draft.fields.get("email") or "") or by_phone.get(
            o.draft.fields.get("phone") or ""
        )
        earlier = any(key in seen for key in keys)
        if policy != ImportJob.Duplicates.CREATE and (existing or earlier):
            if policy == ImportJob.Duplicates.UPDATE and existing:
                rows.append(_update_lead(runner, o, existing))
            else:
                rows.append(_row(job, o, ImportRow.Outcome.SKIPPED, existing))
            continue
        seen.update(keys)
        to_create.append(o)
    created = sales.leads_bulk_create(actor=runner.actor, drafts=[o.draft for o in to_create])
    rows += [
        _row(job, o, ImportRow.Outcome.CREATED, lead.pk)
        for o, lead in zip(to_create, created, strict=True)
    ]
    return rows


def _update_lead(runner: Runner, o: RowOutcome, lead_id: int) -> LoggedRow:
    from crm_modules.dataio.services.rows import _jsonable

    lead = sales.Lead.objects.get(pk=lead_id)
    changes: dict[str, Any] = {
        name: value
        for name, value in o.draft.fields.items()
        if value not in ("", None) and name != "custom"
    }
    if "source" not in runner.job.mapping.values():
        changes.pop("source", None)
    previous: dict[str, Any] = {name: getattr(lead, name) for name in changes}
    if o.draft.fields.get("custom"):
        changes["custom_fields"] = o.draft.fields["custom"]
        previous["custom"] = lead.custom
    if o.draft.owner_id != lead.owner_id and "owner_email" in runner.job.mapping.values():
        changes["owner"] = o.draft.owner_id
        previous["owner"] = lead.owner_id
    try:
        with transaction.atomic():
            sales.lead_update(actor=runner.actor, lead=lead, changes=changes)
    except ServiceError as exc:
        return _failed(runner, o, exc)
    row = _row(runner.job, o, ImportRow.Outcome.UPDATED, lead_id)
    row.previous = _jsonable(previous)
    return row


def apply_deals(runner: Runner, valid: list[RowOutcome]) -> list[LoggedRow]:
    """A deal is a duplicate of one with the same name in the same pipeline for the same
    company (or both without one)."""
    job = runner.job
    policy = job.duplicates
    created_companies = runner._companies_for(valid)
    names = {o.draft.fields["name"] for o in valid if not o.errors}
    existing: dict[tuple[str, int, int | None], int] = {}
    if names:
        for name, pipeline_id, company_id, pk in (
            sales.Deal.objects.filter(name__in=names)
            .order_by("id")
            .values_list("name", "pipeline_id", "company_id", "id")
        ):
            existing.setdefault((name, pipeline_id, company_id), pk)
    rows: list[LoggedRow] = []
    to_create: list[RowOutcome] = []
    seen: set[tuple[str, int, int | None]] = set()
    for o in valid:
        if o.errors:
            rows.append(runner._failed(o))
            continue
        draft = o.draft
        key = (
            draft.fields["name"],
            draft.stage.pipeline_id,
            draft.company.pk if draft.company else None,
        )
        match = existing.get(key)
        if policy != ImportJob.Duplicates.CREATE and (match or key in seen):
            if policy == ImportJob.Duplicates.UPDATE and match:
                rows.append(_update_deal(runner, o, match))
            else:
                rows.append(_row(job, o, ImportRow.Outcome.SKIPPED, match))
            continue
        seen.add(key)
        to_create.append(o)
    created = sales.deals_bulk_create(actor=runner.actor, drafts=[o.draft for o in to_create])
    for o, deal in zip(to_create, created, strict=True):
        row = _row(job, o, ImportRow.Outcome.CREATED, deal.pk)
        row.created_companies = created_companies.get(o.number, [])
        rows.append(row)
    kept = {o.number for o in to_create}
    for row in rows:
        if row.number not in kept and row.number in created_companies:
            # A company created for a row that ended skipped or updated still belongs to the
            # import (its undo removes it).
            row.created_companies = created_companies[row.number]
    return rows


def _update_deal(runner: Runner, o: RowOutcome, deal_id: int) -> LoggedRow:
    from crm_modules.dataio.services.rows import _jsonable

    draft = o.draft
    deal = sales.Deal.objects.get(pk=deal_id)
    mapped = set(runner.job.mapping.values())
    changes: dict[str, Any] = {}
    previous: dict[str, Any] = {}
    if "amount" in mapped:
        changes["amount"] = draft.fields["amount"]
        previous["amount"] = str(deal.amount)
    if o.currency_named:
        changes["currency"] = draft.fields["currency"]
        previous["currency"] = deal.currency
    if draft.fields["expected_close_date"] is not None:
        changes["expected_close_date"] = draft.fields["expected_close_date"]
        previous["expected_close_date"] = (
            deal.expected_close_date.isoformat() if deal.expected_close_date else None
        )
    current_contacts = list(deal.contacts.order_by("id").values_list("id", flat=True))
    new_contacts = [c.pk for c in draft.contacts if c.pk not in current_contacts]
    if new_contacts:
        changes["contacts"] = current_contacts + new_contacts
        previous["contacts"] = current_contacts
    if draft.fields.get("custom"):
        changes["custom_fields"] = draft.fields["custom"]
        previous["custom"] = deal.custom
    if draft.owner_id != deal.owner_id and "owner_email" in mapped:
        changes["owner"] = draft.owner_id
        previous["owner"] = deal.owner_id
    moved = "stage" in mapped and draft.stage.pk != deal.stage_id
    if moved:
        previous["stage"] = deal.stage_id
        previous["lost_reason"] = deal.lost_reason
    try:
        with transaction.atomic():
            if changes:
                deal = sales.deal_update(actor=runner.actor, deal=deal, changes=changes)
            if moved:
                sales.deal_move_stage(
                    actor=runner.actor,
                    deal=deal,
                    stage=draft.stage,
                    lost_reason=draft.fields["lost_reason"],
                )
    except ServiceError as exc:
        return _failed(runner, o, exc)
    row = _row(runner.job, o, ImportRow.Outcome.UPDATED, deal_id)
    row.previous = _jsonable(previous)
    return row


def undo_update(*, actor: Any, entity: str, record: Any, changes: dict[str, Any]) -> None:
    """Put back what an import's update of a lead or deal replaced."""
    if entity == "lead":
        sales.lead_update(actor=actor, lead=record, changes=changes)
        return
    stage = changes.pop("stage", None)
    lost_reason = changes.pop("lost_reason", "")
    if changes:
        record = sales.deal_update(actor=actor, deal=record, changes=changes)
    if stage is not None:
        sales.deal_move_stage(actor=actor, deal=record, stage=stage, lost_reason=lost_reason)
