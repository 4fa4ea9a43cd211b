"""Activities and notes in imports, written through the timeline's facade (D18):

- a file of activities (calls, meetings, emails, messages, notes), each linked to existing
  contacts (by email or name), a company (by name or domain) or a deal (by name);
- a note column on a row of contacts, companies, leads or deals: one note on the timeline of
  the record the row created or updated.

What an import wrote this way is in its ``ImportRow`` rows, so its undo removes it."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import TYPE_CHECKING, Any

from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.dataio import mapping as columns
from crm_modules.dataio.models import ImportJob, ImportRow
from crm_modules.dataio.services.pipeline_rows import _contact_key, _listing, _references
from crm_modules.dataio.services.row_log import LoggedRow
from crm_modules.sales import api as sales
from crm_platform.errors import ServiceError

if TYPE_CHECKING:
    from crm_modules.dataio.services.rows import RowOutcome, Runner

NOTE_MAX = 20_000
_KINDS = {
    "call": ("call", "calls", "phonecall", "phone", "loggedcall"),
    "meeting": ("meeting", "meetings", "event", "appointment", "lunch"),
    "email": ("email", "emails", "mail", "loggedemail", "emailsent"),
    "message": ("message", "messages", "sms", "chat", "whatsapp", "linkedinmessage", "text"),
    "note": ("note", "notes", "comment"),
}
_DIRECTIONS = {
    "inbound": ("inbound", "incoming", "in", "received"),
    "outbound": ("outbound", "outgoing", "out", "sent"),
}
_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p", "%I %p", "%I:%M%p")


def _zone(runner: Runner) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(runner.actor.tenant.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def parse_when(
    raw: str, raw_time: str, *, date_format: str, zone: datetime.tzinfo
) -> datetime.datetime:
    """A date (and time) as files write them; a time without a zone is the workspace's.
    Raise ValueError otherwise."""
    text = raw.strip()
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if "T" in text or len(text) > 10:
            return value if timezone.is_aware(value) else value.replace(tzinfo=zone)
    except ValueError:
        pass
    date_part, _sep, time_part = text.partition(" ")
    day = datetime.date.fromisoformat(columns.parse_date(date_part, date_format))
    moment = (raw_time.strip() or time_part.strip()).upper()
    clock = datetime.time(0, 0)
    if moment:
        for pattern in _TIME_FORMATS:
            try:
                clock = datetime.datetime.strptime(moment, pattern).time()  # noqa: DTZ007
                break
            except ValueError:
                continue
        else:
            raise ValueError(moment)
    return datetime.datetime.combine(day, clock, tzinfo=zone)


def _kind(raw: str) -> str | None:
    key = columns.header_key(raw)
    for entry in timeline.entry_types(manual=True):
        if key in (columns.header_key(entry.code), columns.header_key(str(entry.label))):
            return entry.code
    for code, names in _KINDS.items():
        if key in names:
            return code
    return None


def _direction(raw: str) -> str | None:
    key = columns.header_key(raw)
    for code, names in _DIRECTIONS.items():
        if key in names or key == columns.header_key(_(code.capitalize())):
            return code
    return None


class Links:
    """Companies and deals an activity file names, looked up once per name."""

    def __init__(self) -> None:
        self.companies: dict[str, list[int]] = {}
        self.deals: dict[str, list[Any]] = {}

    def company(self, name: str, domain: str) -> list[int]:
        key = f"d:{domain}" if domain else f"n:{name.lower()}"
        if key not in self.companies:
            found = sales.Company.objects.all()
            found = (
                found.filter(domain=domain)
                if domain
                else found.annotate(lower_name=Lower("name")).filter(lower_name=name.lower())
            )
            self.companies[key] = list(found.order_by("id").values_list("id", flat=True)[:2])
        return self.companies[key]

    def deal(self, name: str) -> list[Any]:
        if name not in self.deals:
            found = sales.Deal.objects.filter(name=name).order_by("id")[:2]
            self.deals[name] = [
                (deal.pk, deal.company_id, [c.pk for c in deal.contacts.all()]) for deal in found
            ]
        return self.deals[name]


def check_activity(
    runner: Runner, outcome: RowOutcome, values: dict[str, str]
) -> tuple[Any, dict[str, Any]]:
    """One row of an activities file → an ``ActivityInput`` (nothing written)."""
    stored: dict[str, Any] = {}
    kind = "note"
    if "kind" in values:
        found = _kind(values["kind"])
        if found is None:
            raise ServiceError(
                _("“%(value)s” is not a type of activity. Use one of: %(choices)s.")
                % {
                    "value": values["kind"][:60],
                    "choices": _listing([str(e.label) for e in timeline.entry_types(manual=True)]),
                },
                field="kind",
            )
        kind = found
    stored["kind"] = str(getattr(timeline.entry_type(kind), "label", kind))
    when = timezone.now()
    if "occurred_at" in values:
        try:
            when = parse_when(
                values["occurred_at"],
                values.get("occurred_time", ""),
                date_format=runner.job.date_format,
                zone=_zone(runner),
            )
        except ValueError:
            raise ServiceError(
                _(
                    "“%(value)s” is not a date in the format %(format)s; choose the file's date "
                    "format on the mapping page."
                )
                % {
                    "value": values["occurred_at"][:40],
                    "format": columns.DATE_FORMATS[runner.job.date_format][1],
                },
                field="occurred_at",
            ) from None
        stored["occurred_at"] = when.isoformat(timespec="minutes")
    direction = ""
    if "direction" in values:
        found_direction = _direction(values["direction"])
        if found_direction is None:
            raise ServiceError(
                _("“%(value)s” is not a direction: write inbound or outbound.")
                % {"value": values["direction"][:40]},
                field="direction",
            )
        direction = found_direction
        stored["direction"] = direction
    author_id: int | None = runner.actor.user_id
    if "author_email" in values:
        author_id = runner.member_emails.get(values["author_email"].lower())
        if author_id is None:
            raise ServiceError(
                _("No member of this workspace has the email “%(email)s”.")
                % {"email": values["author_email"][:100]},
                field="author_email",
            )
        stored["author_email"] = values["author_email"].lower()
    concerns: list[tuple[str, int]] = []
    emails, names = _references(values)
    references = runner.contact_references
    references.load(emails=set(emails), names=set(names))
    for email in emails:
        contact = references.by_email.get(email)
        if contact is None:
            raise ServiceError(
                _("No contact has the email “%(email)s”: import the contacts first.")
                % {"email": email[:100]},
                field="contact_email",
            )
        concerns.append(("sales.contact", contact.pk))
        if contact.company_id:
            concerns.append(("sales.company", contact.company_id))
    for name in names:
        matches = references.by_name.get(_contact_key(name), [])
        if len({c.pk for c in matches}) != 1:
            raise ServiceError(
                (
                    _("No contact is named “%(name)s”: import the contacts first.")
                    if not matches
                    else _("Several contacts are named “%(name)s”: give their emails instead.")
                )
                % {"name": name[:100]},
                field="contact_name",
            )
        concerns.append(("sales.contact", matches[0].pk))
        if matches[0].company_id:
            concerns.append(("sales.company", matches[0].company_id))
    if values.get("company") or values.get("company_domain"):
        companies = runner.activity_links.company(
            values.get("company", ""), values.get("company_domain", "").lower()
        )
        label = values.get("company_domain") or values.get("company", "")
        if len(companies) != 1:
            raise ServiceError(
                (
                    _("No company is named “%(name)s”: import the companies first.")
                    if not companies
                    else _("Several companies are named “%(name)s”: give their domain instead.")
                )
                % {"name": label[:100]},
                field="company_domain" if values.get("company_domain") else "company",
            )
        concerns.append(("sales.company", companies[0]))
    if values.get("deal"):
        deals = runner.activity_links.deal(values["deal"])
        if len(deals) != 1:
            raise ServiceError(
                (
                    _("No deal is named “%(name)s”: import the deals first.")
                    if not deals
                    else _("Several deals are named “%(name)s”.")
                )
                % {"name": values["deal"][:100]},
                field="deal",
            )
        deal_id, company_id, contact_ids = deals[0]
        concerns.append(("sales.deal", deal_id))
        if company_id:
            concerns.append(("sales.company", company_id))
        concerns += [("sales.contact", pk) for pk in contact_ids]
    if not concerns:
        raise ServiceError(
            _("Name the contact, company or deal the activity concerns."),
            field="contact_email",
            code="required",
        )
    subject = values.get("subject", "")
    body = values.get("body", "")
    if not (subject or body):
        raise ServiceError(
            _("Write a subject or some details."),
            field="subject" if "subject" in values or "body" not in values else "body",
            code="required",
        )
    entry = timeline.ActivityInput(
        kind=kind,
        concerns=tuple(dict.fromkeys(concerns)),
        occurred_at=when,
        subject=subject,
        body=body,
        channel={"call": "phone", "email": "email", "meeting": "meeting"}.get(kind, ""),
        direction=direction,
        outcome=values.get("outcome", "")[:100],
        author_id=author_id,
    )
    timeline.activity_check(entry)
    stored.update(
        {
            "subject": subject,
            "body": body,
            "outcome": entry.outcome,
            "contact_email": ", ".join(emails),
            "contact_name": ", ".join(names),
            "company": values.get("company", ""),
            "company_domain": values.get("company_domain", ""),
            "deal": values.get("deal", ""),
        }
    )
    return entry, stored


def prefetch_activity_references(runner: Runner, batch: list[tuple[int, list[str]]]) -> None:
    from crm_modules.dataio.services.pipeline_rows import prefetch_deal_references

    prefetch_deal_references(runner, batch)


def apply_activities(runner: Runner, valid: list[RowOutcome]) -> list[LoggedRow]:
    """Write a batch's activities in one go. With "skip" or "update", an activity already on
    the timeline (same type, time and subject on the same first record) is skipped."""
    job = runner.job
    keys = {
        o.number: (o.draft.kind, o.draft.occurred_at, o.draft.subject, *o.draft.concerns[0])
        for o in valid
    }
    existing: set[Any] = set()
    if job.duplicates != ImportJob.Duplicates.CREATE:
        existing = timeline.activities_existing(set(keys.values()))
    rows: list[LoggedRow] = []
    to_create: list[RowOutcome] = []
    seen: set[Any] = set()
    for o in valid:
        key = keys[o.number]
        if job.duplicates != ImportJob.Duplicates.CREATE and (key in existing or key in seen):
            rows.append(LoggedRow(job=job, number=o.number, outcome=ImportRow.Outcome.SKIPPED))
            continue
        seen.add(key)
        to_create.append(o)
    ids = timeline.activities_log_many([o.draft for o in to_create])
    rows += [
        LoggedRow(job=job, number=o.number, outcome=ImportRow.Outcome.CREATED, record_id=pk)
        for o, pk in zip(to_create, ids, strict=True)
    ]
    return rows


# --- a note column on a row of records ------------------------------------------------------


def check_note(values: dict[str, str]) -> str:
    note = values.get("note", "")
    if len(note) > NOTE_MAX:
        raise ServiceError(
            _("A note can be at most %(max)d characters.") % {"max": NOTE_MAX}, field="note"
        )
    return note


def write_notes(runner: Runner, outcomes: list[RowOutcome], rows: list[LoggedRow]) -> None:
    """One note on the timeline of each record a row created or updated, linked as a note
    logged by hand would be (a contact's company, a deal's company and contacts too)."""
    notes = {o.number: o for o in outcomes if o.note}
    if not notes:
        return
    entity = runner.job.entity
    kinds = {"contact": "sales.contact", "company": "sales.company", "lead": "sales.lead"}
    now = timezone.now()
    written: list[tuple[LoggedRow, timeline.ActivityInput]] = []
    for row in rows:
        o = notes.get(row.number)
        if o is None or row.record_id is None:
            continue
        if row.outcome not in (ImportRow.Outcome.CREATED, ImportRow.Outcome.UPDATED):
            continue
        concerns: list[tuple[str, int]] = [(kinds.get(entity, "sales.deal"), row.record_id)]
        company = getattr(o.draft, "company", None)
        if company is not None:
            concerns.append(("sales.company", company.pk))
        concerns += [("sales.contact", c.pk) for c in getattr(o.draft, "contacts", [])]
        written.append(
            (
                row,
                timeline.ActivityInput(
                    kind=timeline.NOTE.code,
                    concerns=tuple(dict.fromkeys(concerns)),
                    occurred_at=now,
                    body=o.note,
                    author_id=runner.actor.user_id,
                ),
            )
        )
    ids = timeline.activities_log_many([entry for _row, entry in written])
    for (row, _entry), pk in zip(written, ids, strict=True):
        row.created_activities = [pk]
