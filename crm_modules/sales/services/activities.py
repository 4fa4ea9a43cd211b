from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.urls import reverse
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.sales.models import Company, Contact, Deal, Lead
from crm_modules.sales.module import ACTIVITIES_TOPIC, VIEW_RECORDS
from crm_modules.sales.services.reminders import mentioned_members, mentions_notify
from crm_modules.sales.services.scores import score_inputs_changed
from crm_platform.errors import ServiceError
from tenants.live import publish
from tenants.models import Membership
from tenants.permissions import require


def _related(record: Model) -> list[Any]:
    """What else an entry on ``record`` concerns: a deal's contacts and company, a contact's
    company, so every one of them shows it (D18)."""
    if isinstance(record, Deal):
        related: list[Any] = list(record.contacts.all())
        if record.company_id is not None:
            related.append(("sales.company", record.company_id))
        return related
    if isinstance(record, Contact) and record.company_id is not None:
        return [("sales.company", record.company_id)]
    return []


def record_log_activity(
    *,
    actor: Membership,
    record: Company | Contact | Deal | Lead,
    kind: str,
    subject: str = "",
    body: str = "",
    direction: str = "",
    outcome: str = "",
    occurred_at: datetime.datetime | None = None,
) -> timeline.Activity:
    """Log a call, meeting, email, message or note on a record a member can see."""
    require(actor, timeline.LOG_ACTIVITY)
    require(actor, VIEW_RECORDS, record)
    entry = timeline.entry_type(kind)
    if entry is None or not entry.manual:
        raise ServiceError(_("Choose a type of activity from the list."), field="kind")
    if len(body) > 20_000:
        raise ServiceError(_("The details can be at most 20000 characters."), field="body")
    if not (subject.strip() or body.strip()):
        raise ServiceError(_("Write a subject or some details."), field="subject", code="required")
    mentioned = mentioned_members(actor=actor, record=record, text=f"{subject}\n{body}")
    related = _related(record)
    with transaction.atomic():
        activity = timeline.activity_log(
            kind=kind,
            author=actor.user,
            concerns=[record, *related],
            subject=subject.strip(),
            body=body,
            channel={"call": "phone", "email": "email", "meeting": "meeting"}.get(kind, ""),
            direction=direction,
            outcome=outcome[:100],
            occurred_at=occurred_at,
            data={"mentions": [m.user_id for m in mentioned]} if mentioned else None,
        )
        publish(
            tenant=actor.tenant,
            topic=ACTIVITIES_TOPIC,
            event="activity.logged",
            payload={"id": activity.pk, "kind": kind},
            owners=[getattr(concerned, "owner_id", None) for concerned in (record, *related)],
        )
        if mentioned:
            page = RECORD_PAGES[type(record)]
            mentions_notify(
                actor=actor,
                record=record,
                members=mentioned,
                url_path=reverse(page, args=[record.pk]),
            )
        # Engagement counts in lead scores: the records it concerns are scored again.
        scored = [record, *related]
        score_inputs_changed(entity="contact", ids=[r.pk for r in scored if isinstance(r, Contact)])
        score_inputs_changed(entity="lead", ids=[r.pk for r in scored if isinstance(r, Lead)])
    return activity


RECORD_PAGES: dict[type[Model], str] = {
    Company: "sales:company_detail",
    Contact: "sales:contact_detail",
    Deal: "sales:deal_detail",
    Lead: "sales:lead_detail",
}
